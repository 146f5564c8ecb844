"""The words documents label their fields and announce their kind with, in English, German,
French, Spanish, Italian, Dutch and Polish. Each list is matched as whole words, case-blind
(``term`` is not in "Termin", ``change`` not in "QualityExchange")."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache

# What is to be paid: the total's strongest labels.
PAYABLE = [
    "amount due", "total due", "balance due", "grand total", "total amount", "amount payable",
    "total to pay", "invoice total", "total payable", "total incl", "total including",
    "total inc", "total (incl", "total with vat", "gesamtbetrag", "rechnungsbetrag",
    "zahlbetrag", "endbetrag", "gesamtsumme", "zu zahlen", "bruttobetrag", "summe brutto",
    "total ttc", "net à payer", "montant total", "total à payer", "montant ttc", "totaal",
    "te betalen", "totaalbedrag", "totaal incl", "do zapłaty", "razem do zapłaty",
    "kwota do zapłaty",
    "importe total", "total a pagar", "total factura", "totale documento", "importo totale",
    "totale da pagare", "totale fattura", "round total", "total sales", "nett total",
    "amount paid", "total paid", "betrag bezahlt",
]  # fmt: skip
# A total, but not said to be what is paid.
TOTAL = ["total", "summe", "betrag", "montant", "importe", "importo", "totale", "razem", "suma",
         "amount"]  # fmt: skip
# Amounts that are not the total: before tax, the tax, what was handed over or back.
# Before tax: what a total is never below, and what net + tax = gross adds up.
SUBTOTAL = [
    "subtotal", "sub-total", "sub total", "net total", "total net", "total excl", "excl",
    "excluding", "before tax", "nettobetrag", "netto", "zwischensumme", "summe netto",
    "total ht", "montant ht", "sous-total", "sous total", "subtotaal", "totaal excl",
    "netto razem", "razem netto", "wartość netto", "base imponible", "imponibile",
]  # fmt: skip
TAX = ["tax", "vat", "mwst", "ust", "tva", "btw", "iva", "gst", "sst", "vat amount", "steuer",
       "podatek"]  # fmt: skip
# Other amounts that are not the total: what was handed over or back, taken off, or a price.
NOT_TOTAL = [
    *SUBTOTAL, *TAX, "rounding", "rounding adj", "change", "cash", "tendered", "paid",
    "discount", "rabatt", "remise", "korting", "rabat", "sconto", "descuento", "deposit",
    "anzahlung", "acompte", "prepaid", "qty", "quantity", "menge", "unit price", "price",
    "preis", "einzelpreis", "prix unitaire", "cena", "precio", "prezzo", "prijs", "saving",
    "savings", "tip", "service charge", "bar", "bargeld", "gegeben", "rückgeld", "zurück",
    "espèces", "efectivo", "contanti", "gotówka", "wisselgeld", "reszta",
]  # fmt: skip
# Paid by card: on a till slip, the amount charged is the total (cash is not: it has change).
PAID_BY_CARD = [
    "kartenzahlung", "karte", "ec-karte", "ec-cash", "ec lastschrift", "girocard", "visa",
    "mastercard", "maestro", "amex", "card", "credit card", "debit card", "carte bancaire",
    "carte", "tarjeta", "carta", "pinnen", "pin", "karta",
]  # fmt: skip

INVOICE_DATE = [
    "invoice date", "date of issue", "issue date", "date issued", "dated", "rechnungsdatum",
    "ausstellungsdatum", "belegdatum", "date de facture", "date de facturation",
    "date d'émission", "factuurdatum", "datum factuur", "data wystawienia", "data faktury",
    "fecha de factura", "fecha de emisión", "fecha factura", "data fattura",
    "data di emissione", "data documento", "invoice dt", "receipt date",
    # The title and its date: "Facture du 11/12/2022", "Rechnung vom 3. März 2024".
    "facture du", "rechnung vom", "factura del", "fattura del", "factuur van", "invoice of",
]  # fmt: skip
DATE = ["date", "datum", "data", "fecha", "dt"]
NOT_THE_DATE = [
    "due", "due date", "payment due", "delivery", "delivery date", "order date", "expiry",
    "period", "service date", "fällig", "fälligkeit", "zahlbar bis", "lieferdatum",
    "leistungsdatum", "bestelldatum", "échéance", "date d'échéance", "date de livraison",
    "vervaldatum", "leverdatum", "termin płatności", "data dostawy", "data sprzedaży",
    "vencimiento", "fecha de vencimiento", "scadenza", "data di scadenza", "valid until",
    "gültig bis", "birth", "geburt",
]  # fmt: skip

INVOICE_NUMBER = [
    "invoice no", "invoice number", "invoice #", "invoice nr", "inv no", "inv #", "invoice",
    "bill no", "receipt no", "receipt #", "receipt number", "document no", "rechnungsnummer",
    "rechnung nr", "rechnungs-nr", "re-nr", "belegnummer", "beleg-nr", "bon-nr", "bon nr",
    "facture n°", "facture no", "n° de facture", "numéro de facture", "factuurnummer",
    "factuurnr", "nr faktury", "faktura nr", "faktura vat nr", "numer faktury",
    "número de factura", "factura nº", "factura n", "nº factura", "factura simplificada",
    "numero fattura", "fattura n", "fattura nr", "no", "nr", "number", "n°", "nº",
    # A title with its number after it ("FACTURE: ABC12345"), as "invoice" has.
    "rechnung", "facture", "factuur", "faktura", "factura", "fattura",
]  # fmt: skip

SELLER = [
    "seller", "vendor", "supplier", "from", "issued by", "verkäufer", "lieferant",
    "rechnungssteller", "fournisseur", "vendeur", "émetteur", "leverancier", "verkoper",
    "sprzedawca", "wystawca", "proveedor", "emisor", "vendedor", "fornitore", "venditore",
    "cedente",
]  # fmt: skip
BUYER = [
    "bill to", "billed to", "invoice to", "sold to", "ship to", "deliver to", "customer",
    "buyer", "client", "recipient", "rechnungsempfänger", "rechnungsadresse", "kunde",
    "käufer", "empfänger", "lieferadresse", "facturé à", "adresse de facturation",
    "destinataire", "acheteur", "factuuradres", "klant", "afnemer", "koper", "nabywca",
    "odbiorca", "cliente", "comprador", "destinatario", "committente", "cessionario",
]  # fmt: skip
# Legal forms: a line with one names a company, most often the issuer at the top.
LEGAL_FORMS = [
    # Not "kg" alone: a receipt's kilograms. "GmbH & Co. KG" has its "gmbh".
    "gmbh", "mbh", "gesmbh", "ges.mbh", "ges .mbh", "ag", "ohg", "ug", "e.k.", "gbr",
    "ltd", "limited", "llc", "llp", "inc",
    # Not "sa" or "sl" alone: a German receipt's Saturday ("Mo - Sa").
    "corp", "plc", "pty", "co.", "s.a.", "sas", "s.a.s.", "sarl", "s.a.r.l.", "eurl",
    "société anonyme", "sau", "s.a.u.", "sociedad anónima", "sociedad limitada",
    "b.v.", "bv", "n.v.", "nv", "v.o.f.", "sp. z o.o.", "sp.z o.o.", "s.c.", "s.l.",
    "s.p.a.", "spa", "s.r.l.", "srl", "sdn bhd", "sdn. bhd.", "bhd", "enterprise",
    "trading", "restaurant", "hotel", "store", "shop", "market", "supermarket", "café",
]  # fmt: skip

# What each kind of document says about itself; the receipt's words are a till's.
KIND_WORDS = {
    "invoice": [
        "invoice", "tax invoice", "bill to", "invoice number", "invoice date", "due date",
        "payment terms", "iban", "bic", "swift", "vat", "rechnung", "rechnungsnummer",
        "zahlungsziel", "ust-idnr", "facture", "échéance", "tva", "factuur", "btw",
        "faktura", "nip", "factura", "fattura", "partita iva", "amount due", "remit to",
        "invoice no", "invoice #", "rechnungsdatum", "rechnungsbetrag", "gesamtbetrag",
        "factuurnummer", "factuurdatum", "te betalen", "kvk", "numéro de facture",
        "date de facture", "net à payer", "total ttc", "siret", "numer faktury",
        "data wystawienia", "do zapłaty", "número de factura", "fecha de factura", "nif", "cif",
        "numero fattura", "data fattura",
    ],
    "receipt": [
        "receipt", "cash", "change", "tendered", "thank you", "cashier", "till", "pos",
        "visa", "mastercard", "card", "kassenbon", "quittung", "beleg", "bar", "rückgeld",
        "ticket", "caisse", "rendu", "kassabon", "bon", "paragon", "paragon fiskalny",
        "reçu", "recibo", "scontrino", "table", "server", "qty", "member", "points",
        "bargeld", "rückgeld", "zurück", "gegeben", "kundenbeleg", "kasse", "bon-nr",
        "vielen dank", "einkauf", "girocard", "ec-karte", "ec-cash", "kartenzahlung",
        "anzahl artikel", "bitte beleg aufbewahren", "öffnungszeiten", "filiale", "markt",
        "summe", "zu zahlen", "payback", "pfand", "leergut", "bedient", "espèces",
        "rendu monnaie", "merci", "efectivo", "cambio", "contanti", "resto", "kassa",
        "wisselgeld", "reszta", "gotówka", "kvittering", "kvitto", "ricevuta", "sales tax",
        "change due", "self check out", "self checkout", "tip", "gratuity", "factura simplificada",
        "ticket de caisse", "tarjeta", "carte bancaire", "bancomat",
    ],
    "contract": [
        # Not "party" alone: a till's "Taco Party Pack". A contract names its "parties".
        "agreement", "contract", "hereby", "whereas", "governing law", "parties",
        "term of", "terminate", "termination", "vertrag", "vereinbarung", "vertragsparteien",
        "kündigung", "contrat", "les parties", "résiliation", "overeenkomst", "partijen",
        "umowa", "strony", "contrato", "las partes", "contratto", "le parti",
    ],
}  # fmt: skip
# A document's title, one of its first lines: says what it is more surely than words in it.
TITLES = {
    "invoice": ["invoice", "tax invoice", "rechnung", "facture", "factuur", "faktura", "factura",
                "fattura", "faktura vat", "credit note", "gutschrift", "avoir"],
    "receipt": ["receipt", "quittung", "kassenbon", "kundenbeleg", "reçu", "recibo", "ricevuta",
                "scontrino", "paragon fiskalny", "kassabon", "kvittering", "kvitto",
                "ticket de caisse", "factura simplificada"],
    "contract": ["agreement", "contract", "vertrag", "contrat", "overeenkomst", "umowa",
                 "contrato", "contratto"],
}  # fmt: skip


def fold(text: str) -> str:
    """``text`` without its accents, letter for letter (``Zurück`` → ``Zuruck``: OCR without a
    German model reads it so), so a match's place is its place in ``text``."""
    return "".join(_fold_char(ch) for ch in text)


