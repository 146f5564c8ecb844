"""A labelled corpus for measuring field extraction: invoices, receipts and contracts in varied
layouts, fonts, currencies and date formats, each as a text PDF and some also as scans (image
pages: skewed, turned, noisy). Generated from a seed, so every run measures the same documents.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date
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


@dataclass(frozen=True)
class Document:
    name: str
    kind: str  # invoice | receipt | contract
    lines: list[str]
    expected: dict[str, Any]  # field -> value, as the analyzer reports it
    font: str = "Helvetica"
    scan: dict[str, Any] = field(default_factory=dict)  # empty: a text PDF


def _date_text(rng: random.Random, day: date) -> str:
    return rng.choice([
        day.isoformat(),
        f"{day.day:02d}/{day.month:02d}/{day.year}",
        f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}",
        f"{day.day} {MONTH_NAMES[day.month - 1][:3]} {day.year}",
    ])  # fmt: skip


def _day(rng: random.Random) -> date:
    return date(rng.choice([2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28))


def invoice(rng: random.Random, n: int) -> Document:
    vendor = rng.choice(VENDORS)
    number = f"INV-{rng.randint(2023, 2025)}-{rng.randint(1, 9999):04d}"
    day = _day(rng)
    code, money = rng.choice(MONEY)
    items = [(rng.choice(["Steel hammers", "Consulting hours", "Safety gloves", "Licences",
                          "Shipping"]), rng.randint(1, 20), rng.randint(500, 90000) / 100)
             for _ in range(rng.randint(1, 4))]  # fmt: skip
    subtotal = round(sum(q * p for _, q, p in items), 2)
    vat = round(subtotal * 0.2, 2) if rng.random() < 0.5 else 0.0
    total = round(subtotal + vat, 2)
    number_label = rng.choice(["Invoice Number:", "Invoice No.", "Invoice #", "Invoice no:"])
    date_label = rng.choice(["Invoice Date:", "Date:", "Date of issue:"])
    total_label = rng.choice(["Total:", "Total due:", "Amount due:", "Grand total:"])
    lines = [vendor, f"{rng.randint(1, 99)} {rng.choice(['Forge', 'High', 'Mill'])} Street", "",
             "INVOICE", f"{number_label} {number}", f"{date_label} {_date_text(rng, day)}",
             f"Bill To: {rng.choice(PARTIES)[1]}", "", "Description    Qty    Amount"]  # fmt: skip
    lines += [f"{name}    {qty}    {money(qty * price)}" for name, qty, price in items]
    lines.append("")
    if vat:
        lines += [f"Subtotal: {money(subtotal)}", f"VAT 20%: {money(vat)}"]
    lines += [f"{total_label} {money(total)}", "Payment within 30 days. Thank you."]
    expected = {"vendor": vendor, "number": number, "date": day.isoformat(),
                "total": f"{total:.2f}", "currency": code}  # fmt: skip
    return Document(f"invoice-{n:02d}", "invoice", lines, expected, rng.choice(FONTS))


def receipt(rng: random.Random, n: int) -> Document:
    merchant = rng.choice(MERCHANTS)
    day = _day(rng)
    code, money = rng.choice(MONEY)
    items = [(rng.choice(["Flat white", "Croissant", "Notebook", "Diesel", "Baguette"]),
              rng.randint(150, 6000) / 100) for _ in range(rng.randint(1, 4))]  # fmt: skip
    total = round(sum(p for _, p in items), 2)
    lines = [merchant, "Receipt", f"Date: {_date_text(rng, day)}"]
    lines += [f"{name}      {money(price)}" for name, price in items]
    lines += [f"{rng.choice(['Total:', 'TOTAL', 'Amount paid:'])} {money(total)}",
              "Paid by card. Thank you for your purchase!"]  # fmt: skip
    expected = {"merchant": merchant, "date": day.isoformat(), "total": f"{total:.2f}",
                "currency": code}  # fmt: skip
    return Document(f"receipt-{n:02d}", "receipt", lines, expected, rng.choice(FONTS))


def contract(rng: random.Random, n: int) -> Document:
    first, second = rng.choice(PARTIES)
    months = rng.choice([6, 12, 24, 36])
    term = rng.choice([f"{months} months", f"{months // 12} years" if months >= 24 else
                       f"{months} months"])  # fmt: skip
    _code, money = rng.choice(MONEY)
    fees = rng.randint(1000, 20000) * 1.0
    lines = ["SERVICES AGREEMENT",
             f"This agreement is made between {first} and {second} (the parties).",
             f"The services are provided for a term of {term} starting on the effective date.",
             f"The client shall pay fees of {money(fees)} per month.",
             "This agreement is governed by the law of the State of Delaware, and the parties",
             "hereby agree to its terms."]  # fmt: skip
    expected = {"parties": [first, second], "term": term, "fees": f"{fees:.2f}"}
    return Document(f"contract-{n:02d}", "contract", lines, expected, rng.choice(FONTS))


def corpus(seed: int = 7) -> list[Document]:
    """40 text documents (20 invoices, 10 receipts, 10 contracts) and 24 scans of them."""
    rng = random.Random(seed)
    clean = ([invoice(rng, n) for n in range(20)] + [receipt(rng, n) for n in range(10)]
             + [contract(rng, n) for n in range(10)])  # fmt: skip
    scans = []
    for doc in rng.sample(clean, 24):
        scan = {"skew": rng.uniform(-1.5, 1.5), "turn": rng.choice([0, 0, 0, 90, 180]),
                "noise": rng.uniform(0.0, 0.03), "blur": rng.random() < 0.3}  # fmt: skip
        scans.append(Document(f"{doc.name}-scan", doc.kind, doc.lines, doc.expected, doc.font,
                              scan))  # fmt: skip
    return clean + scans


def as_pdf(doc: Document) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font(doc.font, size=11)
    for line in doc.lines:
        # The core PDF fonts are Latin-1: the euro sign is written out, as such PDFs often do.
        pdf.cell(0, 7, line.replace("€", "EUR "), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def as_scan(doc: Document, seed: int = 0) -> Image.Image:
    """The document as a scanned page: 300-dpi-like, skewed, maybe turned, with speckles."""
    scale = 3
    font = ImageFont.load_default(size=12 * scale)
    image = Image.new("L", (700 * scale, (len(doc.lines) * 22 + 80) * scale), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(doc.lines):
        draw.text((40 * scale, (40 + i * 22) * scale), line, fill=0, font=font)
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
