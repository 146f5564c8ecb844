"""A labelled corpus for measuring field extraction: invoices, receipts and contracts in varied
layouts, fonts, currencies and date formats, each as a text PDF and some also as scans (image
pages: skewed, turned, noisy). Generated from a seed, so every run measures the same documents.

Each kind comes in more than one layout, so the benchmark does not only measure the layout the
analyzer was first written against: invoices as a plain letter (``classic``), as a key/value
table with the vendor top right and a due date beside the issue date (``table``), and in the
European style (decimal commas, dotted dates, ``European``); receipts as a plain list
(``classic``) or a till slip with no date label (``till``); contracts as short clauses
(``simple``) or as wrapped paragraphs in formal wording (``formal``). A line's cells are
separated by tabs: the first starts at the left margin, the last is right-aligned.
"""

from __future__ import annotations

import io
import random
import textwrap
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

VENDORS = ["ACME Tools Ltd", "Northwind Traders", "Globex Supplies GmbH", "Initech Services",
           "Umbrella Logistics", "Stark Components Inc", "Wayne Office Supply",
           "Hooli Cloud Ltd"]  # fmt: skip
MERCHANTS = ["Corner Coffee", "Green Grocer", "City Books", "Fuel Stop 24", "Bakery Lumiere"]
PARTIES = [("Initech LLC", "Hooli Inc."), ("Acme Corp", "Globex Ltd"),
           ("Wayne Enterprises", "Stark Industries"),
           ("Vandelay Imports", "Kramerica")]  # fmt: skip
FONTS = ["Helvetica", "Times", "Courier"]
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]  # fmt: skip
# How an amount is written, per currency: (code, formatter of a Decimal-like float).
MONEY = [
    ("EUR", lambda v: f"EUR {v:,.2f}"),
    ("EUR", lambda v: f"€{v:,.2f}".replace(",", " ")),
    ("USD", lambda v: f"${v:,.2f}"),
    ("USD", lambda v: f"{v:,.2f} USD"),
    ("GBP", lambda v: f"£{v:,.2f}"),
    ("CHF", lambda v: f"CHF {v:,.2f}"),
]
# The European style: 1.234,56 with the code or symbol after the amount.
EUROPEAN_MONEY = [
    ("EUR", lambda v: _european(v) + " EUR"),
    ("EUR", lambda v: _european(v) + " €"),
    ("CHF", lambda v: "CHF " + _european(v)),
]
WRAP = 80  # characters per line of a wrapped paragraph


def _european(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


@dataclass(frozen=True)
class Document:
    name: str
    kind: str  # invoice | receipt | contract
    layout: str
    lines: list[str]  # tab-separated cells
    expected: dict[str, Any]  # field -> value, as the analyzer reports it
    font: str = "Helvetica"
    scan: dict[str, Any] = field(default_factory=dict)  # empty: a text PDF


def _date_text(rng: random.Random, day: date, european: bool = False, us: bool = False) -> str:
    if european:
        return rng.choice(
            [f"{day.day:02d}.{day.month:02d}.{day.year}", f"{day.day}.{day.month}.{day.year}"]
        )
    # With dollars, the month first, as the US writes it (the generator once wrote the day
    # first there, which no US document does).
    numeric = f"{day.month:02d}/{day.day:02d}" if us else f"{day.day:02d}/{day.month:02d}"
    return rng.choice([
        day.isoformat(),
        f"{numeric}/{day.year}",
        f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}",
        f"{day.day} {MONTH_NAMES[day.month - 1][:3]} {day.year}",
    ])  # fmt: skip