@cache
def _fold_char(ch: str) -> str:
    base = unicodedata.normalize("NFKD", ch)[:1]
    return base if base.isascii() and base.isalpha() else ch


@cache
def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted({fold(p) for p in phrases}, key=len, reverse=True)  # the longest first
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])", re.IGNORECASE)


def finditer(phrases: list[str] | tuple[str, ...], text: str) -> Iterator[re.Match[str]]:
    """Each of ``phrases`` in ``text`` as whole words, case- and accent-blind."""
    return _pattern(tuple(phrases)).finditer(fold(text))


def find(phrases: list[str] | tuple[str, ...], text: str) -> re.Match[str] | None:
    return _pattern(tuple(phrases)).search(fold(text))


def match(phrases: list[str] | tuple[str, ...], text: str) -> re.Match[str] | None:
    """One of ``phrases`` at the very start of ``text``."""
    return _pattern(tuple(phrases)).match(fold(text))


def without(phrases: list[str] | tuple[str, ...], text: str) -> str:
    """``text`` (accents folded) with each of ``phrases`` taken out."""
    return _pattern(tuple(phrases)).sub(" ", fold(text))


def count(phrases: list[str] | tuple[str, ...], text: str) -> int:
    return len(_pattern(tuple(phrases)).findall(fold(text)))
