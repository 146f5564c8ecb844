"""The worker's pure logic: document sniffing, the URL guard, and the heuristic analyzer."""

from __future__ import annotations

import asyncio
import inspect
import io
import ipaddress
import json
from typing import Any

import pytest
from docflow_samples import CONTRACT_TEXT, INVOICE_LINES, RECEIPT_TEXT, invoice_pdf
from docflow_shared.errors import InvalidDocument, ReasonedError, StepFailed
from docflow_shared.models import Analysis, Disagreement
from docflow_shared.retry import Backoff
from docflow_shared.settings import forget_settings
from docflow_shared.url_guard import check_url, refused
from docflow_worker import retrying
from docflow_worker.analyzer import HeuristicAnalyzer, summarize
from docflow_worker.documents import PDF, PNG, TEXT, page_count, sniff_type
from docflow_worker.domain import Approval, Document, Job, PageBatch
from docflow_worker.steps.download import download
from docflow_worker.steps.extract import extract_pages
from docflow_worker.steps.review import approval_required, corrected, unsure
from resonate.codec import Codec, NoopEncryptor
from resonate.durable import DurableFunction

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.7 rest", PDF),
        (b"\x89PNG\r\n\x1a\n....", PNG),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"II*\x00....", "image/tiff"),
        (b"MM\x00*....", "image/tiff"),
        ("Grüße, plain text".encode(), TEXT),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str) -> None:
    assert sniff_type(data) == expected


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04zip", b"\x00\x01\x02binary", b"", b"\xff\xfe\xfd" * 50]
)
def test_anything_else_is_an_unsupported_type(data: bytes) -> None:
    with pytest.raises(InvalidDocument) as info:
        sniff_type(data)
    assert info.value.reason == "unsupported_type"


def test_a_pdf_reports_its_pages_and_a_broken_one_is_corrupt() -> None:
    assert page_count(invoice_pdf(), PDF) == 1
    with pytest.raises(InvalidDocument) as info:
        page_count(b"%PDF-1.4\n garbage", PDF)
    assert info.value.reason == "corrupt_document"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://127.1.2.3/x",
        "http://10.0.0.8/x",
        "http://192.168.1.1/x",
        "http://172.16.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[::ffff:7f00:1]/x",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://0.0.0.0/x",
        # Other spellings of 127.0.0.1 and 169.254.169.254 (resolved without DNS).
        "http://2130706433/x",
        "http://0x7f000001/x",
        "http://017700000001/x",
        "http://127.1/x",
        "http://0xa9.0xfe.0xa9.0xfe/x",
        "http://2852039166/x",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
    ],
)
def test_non_public_addresses_and_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        check_url(url, [])
    assert info.value.reason == "url_refused"