def _day(rng: random.Random) -> date:
    return date(rng.choice([2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28))


def invoice(rng: random.Random, n: int, layout: str) -> Document:
    vendor = rng.choice(VENDORS)
    number = f"INV-{rng.randint(2023, 2025)}-{rng.randint(1, 9999):04d}"
    day = _day(rng)
    european = layout == "European"
    code, money = rng.choice(EUROPEAN_MONEY if european else MONEY)
    items = [(rng.choice(["Steel hammers", "Consulting hours", "Safety gloves", "Licences",
                          "Shipping"]), rng.randint(1, 20), rng.randint(500, 90000) / 100)
             for _ in range(rng.randint(1, 4))]  # fmt: skip
    subtotal = round(sum(q * p for _, q, p in items), 2)
    vat = round(subtotal * 0.2, 2) if rng.random() < 0.5 else 0.0
    total = round(subtotal + vat, 2)
    street = f"{rng.randint(1, 99)} {rng.choice(['Forge', 'High', 'Mill'])} Street"
    customer = rng.choice(PARTIES)[1]
    issued = _date_text(rng, day, european, us=code == "USD")
    if layout == "table":
        due = _date_text(rng, day + timedelta(days=30), us=code == "USD")
        dates = [f"Issue date\t{issued}", f"Due date\t{due}"]
        lines = [f"\t{vendor}", f"\t{street}", "", "INVOICE", f"Invoice number\t{number}",
                 *(dates if rng.random() < 0.5 else dates[::-1]), f"Customer\t{customer}", "",
                 "Description\tQty\tUnit price\tAmount"]  # fmt: skip
        lines += [f"{name}\t{qty}\t{money(price)}\t{money(qty * price)}"
                  for name, qty, price in items]  # fmt: skip
        lines.append("")
        if vat:
            lines += [f"Subtotal\t{money(subtotal)}", f"Tax (20%)\t{money(vat)}"]
        lines += [f"{rng.choice(['TOTAL', 'Total due', 'Balance due'])}\t{money(total)}"]
    else:
        number_label = rng.choice(["Invoice Number:", "Invoice No.", "Invoice #", "Invoice no:"])
        date_label = rng.choice(["Invoice Date:", "Date:", "Date of issue:"])
        total_label = rng.choice(["Total:", "Total due:", "Amount due:", "Grand total:"])
        lines = [vendor, street, "", "INVOICE", f"{number_label} {number}",
                 f"{date_label} {issued}", f"Bill To: {customer}", "",
                 "Description    Qty    Amount"]  # fmt: skip
        lines += [f"{name}    {qty}    {money(qty * price)}" for name, qty, price in items]
        lines.append("")
        if vat:
            lines += [f"Subtotal: {money(subtotal)}", f"VAT 20%: {money(vat)}"]
        lines += [f"{total_label} {money(total)}", "Payment within 30 days. Thank you."]
    expected = {"vendor": vendor, "number": number, "date": day.isoformat(),
                "total": f"{total:.2f}", "currency": code}  # fmt: skip
    return Document(f"invoice-{n:02d}", "invoice", layout, lines, expected, rng.choice(FONTS))


def receipt(rng: random.Random, n: int, layout: str) -> Document:
    merchant = rng.choice(MERCHANTS)
    day = _day(rng)
    code, money = rng.choice(MONEY)
    items = [(rng.choice(["Flat white", "Croissant", "Notebook", "Diesel", "Baguette"]),
              rng.randint(150, 6000) / 100) for _ in range(rng.randint(1, 4))]  # fmt: skip
    total = round(sum(p for _, p in items), 2)
    if layout == "till":
        lines = [merchant, f"{rng.randint(1, 99)} Market Square",
                 f"{_date_text(rng, day, us=code == 'USD')}  {rng.randint(8, 20)}:"
                 f"{rng.randint(0, 59):02d}"
                 f"  Till {rng.randint(1, 6)}", ""]  # fmt: skip
        lines += [f"{name}\t{money(price)}" for name, price in items]
        lines += ["", f"TOTAL\t{money(total)}", f"CARD\t{money(total)}", f"CHANGE\t{money(0)}",
                  "Thank you, see you soon"]  # fmt: skip
    else:
        lines = [merchant, "Receipt", f"Date: {_date_text(rng, day, us=code == 'USD')}"]
        lines += [f"{name}      {money(price)}" for name, price in items]
        lines += [f"{rng.choice(['Total:', 'TOTAL', 'Amount paid:'])} {money(total)}",
                  "Paid by card. Thank you for your purchase!"]  # fmt: skip
    expected = {"merchant": merchant, "date": day.isoformat(), "total": f"{total:.2f}",
                "currency": code}  # fmt: skip
    return Document(f"receipt-{n:02d}", "receipt", layout, lines, expected, rng.choice(FONTS))


def contract(rng: random.Random, n: int, layout: str) -> Document:
    first, second = rng.choice(PARTIES)
    months = rng.choice([6, 12, 24, 36])
    term = rng.choice([f"{months} months", f"{months // 12} years" if months >= 24 else
                       f"{months} months"])  # fmt: skip
    _code, money = rng.choice(MONEY)
    fees = rng.randint(1000, 20000) * 1.0
    if layout == "formal":
        paragraphs = [
            f'This Master Services Agreement (the "Agreement") is entered into on '
            f'{_date_text(rng, _day(rng))} by and between {first} ("Client") and {second} '
            f'("Provider"), each a "Party" and together the "Parties".',
            "WHEREAS the Client wishes to engage the Provider, and the Provider agrees to provide "
            "the services set out in Schedule A, the Parties hereby agree as follows.",
            f"1. Term. This Agreement shall remain in force for a period of {term} from the "
            "effective date unless terminated earlier in accordance with clause 5.",
            f"2. Fees. The Client shall pay the Provider a monthly fee of {money(fees)}, payable "
            "within thirty days of receipt of each invoice.",
            "3. Governing law. This Agreement is governed by the laws of England and Wales.",
        ]
        lines = ["MASTER SERVICES AGREEMENT", ""]
        for paragraph in paragraphs:
            lines += [*textwrap.wrap(paragraph, WRAP), ""]
    else:
        lines = ["SERVICES AGREEMENT",
                 f"This agreement is made between {first} and {second} (the parties).",
                 f"The services are provided for a term of {term} starting on the effective date.",
                 f"The client shall pay fees of {money(fees)} per month.",
                 "This agreement is governed by the law of the State of Delaware, and the parties",
                 "hereby agree to its terms."]  # fmt: skip
    expected = {"parties": [first, second], "term": term, "fees": f"{fees:.2f}"}
    return Document(f"contract-{n:02d}", "contract", layout, lines, expected, rng.choice(FONTS))


LAYOUTS = {
    invoice: ["classic", "table", "European"],
    receipt: ["classic", "till"],
    contract: ["simple", "formal"],
}


def corpus(seed: int = 7) -> list[Document]:
    """60 text documents (30 invoices, 15 receipts, 15 contracts, each kind's layouts in turn)
    and 30 scans of them."""
    rng = random.Random(seed)
    clean = [
        make(rng, n, layouts[n % len(layouts)])
        for make, count in ((invoice, 30), (receipt, 15), (contract, 15))
        for layouts in [LAYOUTS[make]]
        for n in range(count)
    ]
    scans = []
    for doc in rng.sample(clean, 30):
        scan = {"skew": rng.uniform(-1.5, 1.5), "turn": rng.choice([0, 0, 0, 90, 180]),
                "noise": rng.uniform(0.0, 0.03), "blur": rng.random() < 0.3}  # fmt: skip
        scans.append(Document(f"{doc.name}-scan", doc.kind, doc.layout, doc.lines, doc.expected,
                              doc.font, scan))  # fmt: skip
    return clean + scans


def as_pdf(doc: Document) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font(doc.font, size=11)
    for line in doc.lines:
        # The core PDF fonts are Latin-1: the euro sign is written out, as such PDFs often do.
        cells = line.replace("€", "EUR ").split("\t")
        for (x, width, align), cell in zip(_columns(len(cells), pdf.epw), cells, strict=True):
            pdf.set_x(pdf.l_margin + x)
            pdf.cell(width, 7, cell, align=align)
        pdf.ln(7)
    return bytes(pdf.output())


def _columns(count: int, width: float) -> list[tuple[float, float, str]]:
    """(offset, width, alignment) of each cell of a line of ``count`` cells: the first cell
    takes half the line, the others share the rest, and the last is right-aligned."""
    if count == 1:
        return [(0.0, width, "L")]
    rest = width / 2 / (count - 1)
    return [(0.0, width / 2, "L")] + [
        (width / 2 + i * rest, rest, "R" if i == count - 2 else "L") for i in range(count - 1)
    ]


def as_scan(doc: Document, seed: int = 0) -> Image.Image:
    """The document as a scanned page: 300-dpi-like, skewed, maybe turned, with speckles."""
    scale, page_width = 3, 700
    font = ImageFont.load_default(size=12 * scale)
    image = Image.new("L", (page_width * scale, (len(doc.lines) * 22 + 80) * scale), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(doc.lines):
        cells = line.split("\t")
        y = (40 + i * 22) * scale
        for (x, width, align), cell in zip(_columns(len(cells), page_width - 80), cells,
                                           strict=True):  # fmt: skip
            left = 40 + x
            if align == "R":
                left += width - draw.textlength(cell, font=font) / scale
            draw.text((left * scale, y), cell, fill=0, font=font)
    rng = random.Random(seed)
    pixels = image.load()
    assert pixels is not None
    for _ in range(int(image.width * image.height * doc.scan["noise"] / 50)):
        pixels[rng.randrange(image.width), rng.randrange(image.height)] = 0
    if doc.scan["blur"]:
        image = image.filter(ImageFilter.GaussianBlur(1))
    image = image.rotate(doc.scan["skew"], expand=True, fillcolor=255)
    return image.rotate(doc.scan["turn"], expand=True, fillcolor=255)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
