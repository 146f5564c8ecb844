"""Sample documents generated on the fly (no binary blobs in the repo): a text invoice PDF and
the same invoice as a scan (an image-only PDF), plus a receipt and a contract in plain text;
and real e-invoice XML files (``e_invoices/``, their source and licence in SOURCES.md), alone or
attached to a printed PDF as Factur-X does."""

from __future__ import annotations

import io
from importlib.resources import files

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

INVOICE_LINES = [
    "ACME Tools Ltd",
    "12 Forge Street, Sheffield",
    "",
    "INVOICE",
    "Invoice Number: INV-2024-0042",
    "Invoice Date: 2024-03-05",
    "Bill To: Globex Corporation",
    "",
    "Description                 Qty    Amount",
    "Steel hammers               10     EUR 450.00",
    "Safety gloves               20     EUR 780.50",
    "",
    "Total: EUR 1,230.50",
    "Amount due within 30 days. Thank you for your business.",
]

# An invoice the analyzer cannot be sure of: two totals that disagree, a vendor with nothing to
# say it is one. With "requireApproval": "auto" it waits for a person.
UNSURE_INVOICE_LINES = [
    "Northwind Traders",
    "INVOICE",
    "Invoice number: INV-2024-0077",
    "Invoice date: 2024-03-05",
    "Total amount: EUR 500.00",
    "Amount due: EUR 350.00",
]

RECEIPT_TEXT = """Corner Coffee
Receipt
Date: Apr 12, 2024
2 x Flat white      $7.00
1 x Croissant       $3.50
Total: $10.50
Paid by card. Thank you for your purchase!
"""

CONTRACT_TEXT = """SERVICES AGREEMENT
This agreement is made between Initech LLC and Hooli Inc. (the parties).
The services are provided for a term of 12 months starting on the effective date.
The client shall pay fees of USD 5,000.00 per month. This agreement is governed by the law of
the State of Delaware, and the parties hereby agree to its terms.
"""


def invoice_pdf() -> bytes:
    """A one-page invoice with a real text layer."""
    return _lines_pdf(INVOICE_LINES)


def unsure_invoice_pdf() -> bytes:
    """A one-page invoice (text layer) whose total and vendor the analyzer is unsure of."""
    return _lines_pdf(UNSURE_INVOICE_LINES)


def _lines_pdf(lines: list[str]) -> bytes:
    return bytes(_printed(lines).output())


def _printed(lines: list[str]) -> FPDF:
    """A page with ``lines`` on it, one under the other, as text."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return pdf


def long_text_pdf(pages: int) -> bytes:
    """A contract of ``pages`` pages, each with a text layer: for page counts and batches."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(text=f"Page {n} of a long contract, with enough words for a text layer.")
    return bytes(pdf.output())


def invoice_image(scale: int = 3) -> Image.Image:
    """The invoice as a page image, as a scanner would produce it."""
    font = ImageFont.load_default(size=12 * scale)
    image = Image.new("L", (620 * scale, (len(INVOICE_LINES) * 22 + 60) * scale), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(INVOICE_LINES):
        draw.text((30 * scale, (30 + i * 22) * scale), line, fill=0, font=font)
    return image


def scanned_invoice_pdf() -> bytes:
    """An image-only PDF: no text layer, so extraction must OCR it."""
    png = io.BytesIO()
    invoice_image().save(png, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(png, x=0, y=0, w=210)
    return bytes(pdf.output())


def invoice_png() -> bytes:
    out = io.BytesIO()
    invoice_image().save(out, format="PNG")
    return out.getvalue()


def two_page_tiff() -> bytes:
    """A multi-page scan: a blank-ish cover page, then the invoice."""
    cover = Image.new("L", invoice_image().size, 255)
    ImageDraw.Draw(cover).text((90, 90), "Scanned by the mail room", fill=0,
                               font=ImageFont.load_default(size=36))  # fmt: skip
    out = io.BytesIO()
    cover.save(out, format="TIFF", save_all=True, append_images=[invoice_image()])
    return out.getvalue()


def e_invoice_xml(name: str) -> bytes:
    """One of the real e-invoices in ``e_invoices/`` (e.g. ``CII_example1.xml``)."""
    return files(__package__).joinpath("e_invoices", name).read_bytes()


def factur_x_pdf(xml: bytes, printed_lines: list[str], name: str = "factur-x.xml") -> bytes:
    """A printed invoice page with ``xml`` attached as ``name``, as a Factur-X PDF carries it."""
    pdf = _printed(printed_lines)
    pdf.embed_file(bytes=xml, basename=name, desc="Factur-X invoice", compress=True)
    return bytes(pdf.output())