@pytest.mark.parametrize(
    ("address", "is_refused"),
    [
        ("169.254.169.254", True),
        ("fd00:ec2::254", True),
        ("::ffff:10.0.0.1", True),
        ("100.100.100.100", True),
        ("224.0.0.251", True),
        ("240.0.0.1", True),
        ("fe80::1", True),
        ("ff02::1", True),
        ("::", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_the_address_classifier(address: str, is_refused: bool) -> None:
    # Classified, never connected to: a broken guard must not send traffic off the machine.
    assert refused(ipaddress.ip_address(address)) is is_refused


def test_a_checked_url_is_pinned_to_the_checked_address() -> None:
    pinned = check_url("https://127.0.0.1:8443/a/doc.pdf?v=1", ["127.0.0.1"])
    assert (pinned.url, pinned.headers) == ("https://127.0.0.1:8443/a/doc.pdf?v=1",
                                            {"Host": "127.0.0.1:8443"})  # fmt: skip
    assert pinned.extensions == {"sni_hostname": "127.0.0.1"}
    v6 = check_url("http://[::1]/doc.pdf", ["::1"])
    assert (v6.url, v6.headers, v6.extensions) == ("http://[::1]/doc.pdf", {"Host": "[::1]"}, {})


def test_the_allowlist_opens_a_host_or_a_range() -> None:
    check_url("http://127.0.0.1:8000/doc.pdf", ["127.0.0.1"])
    check_url("http://10.1.2.3/doc.pdf", ["10.0.0.0/8"])
    with pytest.raises(InvalidDocument):
        check_url("http://127.0.0.2/doc.pdf", ["127.0.0.1"])


def analyzed(text: str, hint: str = "auto") -> dict[str, Any]:
    """The heuristic analysis of ``text`` as the job's result shows it."""
    return HeuristicAnalyzer().analyze([text], hint).model_dump(mode="json", exclude_none=True)


def fields(text: str, hint: str = "auto") -> tuple[str, dict[str, object]]:
    analysis = analyzed(text, hint)
    return analysis["documentType"], {k: v["value"] for k, v in analysis["fields"].items()}


def test_an_invoice_is_classified_and_its_fields_extracted_with_evidence() -> None:
    text = "\n".join(INVOICE_LINES)
    analysis = analyzed(text)

    assert analysis["documentType"] == "invoice"
    assert analysis["fields"]["total"] == {
        "value": "1230.50", "evidence": "Total: EUR 1,230.50", "page": 1, "confidence": 0.8
    }  # fmt: skip
    expected = {"vendor": "ACME Tools Ltd", "number": "INV-2024-0042", "date": "2024-03-05"}
    assert fields(text)[1] == {**expected, "total": "1230.50", "currency": "EUR"}


def test_a_receipt_and_a_contract_get_their_own_fields() -> None:
    # A first line with nothing to say it is the shop (an address, a legal form): a candidate.
    assert fields(RECEIPT_TEXT) == (
        "receipt",
        {"merchant": None, "date": "2024-04-12", "total": "10.50", "currency": "USD"},
    )
    kind, found = fields(CONTRACT_TEXT)
    assert kind == "contract"
    assert found["parties"] == ["Initech LLC", "Hooli Inc."]
    assert found["term"] == "12 months"
    assert found["fees"] == "5000.00"


def test_the_requested_type_wins_over_classification() -> None:
    assert fields(RECEIPT_TEXT, hint="other") == ("other", {})


def test_text_with_no_signal_is_other() -> None:
    assert fields("Lorem ipsum dolor sit amet.")[0] == "other"


def test_the_summary_is_extractive_and_bounded() -> None:
    text = "First real sentence is here. Second one follows it now. Third closes the set. Fourth."
    assert summarize(text) == (
        "First real sentence is here. Second one follows it now. Third closes the set."
    )
    assert len(summarize("word " * 1000)) <= 401


def invoice_analysis(total: str | None, document_type: str = "invoice") -> Analysis:
    fields = {"total": {"value": total, "evidence": "", "page": 1}} if total else {}
    return Analysis.model_validate({"documentType": document_type, "fields": fields,
                                    "summary": "", "analyzer": "heuristic"})  # fmt: skip


def a_job(require_approval: bool) -> Job:
    return Job.model_validate({"jobId": "j-1", "documentUrl": "https://example.com/a.pdf",
                               "requesterId": "alice", "requireApproval": require_approval,
                               "deadlineAt": 2**42})  # fmt: skip


@pytest.mark.parametrize(
    ("asked", "analysis", "limit", "needed"),
    [
        (True, invoice_analysis(None, "receipt"), None, True),
        (False, invoice_analysis("1230.50"), None, False),
        (False, invoice_analysis("1230.50"), "1000", True),
        (False, invoice_analysis("999.99"), "1000", False),
        (False, invoice_analysis(None), "1000", False),
        (False, invoice_analysis("5.00", "receipt"), "0", False),
    ],
)
def test_approval_is_needed_when_asked_or_for_a_large_invoice(
    monkeypatch: pytest.MonkeyPatch,
    asked: bool,
    analysis: Analysis,
    limit: str | None,
    needed: bool,
) -> None:
    if limit is not None:
        monkeypatch.setenv("DOCFLOW_APPROVAL_INVOICE_OVER", limit)
    forget_settings()
    try:
        assert approval_required(a_job(asked), analysis) is needed
    finally:
        forget_settings()


def a_field(value: str | None, confidence: float | None) -> dict[str, Any]:
    return {"value": value, "evidence": "", "page": 1, "confidence": confidence}


def analysis_with(document_type: str = "invoice", **fields: dict[str, Any]) -> Analysis:
    sure = {"vendor": a_field("ACME Ltd", 0.9), "date": a_field("2024-03-05", 0.9),
            "total": a_field("10.00", 0.9), "currency": a_field("EUR", 0.95)}  # fmt: skip
    return Analysis.model_validate({"documentType": document_type, "fields": sure | fields,
                                    "summary": "", "analyzer": "heuristic"})  # fmt: skip


@pytest.mark.parametrize(
    ("analysis", "needed"),
    [
        (analysis_with(), False),
        (analysis_with(total=a_field(None, 0.5)), True),  # unsure: no value
        (analysis_with(vendor=a_field("ACME Ltd", 0.74)), True),  # below 0.75
        (analysis_with(vendor=a_field("ACME Ltd", None)), False),  # an LLM's: no confidence
        (analysis_with("other"), True),  # a kind docflow cannot read
        (analysis_with(number=a_field(None, 0.3)), False),  # not a required field
    ],
)
def test_auto_approval_asks_a_person_only_when_the_analysis_is_unsure(
    analysis: Analysis, needed: bool
) -> None:
    job = a_job(False).model_copy(update={"require_approval": "auto"})
    forget_settings()
    try:
        assert approval_required(job, analysis) is needed
    finally:
        forget_settings()


def test_a_document_that_contradicts_itself_is_unsure() -> None:
    contradicted = analysis_with().model_copy(update={"disagreements": [Disagreement(
        field="total", value="10.00", message="not printed")]})  # fmt: skip
    assert unsure(contradicted, 0.75)
    assert not unsure(analysis_with(), 0.75)


def test_the_reviewers_corrections_replace_the_analyzers_values() -> None:
    approval = Approval(approved_by="rita", comment="", corrected={"total": "12.00"})

    fields = corrected(analysis_with(), approval).fields

    assert fields["total"].model_dump(mode="json") == {
        "value": "12.00", "evidence": "corrected by rita", "page": 1, "confidence": 1.0,
        "source": "reviewer"}  # fmt: skip
    assert fields["vendor"].value == "ACME Ltd"
    assert corrected(analysis_with(), None) == analysis_with()


def test_the_total_is_not_the_subtotal() -> None:
    text = "Northwind Traders\nINVOICE\nInvoice No. INV-7\nSubtotal: $100.00\nVAT 20%: $20.00\n"
    text += "Total due: $120.00\n"

    fields = analyzed(text)["fields"]

    assert (fields["total"]["value"], fields["currency"]["value"]) == ("120.00", "USD")


def test_the_invoice_date_is_not_the_due_date() -> None:
    text = "Globex Supplies GmbH\nINVOICE\nInvoice number INV-9\nDue date March 5, 2025\n"
    text += "Issue date 3 Feb 2025\nBalance due 1.234,56 EUR\n"

    fields = analyzed(text, "invoice")["fields"]

    assert fields["date"]["value"] == "2025-02-03"
    assert (fields["total"]["value"], fields["currency"]["value"]) == ("1234.56", "EUR")


def test_an_unlabelled_date_is_taken_when_there_is_no_labelled_one() -> None:
    text = "Corner Coffee\n12 Market Square\n09/25/2023 12:30 Till 5\nFlat white $3.50\n"
    text += "TOTAL $3.50\n"

    fields = analyzed(text, "receipt")["fields"]

    assert fields["date"]["value"] == "2023-09-25"
    assert fields["date"]["evidence"] == "09/25/2023 12:30 Till 5"


def test_an_unexpected_error_is_retried_and_logged_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retrying, "STEP_BACKOFF", Backoff(first_seconds=0.0, max_seconds=0.0))
    logged = io.StringIO()
    monkeypatch.setattr(retrying.logger.registered_handler, "stream", logged)
    calls: list[int] = []

    def buggy_once(job: Job) -> str:
        calls.append(1)
        if len(calls) == 1:
            return str({}["missing"])  # a bug: KeyError
        return "stored"

    result = asyncio.run(retrying._run_with_retries(buggy_once, "store", a_job(False), ()))

    retried = [json.loads(line) for line in logged.getvalue().splitlines()
               if '"step failed, retrying"' in line]  # fmt: skip
    assert result == "stored"
    assert len(calls) == 2
    assert retried[0]["exception_name"] == "KeyError"
    assert "Traceback" in retried[0]["exception"]


DOCUMENT = Document(key="jobs/j-1/document", sha256="0" * 64, content_type="application/pdf",
                    bytes=1234, pages=3)  # fmt: skip


def test_a_replayed_step_gives_the_workflow_the_steps_model_again() -> None:
    """A checkpoint is stored as JSON; on replay the SDK rebuilds it from the step's annotation
    (``checkpoint`` shows the SDK the step's own signature)."""
    codec = Codec(NoopEncryptor())
    stored = codec.decode(codec.encode(DOCUMENT))  # as the server keeps it and a replay reads it

    assert stored["contentType"] == "application/pdf", "camelCase on the wire"
    assert DurableFunction(retrying.checkpoint(download)).coerce_result(stored) == DOCUMENT


def test_a_page_batch_sent_to_another_worker_gets_its_models_back() -> None:
    """``ctx.rpc`` sends a batch's arguments as JSON; the worker that runs it coerces them by
    the annotations ``checkpoint`` shows."""
    shown = inspect.signature(retrying.checkpoint(extract_pages))

    assert [p.annotation for p in shown.parameters.values()] == [
        inspect.Parameter.empty, Job, Document, int, int
    ]  # fmt: skip
    assert shown.return_annotation is PageBatch


def test_a_bug_fails_the_step_after_three_attempts_with_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retrying, "STEP_BACKOFF", Backoff(first_seconds=0.0, max_seconds=0.0))
    announced: list[ReasonedError] = []
    monkeypatch.setattr(retrying, "announce_failure", lambda _job, error: announced.append(error))
    calls: list[int] = []

    def buggy(job: Job) -> list[object]:
        calls.append(1)
        return sorted([object(), object()])  # a bug: TypeError, every time

    with pytest.raises(StepFailed) as failed:
        asyncio.run(retrying._run_with_retries(buggy, "analyze", a_job(False), ()))

    assert len(calls) == 3
    assert failed.value.reason == "internal_error"
    assert failed.value.message.startswith("analyze failed: TypeError: '<' not supported")
    assert announced == [failed.value], "the requester is told, once"


def test_an_outage_is_retried_well_past_the_attempts_a_bug_gets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retrying, "STEP_BACKOFF", Backoff(first_seconds=0.0, max_seconds=0.0))
    calls: list[int] = []

    def blob_store_down_for_a_while(job: Job) -> str:
        calls.append(1)
        if len(calls) <= 10:
            raise ConnectionRefusedError(111, "Connection refused")
        return "stored"

    result = asyncio.run(
        retrying._run_with_retries(blob_store_down_for_a_while, "store", a_job(False), ())
    )

    assert (result, len(calls)) == ("stored", 11)
