"""The heuristic analyzer's parsers and choices, on snippets written the way real invoices and
receipts in seven languages print them, among them each kind of mistake the analyzer once
made on real documents (issue 15): written fresh here, not taken from any held-out set."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from docflow_shared.models import Analysis, Box, Candidate, ExtractedField
from docflow_worker.analyzer import HeuristicAnalyzer
from docflow_worker.dates import dates_in, numeric_order
from docflow_worker.domain import PageText
from docflow_worker.money import amounts_in
from docflow_worker.steps.analyze import analysis_of, boxed

pytestmark = pytest.mark.unit

MARKUP = '<img src=x onerror="window.injected=1"><b>Bold</b> Tools Ltd'


def fields(text: str, hint: str = "auto", min_confidence: float = 0.6) -> dict[str, Any]:
    analysis = HeuristicAnalyzer(min_confidence).analyze([text], hint)
    return {name: found.value for name, found in analysis.fields.items()}


def kind(text: str) -> str:
    return HeuristicAnalyzer.classify(text)


# -- amounts and currencies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Total: 1.234,56 €", [("1234.56", {"EUR"})]),
        ("Gesamtbetrag 1 234,56 EUR", [("1234.56", {"EUR"})]),
        ("Total CHF 1'234.50", [("1234.50", {"CHF"})]),
        ("Fr. 45.00", [("45.00", {"CHF"})]),
        ("TOTAL RM 12.50", [("12.50", {"MYR"})]),
        ("Do zapłaty: 1 278,61 zł", [("1278.61", {"PLN"})]),
        ("Totaal € 99,95", [("99.95", {"EUR"})]),
        ("Summe: 12,50 kr", [("12.50", {"NOK", "SEK"})]),  # kr: ambiguous
        # A quantity and a price are not one amount; a space groups thousands only before a
        # decimal comma.
        ("1 278.61", [("1", set()), ("278.61", set())]),
        ("GST 6% 12.00", [("12.00", set())]),  # "GST" is no currency, "6%" no amount
        ("0%", []),
        ("Rechnungsdatum 12.03.2024", []),  # a date is not an amount
        ("Tel. 030/1234567", []),
        ("F/LAYS 2.00", [("2.00", set())]),  # "F", the franc's sign, is no currency in use
    ],
)
def test_amounts_are_read_in_each_notation_with_the_sign_beside_them(
    line: str, expected: list[tuple[str, set[str]]]
) -> None:
    assert [(str(m.amount), set(m.currencies)) for m in amounts_in(line)] == expected


# -- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "iso", "certainty"),
    [
        ("Date: 03/20/2023", "2023-03-20", 1.0),  # the month first: 20 is no month
        ("20-10-2015", "2015-10-20", 1.0),
        ("August 3 , 2014", "2014-08-03", 1.0),
        ("29 maart 2014", "2014-03-29", 1.0),
        ("17-03-18", "2018-03-17", 1.0),
        ("1. März 2024", "2024-03-01", 1.0),
        ("Data wystawienia: 15 października 2023", "2023-10-15", 1.0),
        ("Fecha: 7 de enero de 2024", "2024-01-07", 1.0),
        ("Data fattura 12 febbraio 2024", "2024-02-12", 1.0),
        ("Rechnungsdatum 05.03.2024", "2024-03-05", 1.0),  # dots: the day first
        ("11/03/2017", "2017-03-11", 0.6),  # could be either: read day first, a guess
    ],
)
def test_dates_are_read_in_each_language_and_say_when_unsure(
    line: str, iso: str, certainty: float
) -> None:
    [found] = dates_in(line, numeric_order(line, None))
    assert (found.iso, found.certainty) == (iso, certainty)


@pytest.mark.parametrize(
    ("currency", "iso", "certainty"),
    [(("USD", 0.95), "2017-11-03", 0.9), (("GBP", 0.95), "2017-03-11", 0.9),
     (("USD", 0.65), "2017-11-03", 0.75),  # "$" alone: USD, less sure
     # The euro read fairly surely (a sign on the page: 0.65): its countries all write the
     # day first; a currency read less surely, the date as unsure as it.
     (("EUR", 0.65), "2017-03-11", 0.9), (("EUR", 0.55), "2017-03-11", 0.65)],
)  # fmt: skip
def test_the_currency_reads_an_ambiguous_date_by_its_custom(
    currency: tuple[str, float], iso: str, certainty: float
) -> None:
    [found] = dates_in("11/03/2017", numeric_order("11/03/2017", currency))
    assert (found.iso, found.certainty) == (iso, certainty)


@pytest.mark.parametrize(
    ("line", "iso"),
    [("Datum: 04. „04. 2020", "2020-04-04"), ("Datum 21,04,20 10:00 Uhr", "2020-04-21")],
)
def test_a_labelled_date_ocr_garbled_is_read_less_surely(line: str, iso: str) -> None:
    found = HeuristicAnalyzer(0.0).analyze([f"Kassenbon\nSumme 7,50\n{line}"], "receipt")
    date = found.fields["date"]
    assert (date.value, date.confidence) == (iso, 0.72)  # the label's 0.8, x 0.9 for the OCR


def test_another_date_in_the_document_settles_the_order() -> None:
    text = "Invoice date 04/05/2023\nDue date 03/20/2023"
    order = numeric_order(text, None)

    assert order == (True, 1.0)
    assert [d.iso for d in dates_in("Invoice date 04/05/2023", order)] == ["2023-04-05"]


def test_an_unsettled_day_and_month_is_no_value_only_candidates() -> None:
    text = "Corner Store\nRECEIPT\nDate 11/03/2017\nCash\nTOTAL 4.50\nChange 0.50"
    analysis = HeuristicAnalyzer().analyze([text], "receipt")

    date = analysis.fields["date"]
    assert date.value is None
    assert [c.value for c in date.candidates] == ["2017-03-11"]  # no currency: day first, a guess
    assert date.confidence is not None
    assert date.confidence < 0.6


def test_dollars_alone_read_a_labelled_date_month_first_just_sure_enough() -> None:
    text = "Corner Store\nRECEIPT\nDate 11/03/2017\nCash\nTOTAL $4.50\nChange $0.50"
    date = HeuristicAnalyzer().analyze([text], "receipt").fields["date"]
    assert (date.value, date.confidence) == ("2017-11-03", 0.6)


@pytest.mark.parametrize(
    ("address", "currency", "iso"),
    [("Redmond, WA 98052", "USD", "2019-06-10"), ("CHICAGO, IL", "USD", "2019-06-10"),
     ("Barrie ON L4M 3C2", "CAD", "2019-10-06"), ("Sydney NSW 2000", "AUD", "2019-10-06")],
)  # fmt: skip
def test_an_address_says_whose_dollar_and_so_how_a_till_slip_dates(
    address: str, currency: str, iso: str
) -> None:
    till = f"Corner Store\n12 Main Street\n{address}\n6/10/2019 13:59\nCash\nTOTAL $14.50"
    found = fields(till, "receipt")
    assert (found["currency"], found["date"]) == (currency, iso)


def test_dollars_in_two_countries_say_no_more_than_dollars() -> None:
    text = "Maple Ltd\nToronto ON M5V 2T6\nBill to: Globex, Austin, TX 73301\nTotal $20.00"
    currency = HeuristicAnalyzer().analyze([text], "invoice").fields["currency"]
    assert (currency.value, currency.confidence) == ("USD", 0.65)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Relevé du 01/11/2022\nFacture du 11/12/2022\nMontant total 62,86 €", "2022-12-11"),
        ("Lieferung 1. März 2024\nRechnung vom 3. März 2024\nGesamtbetrag 10,00 €", "2024-03-03"),
        # The receipt's own date, not the sale's that it records.
        ("Receipt Date 10/26/2022\nSale Date 10/25/2022\nTotal $20,383.00", "2022-10-26"),
    ],
)
def test_a_title_or_a_receipt_dates_itself(text: str, iso: str) -> None:
    assert fields(text)["date"] == iso


def test_a_letters_place_and_date_dates_it_when_the_place_is_one_of_its_towns() -> None:
    letter = ("Medienpilot GmbH & Co. KG\nAm Saueracker 23\n91244 Reichenschwand\nRechnung\n"
              "Reichenschwand 04.07.2023\nLieferung 30.06.2023\n01.06.2023 - 30.06.2023\n"
              "Gesamtbetrag 119,00 €")  # fmt: skip
    assert fields(letter)["date"] == "2023-07-04"
    # "Lieferung" is no town of the document's: that date stays one of three, unlabelled.
    assert fields(letter.replace("Reichenschwand 04", "Lieferung 04"))["date"] is None


def test_labels_in_a_column_give_their_values_in_the_next_column_in_order() -> None:
    # A PDF's text read column by column: the labels, then as many values.
    text = ("Invoice\nNetlify, Inc.\nInvoice Number:\nInvoice Date:\nDue date:\nCurrency:\n"
            "INV04789023\n2023-11-13\n2023-12-13\nUSD\nTotal 19.00")  # fmt: skip
    found = fields(text, "invoice")
    assert (found["number"], found["date"]) == ("INV04789023", "2023-11-13")


def test_a_column_of_labels_without_as_many_values_after_it_gives_none() -> None:
    # Three labels stacked, then one value: whose it is, the text does not say.
    text = "Sample invoice\nCustomer number\nInvoice number\nDue date\n1234567\nAmount due:\n$5.00"
    assert "number" not in fields(text, "invoice", min_confidence=0.0)


# -- totals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "total", "currency"),
    [
        (
            "SUB-TOTAL 100.00\nSST 6% 6.00\nROUNDING 0.00\nTOTAL 106.00\nCASH 110.00\nCHANGE 4.00",
            "106.00",
            None,
        ),
        ("Net total 1.000,00 EUR\nVAT 19% 190,00 EUR\nGross total 1.190,00 EUR", "1190.00", "EUR"),
        ("Nettobetrag 100,00 €\nMwSt 19 % 19,00 €\nRechnungsbetrag 119,00 €", "119.00", "EUR"),
        ("Summe netto 250,00\nUSt. 47,50\nGesamtbetrag EUR 297,50", "297.50", "EUR"),
        (
            "Total HT 100,00 €\nTVA 20 % 20,00 €\nTotal TTC 120,00 €\nNet à payer 120,00 €",
            "120.00",
            "EUR",
        ),
        ("Subtotaal € 80,00\nBTW 21% € 16,80\nTotaal € 96,80", "96.80", "EUR"),
        ("Razem netto 1 040,33 zł\nVAT 23% 239,28 zł\nDo zapłaty: 1 279,61 zł", "1279.61", "PLN"),
        ("Base imponible 50,00 €\nIVA 21% 10,50 €\nTotal a pagar 60,50 €", "60.50", "EUR"),
        ("Imponibile 200,00\nIVA 22% 44,00\nTotale documento € 244,00", "244.00", "EUR"),
        ("Total for this invoice USD 4.11", "4.11", "USD"),
        ("Total (incl. VAT) £ 48.00", "48.00", "GBP"),
    ],
)
def test_the_total_is_what_is_payable_in_each_language(
    text: str, total: str, currency: str | None
) -> None:
    found = fields("ACME Trading Ltd\nINVOICE\n" + text, "invoice")
    assert (found.get("total"), found.get("currency")) == (total, currency)


def test_cash_handed_over_does_not_make_the_total_suspect() -> None:
    # "Bar 10,00" is more than the total, and no subtotal: the total stands.
    text = "Lidl\nWarburger Straße 130\nzu zahlen 7,16\nBar 10,00\nRückgeld -2,84"
    assert fields(text, "receipt")["total"] == "7.16"


def test_the_amount_charged_to_a_card_confirms_the_total() -> None:
    text = "ALDI SÜD GmbH & Co. KG\nSumme 18,01\nSumme netto 16,83\nKartenzahlung EUR 18,01"
    analysis = HeuristicAnalyzer().analyze([text], "receipt")
    assert analysis.fields["total"].value == "18.01"
    assert analysis.fields["total"].confidence == 0.9  # 0.75 "Summe", +0.05 the largest, +0.1


def test_a_quantity_and_a_price_are_not_read_as_one_amount() -> None:
    text = "Invoice\nItem  Qty  Price\nWidget 1 278.61\nTotal EUR 278.61"
    assert fields(text, "invoice")["total"] == "278.61"


def test_a_payment_term_in_days_is_not_an_amount() -> None:
    text = "INVOICE\nTotal: EUR 1,230.50\nAmount due within 30 days."
    assert fields(text, "invoice")["total"] == "1230.50"


def test_two_totals_that_disagree_give_no_value_but_both_candidates() -> None:
    text = "ACME Ltd\nINVOICE\nTotal amount EUR 500.00\nAmount due EUR 350.00"
    analysis = HeuristicAnalyzer().analyze([text], "invoice")

    total = analysis.fields["total"]
    assert total.value is None
    assert {c.value for c in total.candidates} == {"500.00", "350.00"}


def test_a_sentence_about_the_total_does_not_label_its_amount() -> None:
    text = ("Rechnung\nSumme Positionen 10,80\nMehrwertsteuer 19,00 % 10,80 2,05\n"
            "Endbetrag 12,85 EUR\nIm Endbetrag ist ein nicht skontierfähiger Anteil (Fracht, "
            "Leergut) von 2,72 EUR enthalten.")  # fmt: skip
    assert fields(text, "invoice")["total"] == "12.85"


def test_the_minimum_confidence_is_the_callers_to_choose() -> None:
    text = "ACME Ltd\nINVOICE\nTotal amount EUR 500.00\nAmount due EUR 350.00"
    assert fields(text, "invoice", min_confidence=0.0)["total"] in ("500.00", "350.00")
    assert "date" not in fields(text, "invoice", min_confidence=0.0), "nothing to choose from"


# -- issuers ------------------------------------------------------------------------------------


def test_the_vendor_follows_a_seller_label_not_the_bill_to_block() -> None:
    text = ("Rechnungsempfänger:\nMüller Bau GmbH\nHauptstr. 1, 10115 Berlin\n\n"
            "Verkäufer: Schmidt Elektro GmbH\nRechnung\nRechnungsnummer: RE-2024-117\n"
            "Gesamtbetrag 119,00 €")  # fmt: skip
    assert fields(text)["vendor"] == "Schmidt Elektro GmbH"


def test_a_company_at_the_top_is_the_vendor_and_a_note_above_it_is_not() -> None:
    text = "Please pay promptly\nNorthwind Trading B.V.\nFactuur\nFactuurnummer 2024-0117"
    text += "\nTotaal € 96,80"
    assert fields(text)["vendor"] == "Northwind Trading B.V."


def test_an_issuer_with_no_sign_of_being_one_is_not_presented_as_fact() -> None:
    found = HeuristicAnalyzer().analyze(["Northwind Traders\nINVOICE\nTotal USD 5.00"], "invoice")
    assert found.fields["vendor"].value is None
    assert found.fields["vendor"].candidates[0].value == "Northwind Traders"


@pytest.mark.parametrize(
    ("line", "vendor"),
    [
        ("[, real GmbH", "real GmbH"),  # OCR's marks before a name go
        ("Aldi GmbH & Co. KG, Schloss Holte", "Aldi GmbH & Co. KG"),  # the town after it too
        # What the document printed stays (the jobs page shows it as text).
        (MARKUP, MARKUP),
    ],
)
def test_a_name_loses_ocr_debris_but_keeps_what_the_document_printed(
    line: str, vendor: str
) -> None:
    assert fields(f"Verkäufer: {line}\nRechnung\nGesamtbetrag 10,00 €")["vendor"] == vendor


@pytest.mark.parametrize(
    "text",
    [
        # A title beside the name, and its own web address spelling it.
        "Stanford Plumbing & Heating INVOICE\n123 Madison drive, Seattle\nwww.plumbingstanford.com"
        "\nTotal $1,536.52",
        # A street the pattern does not know, then the postcode and town.
        "Stanford Plumbing & Heating\nC. de Dom Juan, 35\n28002 Madrid\nTotal 19,40 €",
    ],
)
def test_a_letterhead_is_told_by_its_address_or_its_domain(text: str) -> None:
    assert fields(text, "invoice")["vendor"] == "Stanford Plumbing & Heating"


@pytest.mark.parametrize("slogan", ["More saving.", "More doing:", "Thank you!"])
def test_a_slogan_or_a_label_is_no_name(slogan: str) -> None:
    till = f"{slogan}\n2250 Southgate Rd\nSUBTOTAL 32.29\nTOTAL $34.45"
    assert fields(till, "receipt", min_confidence=0.0).get("merchant") is None


def test_a_name_under_to_alone_is_the_buyer_and_the_footers_company_the_issuer() -> None:
    text = ("Invoice FI15636047324\nTo\nSimFin Analytics GmbH\nPfälzer Ufer 4\n"
            "Total (EUR) 208.13\nPurchased on fiverr.com\nFiverr International Ltd.\n"
            "8 Eliezer Kaplan St., Tel Aviv")  # fmt: skip
    assert fields(text, "invoice")["vendor"] == "Fiverr International Ltd."


def test_a_footer_names_the_company_before_its_legal_details() -> None:
    text = ("Bonjour, voici votre facture\nTotal TTC 12,99 €\nBOUYGUES TELECOM - "
            "Société Anonyme au capital de 712 588 399,56 € - Siège social")  # fmt: skip
    assert fields(text, "invoice")["vendor"] == "BOUYGUES TELECOM"


def test_initials_are_a_name_and_saturday_is_no_company() -> None:
    invoice = "Squeaky B.V.\nDebussystraat 43\nInvoice\nTotal €23.00"
    assert fields(invoice, "invoice")["vendor"] == "Squeaky B.V."
    receipt = "Kassenbon\nSumme 7,50\nBar 10,00\nMo - Sa: 7:30 - 22:00 Uhr"
    assert fields(receipt, "receipt").get("merchant") is None


def test_with_no_total_the_currency_is_the_documents() -> None:
    till = "Lidl\nEUR\nButter 1,99 A\nBrot 2,49 A\nBar 10,00"  # "EUR" heads the column
    analysis = HeuristicAnalyzer().analyze([till], "receipt")
    assert "total" not in analysis.fields
    assert (analysis.fields["currency"].value, analysis.fields["currency"].confidence) == (
        "EUR", 0.65)  # fmt: skip


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("Invoice No. INV-2024-0042", "INV-2024-0042"),
        ("Rechnungsnummer: RE-117", "RE-117"),
        ("Facture n° F2023-88", "F2023-88"),
        ("Factuurnummer 2024/0117", "2024/0117"),
        ("Faktura VAT nr FV/2023/10/15", "FV/2023/10/15"),
        ("Número de factura: A-0045", "A-0045"),
        ("Fattura n. 12/2024", "12/2024"),
    ],
)
def test_the_invoice_number_follows_its_label_in_each_language(line: str, number: str) -> None:
    assert fields("Total EUR 10.00\n" + line, "invoice").get("number") == number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Invoice No: #INV03051", "INV03051"),  # marks after the label
        ("FACTURE: ABC12345", "ABC12345"),  # a title, then its number
        ("Human Music BV\nInvoice number\n0276\n15-08-2021", "0276"),  # a label above it
        ("INVOICE\n# 25463\nSuperStore", "25463"),
        # "INVOICE #" names the number more surely than a logo's "invoice L060".
        ("invoice L060\nFROM INVOICE # US-001", "US-001"),
    ],
)
def test_the_invoice_number_where_a_layout_puts_it(text: str, number: str) -> None:
    assert fields(text + "\nTotal EUR 10.00", "invoice", min_confidence=0.0)["number"] == number


def test_a_receipt_has_a_number_only_after_a_label_that_names_it() -> None:
    ticket = "MERCADONA, S.A.\nFACTURA SIMPLIFICADA: 3542-019-550173\nTOTAL (€) 4,60"
    assert fields(ticket, "receipt")["number"] == "3542-019-550173"
    till = "Corner Store\nKasse Nr. 3\nTel. No 0301234567\nSumme 7,50"
    assert "number" not in fields(till, "receipt", min_confidence=0.0)


# -- the kind of document -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "change" inside "QualityExchange" is no till's change.
        (
            "QualityExchange Ltd\nINVOICE\nInvoice number 17\nBill to: Globex\nDue date 2024-05-01",
            "invoice",
        ),
        # "term" inside "Zahlungstermin" is no contract's term.
        ("Rechnung\nRechnungsnummer 2024-17\nZahlungstermin 14 Tage\nUSt-IdNr DE123", "invoice"),
        ("Facture\nTVA 20 %\nÉchéance 30 jours", "invoice"),
        # A till slip headed "TAX INVOICE" is a receipt.
        ("TAX INVOICE\nCashier: 3\nTOTAL 12.50\nCASH 20.00\nCHANGE 7.50\nThank you", "receipt"),
        ("Kassenbon\nSumme 7,50\nBar 10,00\nRückgeld 2,50", "receipt"),
        (
            "Dienstleistungsvertrag\nDie Vertragsparteien vereinbaren\nKündigung mit 3 Monaten",
            "contract",
        ),
        ("Lorem ipsum dolor sit amet.", "other"),
        # A title at the top says more than any word below it: an invoice paid by card.
        ("INVOICE\nNorth Loop BV\nPaid by card, thank you\nTotal 80.00 EUR", "invoice"),
        ("Kvittering\nOrdredetaljer\nVisa ****1234 312,00\nTotalt 312,00", "receipt"),
        # Without the words of either, a document with a total is a payment's: a till slip.
        ("MAPLE HARDWARE\n12 Oak Ave\nHAMMER 9.97\nSUBTOTAL 9.97\nTOTAL $10.79", "receipt"),
        ("Meeting notes\nBudget total: not decided yet", "other"),  # a total, but no amount
        # A party pack is no contract's party.
        (
            "Order 113533 Cashier: Eric\n1 Taco Party Pack 10.00\n1 Sft Tac Party Pk 10.00\n"
            "Total 128.27",
            "receipt",
        ),
    ],
)
def test_the_kind_is_told_by_whole_words_in_each_language(text: str, expected: str) -> None:
    assert kind(text) == expected


def test_each_fields_evidence_is_boxed_where_its_line_is_on_its_page() -> None:
    total_box = Box(left=0.1, top=0.5, right=0.4, bottom=0.53)
    subtotal_box = Box(left=0.1, top=0.45, right=0.4, bottom=0.48)
    vendor_box = Box(left=0.1, top=0.1, right=0.3, bottom=0.13)
    pages = [
        PageText(page=1, method="ocr", text="ACME Ltd\n\nSubtotal EUR 9.00\n  Total: EUR 10.00 ",
                 boxes=[vendor_box, None, subtotal_box, total_box]),
        PageText(page=2, method="text", text="Total: EUR 10.00"),  # no picture: no boxes
    ]  # fmt: skip
    analysis = Analysis(
        document_type="invoice", summary="", analyzer="llm:any",
        fields={
            "total": ExtractedField(value="10.00", evidence="Total: EUR 10.00", page=1, candidates=[
                Candidate(value="9.00", evidence="Subtotal EUR 9.00", page=1, confidence=0.3)]),
            "currency": ExtractedField(value="EUR", evidence="EUR 10.00", page=1),  # part of a line
            "date": ExtractedField(value="2024-03-05", evidence="Total: EUR 10.00", page=2),
            "number": ExtractedField(value="7", evidence="No. 7", page=1),  # on no line
        },
    )  # fmt: skip

    fields = boxed(analysis, pages).fields

    assert fields["total"].box == total_box
    assert fields["total"].candidates[0].box == subtotal_box
    assert fields["currency"].box == total_box
    assert fields["date"].box is None
    assert fields["number"].box is None
    assert fields["total"].model_dump(mode="json")["box"] == {
        "left": 0.1, "top": 0.5, "right": 0.4, "bottom": 0.53}  # fmt: skip


# -- the second OCR engine's reading --------------------------------------------------------------

SURE_RECEIPT = "Corner Coffee\n12 Mill Lane\nReceipt\n05.03.2024 09:12\nTOTAL EUR 7.50\nCash 10.00"


def test_a_scan_missing_a_required_field_is_read_again_and_the_gaps_filled() -> None:
    name_box = Box(left=0.1, top=0.05, right=0.4, bottom=0.1)
    first = PageText(page=1, method="ocr", text="Corner Coffee\n12 Mill Lane\nReceipt\nCash 10.00",
                     boxes=[name_box, None, None, None])  # fmt: skip
    again = PageText(page=1, method="ocr", text=SURE_RECEIPT,
                     boxes=[None, None, None, None, Box(left=0.1, top=0.6, right=0.5, bottom=0.65),
                            None])  # fmt: skip
    asked: list[int] = []

    def second_reading(page: PageText) -> PageText:
        asked.append(page.page)
        return again

    analysis = analysis_of([first], None, "auto", HeuristicAnalyzer(), second_reading)

    assert asked == [1]
    assert analysis.fields["total"].value == "7.50", "filled from the second reading"
    assert analysis.fields["total"].box == Box(left=0.1, top=0.6, right=0.5, bottom=0.65)
    assert analysis.fields["merchant"].evidence == "Corner Coffee", "the first reading's, kept"
    assert analysis.fields["merchant"].box == name_box, "boxed where the first reading saw it"


def test_a_complete_first_reading_or_a_text_layer_is_not_read_again() -> None:
    def second_reading(page: PageText) -> PageText:
        raise AssertionError(f"page {page.page} read again")

    sure = PageText(page=1, method="ocr", text=SURE_RECEIPT)
    layer = PageText(page=1, method="text", text="Corner Coffee\nReceipt\nCash 10.00")

    assert analysis_of([sure], None, "auto", HeuristicAnalyzer(), second_reading).fields
    unsure = analysis_of([layer], None, "auto", HeuristicAnalyzer(), second_reading)
    assert "total" not in unsure.fields


def test_a_second_reading_stands_in_when_the_first_found_no_kind_of_document() -> None:
    garbled = PageText(page=1, method="ocr", text="i tt (l RNS ik atin")
    again = PageText(page=1, method="ocr", text=SURE_RECEIPT)

    analysis = analysis_of([garbled], None, "auto", HeuristicAnalyzer(), lambda _page: again)

    assert (analysis.document_type, analysis.fields["total"].value) == ("receipt", "7.50")


def test_a_legal_form_alone_or_a_signature_line_names_no_issuer() -> None:
    sarl = fields("Facture\nSARL\nau capital de 8000 €\nFacture n° 88\nTotal TTC 74,70 €")
    signature = fields("INVOICE\nSeller: Signature Date\nInvoice no 4\nTotal 12.00 USD")

    assert (sarl.get("vendor"), sarl["total"]) == (None, "74.70")
    assert (signature.get("vendor"), signature["total"]) == (None, "12.00")


def test_a_name_its_own_web_address_spells_is_the_issuer() -> None:
    receipt = ("Brightwater Books\nReceipt\nPaperback 19.98\nTOTAL EUR 19.98\nVisa\n"
               "Ask for Brightwater Books gift cards at the till\n"
               "www.brightwater-books.co.uk")  # fmt: skip
    no_site = receipt.rsplit("\n", 1)[0]
    webmail = no_site + "\nbrightwaterbooks@gmail.com"  # a mail provider's name says nothing

    assert fields(receipt)["merchant"] == "Brightwater Books"
    assert fields(no_site).get("merchant") is None, "a first line alone is not sure enough"
    assert fields(webmail).get("merchant") is None


def test_a_date_after_today_is_not_the_documents() -> None:
    """OCR read a receipt's "18.05.20" as "18.05.29": no receipt is issued in 2029."""
    next_year = date.today().year + 1
    found = fields(f"Kassenbon\nSumme 23,84\n18.05.{next_year % 100:02d} 09:50\nBar 30,00")

    assert found.get("date") is None
    assert fields("Kassenbon\nSumme 23,84\n18.05.20 09:50\nBar 30,00")["date"] == "2020-05-18"


def test_a_french_business_park_is_an_address_not_a_name() -> None:
    found = fields("FACTURE\nZAC du Grand Pré\n22100 Dinan\nFacture n° 7\nTotal TTC 74,70 €")

    assert found.get("vendor") != "ZAC du Grand Pré"
