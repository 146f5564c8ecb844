"""E-invoices read from their XML (``docflow_worker.e_invoice``): real EN 16931 examples in CII
and UBL (docflow_samples/e_invoices, source and licence in SOURCES.md), attached to a PDF as
Factur-X carries them, and XML that must not be trusted."""

from __future__ import annotations

import pytest
from docflow_samples import e_invoice_xml, factur_x_pdf, invoice_pdf
from docflow_worker.e_invoice import analysis, attached_xml, printed, read

pytestmark = pytest.mark.unit

# What each real example states (read by eye from the files).
EXPECTED = {
    "CII_example1.xml": {"number": "12115118", "date": "2015-01-09", "vendor": "De Koksmaat",
                         "currency": "EUR", "total": "250.33"},
    "ubl-tc434-example2.xml": {"number": "TOSL108", "date": "2013-06-30",
                               "vendor": "Salescompany ltd.", "currency": "NOK",
                               "total": "1801.78"},
    "ubl-tc434-creditnote1.xml": {"number": "018304 / 28865", "date": "2019-09-23",
                                  "vendor": "My Supplier Company", "currency": "EUR",
                                  "total": "100.11"},
}  # fmt: skip

# ZUGFeRD 1.0 (before EN 16931): other element names for the same terms. Written for this test.
FERD_1 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
  xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15">
  <rsm:HeaderExchangedDocument>
    <ram:ID>RE-2014-117</ram:ID>
    <ram:IssueDateTime><udt:DateTimeString format="102">20140228</udt:DateTimeString></ram:IssueDateTime>
  </rsm:HeaderExchangedDocument>
  <rsm:SpecifiedSupplyChainTradeTransaction>
    <ram:ApplicableSupplyChainTradeAgreement>
      <ram:SellerTradeParty><ram:Name>M\xc3\xbcller Holzbau GmbH</ram:Name></ram:SellerTradeParty>
    </ram:ApplicableSupplyChainTradeAgreement>
    <ram:ApplicableSupplyChainTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementMonetarySummation>
        <ram:GrandTotalAmount currencyID="EUR">1428.00</ram:GrandTotalAmount>
      </ram:SpecifiedTradeSettlementMonetarySummation>
    </ram:ApplicableSupplyChainTradeSettlement>
  </rsm:SpecifiedSupplyChainTradeTransaction>
</rsm:CrossIndustryDocument>"""  # noqa: E501


def values(xml: bytes) -> dict[str, str]:
    invoice = read(xml, "test.xml")
    assert invoice is not None
    return {name: value for name, (value, _element) in invoice.fields.items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_cii_and_ubl_invoices_are_read_exactly(name: str) -> None:
    assert values(e_invoice_xml(name)) == EXPECTED[name]


def test_a_zugferd_1_invoice_is_read_by_its_own_element_names() -> None:
    assert values(FERD_1) == {"number": "RE-2014-117", "date": "2014-02-28",
                              "vendor": "Müller Holzbau GmbH", "currency": "EUR",
                              "total": "1428.00"}  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "missing"),
    [
        ((b'format="102">20140228', b'format="610">201402'), "date"),  # a month: no day
        ((b'format="102">20140228', b'format="102">20140231'), "date"),  # no such day
        ((b">1428.00<", b">1.428,00<"), "total"),  # not an XML decimal
        ((b">EUR</ram:InvoiceCurrencyCode>", b">Euro</ram:InvoiceCurrencyCode>"), "currency"),
    ],
)
def test_a_value_the_standard_does_not_allow_is_left_out_not_guessed(
    edit: tuple[bytes, bytes], missing: str
) -> None:
    found = values(FERD_1.replace(*edit))
    assert missing not in found
    assert len(found) == 4, "the other fields are still read"


def test_entities_are_not_expanded_and_nothing_is_fetched() -> None:
    secret = "/etc/hostname"
    hostile = FERD_1.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE x [<!ENTITY leak SYSTEM "file://'
        + secret.encode()
        + b'">]>',
    ).replace(b"RE-2014-117", b"&leak;")
    found = values(hostile)
    assert "number" not in found, "the entity was left as it is, not read from the file"


@pytest.mark.parametrize(
    "xml",
    [b"<html><body>Invoice</body></html>", b"<rsm:CrossIndustryInvoice", b"not xml at all"],
)
def test_xml_that_is_not_an_e_invoice_is_none(xml: bytes) -> None:
    assert read(xml, "x.xml") is None


def test_a_pdf_gives_up_its_attached_invoice_and_one_without_gives_none() -> None:
    xml = e_invoice_xml("CII_example1.xml")
    decoy = b"<notes><note>not an invoice</note></notes>"
    pdf = factur_x_pdf(xml, ["De Koksmaat"], name="factur-x.xml")

    assert attached_xml(pdf) == ("factur-x.xml", xml)
    assert attached_xml(factur_x_pdf(decoy, ["x"], name="notes.xml")) is None
    assert attached_xml(invoice_pdf()) is None
    # Any attached XML that is an invoice is found, whatever it is called.
    assert attached_xml(factur_x_pdf(xml, ["x"], name="rechnung.xml")) == ("rechnung.xml", xml)


def test_the_analysis_is_certain_and_says_where_each_field_came_from() -> None:
    invoice = read(e_invoice_xml("CII_example1.xml"), "factur-x.xml")
    assert invoice is not None

    result = analysis(invoice, ["De Koksmaat", "Totaal: EUR 250,33"], "")

    assert (result.analyzer, result.document_type) == ("e-invoice", "invoice")
    assert {f.confidence for f in result.fields.values()} == {1.0}
    assert result.fields["total"].evidence == "factur-x.xml (CII): GrandTotalAmount: 250.33"
    assert result.disagreements == []
    assert "De Koksmaat" in result.summary


def test_a_total_the_printed_pages_do_not_show_is_a_disagreement() -> None:
    invoice = read(e_invoice_xml("CII_example1.xml"), "factur-x.xml")
    assert invoice is not None

    result = analysis(invoice, ["De Koksmaat", "Totaal: EUR 205,33"], "")

    assert [(d.field, d.value) for d in result.disagreements] == [("total", "250.33")]
    assert result.fields["total"].value == "250.33", "the XML's value stands"


@pytest.mark.parametrize(
    ("amount", "text", "shown"),
    [
        ("1801.78", "Total 1,801.78 NOK", True),
        ("1801.78", "Totaal € 1.801,78", True),
        ("1801.78", "Summe 1 801,78", True),
        ("1801.78", "Total CHF 1'801.78", True),
        ("100.10", "Total 100.1 EUR", True),
        ("250.33", "12250.33", False),
        ("250.33", "250.335", False),
        ("1801.78", "1801.7", False),
    ],
)
def test_a_printed_amount_is_recognised_in_each_usual_notation(
    amount: str, text: str, shown: bool
) -> None:
    assert printed(amount, text) is shown
