"""E-invoices read exactly: the invoice in its XML, not from the printed page.

A Factur-X / ZUGFeRD / XRechnung PDF (PDF/A-3) carries the whole invoice as an attached XML
file in UN/CEFACT CII syntax; an XRechnung or Peppol invoice may come as the XML itself, in CII
or OASIS UBL. Each field is read with lxml where EN 16931's syntax bindings put it (the business
term is named beside each path), so nothing is guessed: each field read is certain (confidence
1.0). A value the XML does not have, or has in a form the standard does not allow, is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import pypdfium2 as pdfium
from docflow_shared.models import Analysis, Disagreement, ExtractedField
from lxml import etree

from .documents import PDFIUM, open_pdf

#: What the standards name the attachment (Factur-X, ZUGFeRD 2 and 1, XRechnung), first.
ATTACHMENT_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
XML_DOCUMENT = "document.xml"  # the source of an e-invoice sent as the XML itself
MAX_XML_BYTES = 16 * 1024 * 1024
EVIDENCE_CHARS = 200

_CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_CII_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
_CII_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_FERD = "urn:ferd:CrossIndustryDocument:invoice:1p0"
_FERD_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
_FERD_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"
_UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"


@dataclass(frozen=True)
class Syntax:
    name: str
    namespaces: dict[str, str]
    paths: dict[str, list[str]]  # each field's paths from the root, the first found wins


_CII_PATHS = {
    "number": ["rsm:ExchangedDocument/ram:ID"],  # BT-1
    "date": ["rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"],  # BT-2
    "vendor": [  # BT-27, the seller's name
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
        "ram:SellerTradeParty/ram:Name"
    ],
    "currency": [  # BT-5
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
        "ram:InvoiceCurrencyCode"
    ],
    "total": [  # BT-112, the total with VAT
        "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
        "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount"
    ],
}
_FERD_PATHS = {  # ZUGFeRD 1.0: CII before EN 16931, other element names for the same terms
    "number": ["rsm:HeaderExchangedDocument/ram:ID"],
    "date": ["rsm:HeaderExchangedDocument/ram:IssueDateTime/udt:DateTimeString"],
    "vendor": [
        "rsm:SpecifiedSupplyChainTradeTransaction/ram:ApplicableSupplyChainTradeAgreement/"
        "ram:SellerTradeParty/ram:Name"
    ],
    "currency": [
        "rsm:SpecifiedSupplyChainTradeTransaction/ram:ApplicableSupplyChainTradeSettlement/"
        "ram:InvoiceCurrencyCode"
    ],
    "total": [
        "rsm:SpecifiedSupplyChainTradeTransaction/ram:ApplicableSupplyChainTradeSettlement/"
        "ram:SpecifiedTradeSettlementMonetarySummation/ram:GrandTotalAmount"
    ],
}
_UBL_PATHS = {
    "number": ["cbc:ID"],  # BT-1
    "date": ["cbc:IssueDate"],  # BT-2
    "vendor": [  # BT-27, else the trading name (BT-28)
        "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name",
    ],
    "currency": ["cbc:DocumentCurrencyCode"],  # BT-5
    "total": ["cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"],  # BT-112
}
_UBL_NAMESPACES = {"cbc": _UBL_CBC, "cac": _UBL_CAC}

#: By the root element (Clark notation).
SYNTAXES = {
    f"{{{_CII}}}CrossIndustryInvoice": Syntax(
        "CII", {"rsm": _CII, "ram": _CII_RAM, "udt": _CII_UDT}, _CII_PATHS
    ),
    f"{{{_FERD}}}CrossIndustryDocument": Syntax(
        "ZUGFeRD 1.0", {"rsm": _FERD, "ram": _FERD_RAM, "udt": _FERD_UDT}, _FERD_PATHS
    ),
    f"{{{_UBL_INVOICE}}}Invoice": Syntax("UBL", _UBL_NAMESPACES, _UBL_PATHS),
    f"{{{_UBL_CREDIT_NOTE}}}CreditNote": Syntax("UBL", _UBL_NAMESPACES, _UBL_PATHS),
}

# Untrusted XML: no entities expanded, no DTD or anything else fetched, no huge trees.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)


@dataclass(frozen=True)
class EInvoice:
    """The invoice's fields as its XML states them, and where they came from."""

    source: str  # the attachment's name, or XML_DOCUMENT
    syntax: str
    fields: dict[str, tuple[str, str]]  # field -> (value, the element it was read from)


def in_document(data: bytes, is_pdf: bool) -> tuple[str, bytes] | None:
    """The e-invoice XML a document carries (a PDF's attachment) or is (an XML document):
    its source name and bytes."""
    if is_pdf:
        return attached_xml(data)
    return (XML_DOCUMENT, data) if read(data, XML_DOCUMENT) is not None else None


def attached_xml(pdf_bytes: bytes) -> tuple[str, bytes] | None:
    """The e-invoice XML a PDF carries, with its file name: one the standards name first, else
    any attached ``.xml`` file that is an invoice in a syntax read here."""
    with PDFIUM:
        pdf = open_pdf(pdf_bytes)
        try:
            attachments = []
            for index in range(pdf.count_attachments()):
                attachment = pdf.get_attachment(index)
                name = attachment.get_name()
                if name.lower().endswith(".xml"):
                    attachments.append((name, index))
            attachments.sort(key=lambda found: _preference(found[0]))
            for name, index in attachments:
                try:
                    data = bytes(pdf.get_attachment(index).get_data())
                except pdfium.PdfiumError:
                    continue  # an attachment pdfium cannot decode: not one we can read
                if len(data) <= MAX_XML_BYTES and read(data, name) is not None:
                    return name, data
            return None
        finally:
            pdf.close()


def _preference(name: str) -> int:
    lowered = name.lower()
    return ATTACHMENT_NAMES.index(lowered) if lowered in ATTACHMENT_NAMES else len(ATTACHMENT_NAMES)


def read(xml: bytes, source: str) -> EInvoice | None:
    """The invoice in ``xml``, or None if it is not one in CII, ZUGFeRD 1.0 or UBL."""
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return None
    syntax = SYNTAXES.get(root.tag)
    if syntax is None:
        return None
    fields: dict[str, tuple[str, str]] = {}
    for field, paths in syntax.paths.items():
        for path in paths:
            found = root.find(path, syntax.namespaces)
            if found is not None and (value := _value(field, found)) is not None:
                fields[field] = (value, _element_text(found))
                break
    return EInvoice(source, syntax.name, fields)


def _value(field: str, element: etree._Element) -> str | None:
    text = (element.text or "").strip()
    if not text:
        return None
    if field == "date":
        return _iso_date(text, element.get("format"))
    if field == "total":
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
        return f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else str(amount)
    if field == "currency":
        return text if re.fullmatch(r"[A-Z]{3}", text) else None
    return text


def _iso_date(text: str, date_format: str | None) -> str | None:
    """CII dates are ``YYYYMMDD`` (format 102, the only one EN 16931 allows); UBL's ISO."""
    pattern = r"(\d{4})(\d{2})(\d{2})" if date_format == "102" else r"(\d{4})-(\d{2})-(\d{2})"
    if date_format not in (None, "102") or not (match := re.fullmatch(pattern, text)):
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def _element_text(element: etree._Element) -> str:
    return f"{etree.QName(element).localname}: {(element.text or '').strip()}"


def analysis(invoice: EInvoice, printed_pages: list[str], summary: str) -> Analysis:
    """What the XML says, each field certain, and where the printed pages (when the XML came
    with any) do not show the XML's total: a total that is not printed is worth a look."""
    fields = {
        name: ExtractedField(
            value=value,
            evidence=f"{invoice.source} ({invoice.syntax}): {element}"[:EVIDENCE_CHARS],
            page=1,
            confidence=1.0,
        )
        for name, (value, element) in invoice.fields.items()
    }
    disagreements = []
    total = invoice.fields.get("total")
    if printed_pages and total and not printed(total[0], "\n".join(printed_pages)):
        disagreements.append(Disagreement(
            field="total", value=total[0],
            message=f"the e-invoice's total {total[0]} is not printed on the document's pages",
        ))  # fmt: skip
    return Analysis(
        document_type="invoice",
        fields=fields,
        summary=summary or _summary(invoice),
        analyzer="e-invoice",
        disagreements=disagreements,
    )


def printed(amount: str, text: str) -> bool:
    """Whether ``amount`` (``1234.50``) appears in ``text`` written any usual way: ``1234.50``,
    ``1,234.50``, ``1.234,50``, ``1 234,50``, ``1'234.50`` (and ``1234.5`` for a round tenth)."""
    whole, _, cents = amount.lstrip("-").partition(".")
    groups = re.sub(r"\B(?=(\d{3})+$)", "\x00", whole).split("\x00")
    separators = r"(?:[ ,.'\u00a0\u202f]?)"
    number = separators.join(groups) + (rf"[.,]{cents}" if cents else "")
    if cents.endswith("0"):
        number = separators.join(groups) + rf"[.,]{cents[0]}(?:0|(?!\d))"
    return re.search(rf"(?<![\d.,]){number}(?![\d])", text) is not None


def _summary(invoice: EInvoice) -> str:
    value = {name: found[0] for name, found in invoice.fields.items()}
    parts = [f"Invoice {value.get('number', '')}".strip()]
    if "vendor" in value:
        parts.append(f"from {value['vendor']}")
    if "date" in value:
        parts.append(f"dated {value['date']}")
    if "total" in value:
        parts.append(f"for {value['total']} {value.get('currency', '')}".rstrip())
    return " ".join(parts) + f" (read from its {invoice.syntax} XML)."
