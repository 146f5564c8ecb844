"""The seed's system end to end: HTTP in through the local gateway, five steps, status out."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from docflow_samples import (
    e_invoice_xml,
    factur_x_pdf,
    invoice_pdf,
    invoice_png,
    long_text_pdf,
    scanned_invoice_pdf,
    two_page_tiff,
)
from docflow_testing.processes import BIN
from docflow_testing.stack import STEPS, FileServer, LocalStack
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-stack")]
# Real documents written by others (their sources and licences: benchmarks/real/SOURCES.md).
REAL = Path(__file__).parents[2] / "benchmarks" / "real" / "documents"


def new_job(url: str, **extra: Any) -> dict[str, Any]:
    return {"jobId": f"job-{uuid.uuid4().hex[:10]}", "documentUrl": url, "requesterId": "alice",
            **extra}  # fmt: skip


def field_values(status: dict[str, Any]) -> dict[str, Any]:
    return {name: f["value"] for name, f in status["result"]["fields"].items()}


def test_a_text_pdf_goes_through_five_steps_to_done_with_its_fields(
    stack: LocalStack, files: FileServer
) -> None:
    job = new_job(files.serve("/invoice.pdf", invoice_pdf(), "application/pdf"))

    accepted = stack.submit(job)
    status = stack.wait_finished(job["jobId"])

    assert accepted.status_code == 202
    assert accepted.json() == {"status": "accepted", "jobId": job["jobId"],
                               "statusUrl": f"/status/{job['jobId']}"}  # fmt: skip
    assert accepted.headers["Location"] == f"/status/{job['jobId']}"
    assert int(accepted.headers["Retry-After"]) > 0
    assert status["status"] == "done", status
    assert [(s["name"], s["state"]) for s in status["steps"]] == [(n, "done") for n in STEPS]
    assert status["result"]["documentType"] == "invoice"
    assert field_values(status) == {
        "vendor": "ACME Tools Ltd",
        "number": "INV-2024-0042",
        "date": "2024-03-05",
        "total": "1230.50",
        "currency": "EUR",
    }
    assert (
        status["result"]["resultUrl"] == f"s3://docflow-artifacts/jobs/{job['jobId']}/result.json"
    )
    assert stack.step_attempts(job["jobId"]) == dict.fromkeys(STEPS, 1)


def test_an_e_invoice_is_read_exactly_from_its_xml(stack: LocalStack, files: FileServer) -> None:
    """A Factur-X PDF (a real EN 16931 invoice attached to its printed page) and a UBL invoice
    sent as the XML itself: every field as the XML states it, certain."""
    printed = ["De Koksmaat", "Factuur 12115118", "Datum 09-01-2015", "Totaal EUR 205,33"]
    pdf = new_job(files.serve("/factur-x.pdf",
                              factur_x_pdf(e_invoice_xml("CII_example1.xml"), printed),
                              "application/pdf"))  # fmt: skip
    ubl = new_job(files.serve("/invoice.xml", e_invoice_xml("ubl-tc434-example2.xml"),
                              "application/xml"))  # fmt: skip

    for job in (pdf, ubl):
        assert stack.submit(job).status_code == 202
    from_pdf = stack.wait_finished(pdf["jobId"])
    from_xml = stack.wait_finished(ubl["jobId"])

    assert from_pdf["status"] == from_xml["status"] == "done", (from_pdf, from_xml)
    assert field_values(from_pdf) == {"number": "12115118", "date": "2015-01-09",
                                      "vendor": "De Koksmaat", "currency": "EUR",
                                      "total": "250.33"}  # fmt: skip
    assert field_values(from_xml) == {"number": "TOSL108", "date": "2013-06-30",
                                      "vendor": "Salescompany ltd.", "currency": "NOK",
                                      "total": "1801.78"}  # fmt: skip
    for status in (from_pdf, from_xml):
        result = status["result"]
        assert (result["analyzer"], result["documentType"]) == ("e-invoice", "invoice")
        assert {field["confidence"] for field in result["fields"].values()} == {1.0}
    # The page prints 205,33 where the XML says 250.33: the result says so.
    assert from_pdf["result"]["disagreements"] == [{
        "field": "total", "value": "250.33",
        "message": "the e-invoice's total 250.33 is not printed on the document's pages",
    }]  # fmt: skip
    assert from_xml["result"]["disagreements"] == []
    assert from_pdf["result"]["fields"]["vendor"]["evidence"] == (
        "factur-x.xml (CII): Name: De Koksmaat"
    )


def test_a_scanned_pdf_is_read_by_ocr(stack: LocalStack, files: FileServer) -> None:
    job = new_job(files.serve("/scan.pdf", scanned_invoice_pdf(), "application/pdf"))

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "done", status
    values = field_values(status)
    assert values["number"] == "INV-2024-0042"
    assert values["total"] == "1230.50"
    assert values["date"] == "2024-03-05"


def test_a_total_tesseract_misses_on_a_real_receipt_is_read_by_the_second_engine(
    stack: LocalStack, files: FileServer
) -> None:
    """A Lidl receipt scan (benchmarks/real, CC-BY-4.0) whose total Tesseract's reading leaves
    out (test_ocr proves it): the analyze step reads the page's stored picture again with
    RapidOCR, and the job's total is the receipt's, boxed on that picture."""
    scan = (REAL / "softmatic" / "A-lidl_11042020_08_01977.jpg").read_bytes()
    job = new_job(files.serve("/lidl-receipt.jpg", scan, "image/jpeg"))

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "done", status
    total = status["result"]["fields"]["total"]
    assert total["value"] == "19.77"
    assert 0 <= total["box"]["top"] < total["box"]["bottom"] <= 1


@pytest.mark.parametrize(
    ("name", "document", "pages"),
    [("invoice.png", invoice_png, 1), ("scan.tiff", two_page_tiff, 2)],
)
def test_an_image_document_is_read_by_ocr_page_by_page(
    stack: LocalStack, files: FileServer, name: str, document: Any, pages: int
) -> None:
    job = new_job(files.serve(f"/{uuid.uuid4().hex[:6]}-{name}", document()))

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "done", status
    assert status["result"]["pages"] == pages
    assert field_values(status)["number"] == "INV-2024-0042"
    assert field_values(status)["total"] == "1230.50"


def test_twenty_concurrent_identical_posts_start_exactly_one_workflow(
    stack: LocalStack, files: FileServer
) -> None:
    job = new_job(files.serve("/same.pdf", invoice_pdf(), "application/pdf"))

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: stack.submit(job), range(20)))
    status = stack.wait_finished(job["jobId"])
    again = stack.submit(job)

    assert {a.status_code for a in answers} == {202}
    assert {a.text for a in answers} == {again.text}
    assert status["status"] == "done"
    assert stack.step_attempts(job["jobId"]) == dict.fromkeys(STEPS, 1), "one workflow"


def test_the_same_job_id_with_a_different_body_is_a_conflict(
    stack: LocalStack, files: FileServer
) -> None:
    job = new_job(files.serve("/first.pdf", invoice_pdf(), "application/pdf"))
    assert stack.submit(job).status_code == 202

    conflict = stack.submit({**job, "requesterId": "mallory"})

    assert conflict.status_code == 409
    assert conflict.json()["error"] == "conflict"
    assert job["jobId"] in conflict.json()["message"]


def password_protected_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Invoice INV-7, total EUR 10.00, readable only with the password.")
    pdf.set_encryption(
        owner_password="owner", user_password="user", encryption_method=EncryptionMethod.RC4
    )
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("reason", "path", "body"),
    [
        ("not_found", "/missing.pdf", None),
        ("unsupported_type", "/archive.zip", b"PK\x03\x04" + bytes(range(256)) * 4),
        ("corrupt_document", "/broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100),
        ("encrypted_document", "/locked.pdf", password_protected_pdf()),
        ("too_large", "/long.pdf", long_text_pdf(21)),  # the stack's DOCFLOW_MAX_PAGES is 20
    ],
)
def test_a_document_that_cannot_be_processed_fails_the_job_with_its_reason(
    stack: LocalStack, files: FileServer, reason: str, path: str, body: bytes | None
) -> None:
    url = files.serve(path, body) if body is not None else files.url(path)
    job = new_job(url)

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "failed"
    assert status["error"]["reason"] == reason, status["error"]
    assert status["step"] == "download"
    assert stack.step_attempts(job["jobId"]) == {"download": 1}, "a permanent error: no retry"


def test_a_source_that_keeps_timing_out_fails_the_job_with_timeout(
    stack: LocalStack, files: FileServer
) -> None:
    url = files.serve("/slow.pdf", invoice_pdf(), "application/pdf")
    files.delays["/slow.pdf"] = 4  # past the stack's 2 s read timeout, on every attempt
    job = new_job(url)

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "failed"
    assert status["error"]["reason"] == "timeout", status["error"]
    download = status["steps"][0]
    assert (download["name"], download["state"], download["attempts"]) == ("download", "failed", 4)


def test_a_source_that_drips_its_body_fails_the_job_with_timeout(
    stack: LocalStack, files: FileServer
) -> None:
    # Every read succeeds within the read timeout; the whole download never ends in time.
    url = files.serve("/drip.pdf", invoice_pdf(), "application/pdf")
    files.drips["/drip.pdf"] = 0.3
    job = new_job(url)

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "failed"
    assert status["error"]["reason"] == "timeout", status["error"]
    assert "took longer than 2 s" in status["error"]["message"]


def test_a_url_outside_the_allowlist_is_refused_without_fetching(stack: LocalStack) -> None:
    job = new_job("http://127.0.0.2:9/internal.pdf")

    assert stack.submit(job).status_code == 202
    status = stack.wait_finished(job["jobId"])

    assert status["status"] == "failed"
    assert status["error"]["reason"] == "url_refused"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        ("{not json", "application/json", 400, "invalid_json"),
        (b'{"jobId": "\xc8"}', "application/json", 400, "invalid_json"),  # not UTF-8
        ('{"jobId": "a"}', "application/json", 422, "validation_error"),
        (
            '{"jobId": "a b", "documentUrl": "ftp://x", "requesterId": "r"}',
            "application/json",
            422,
            "validation_error",
        ),
        ('{"jobId": "a"}', "text/plain", 415, "unsupported_media_type"),
        ("[]", "application/json", 422, "validation_error"),
        ("x" * (256 * 1024 + 1), "application/json", 413, "payload_too_large"),
    ],
)
def test_bad_input_gets_a_clear_json_error(
    stack: LocalStack, content: str | bytes, content_type: str, status: int, error: str
) -> None:
    answer = httpx.post(f"{stack.gateway}/process-document", content=content,
                        headers={"Content-Type": content_type}, timeout=30)  # fmt: skip

    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error
    assert body["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/status/never-submitted", 404),
        ("GET", "/status/bad%20id", 400),
        ("GET", "/status/a%0A", 404),  # a newline: no route matches it, JSON still
        ("POST", "/jobs/a%0A/cancel", 404),
        ("GET", "/nowhere", 404),
        ("DELETE", "/status/x", 405),
    ],
)
def test_unknown_jobs_routes_and_methods_get_json_errors(
    stack: LocalStack, method: str, path: str, status: int
) -> None:
    answer = httpx.request(method, stack.gateway + path, timeout=30)

    assert answer.status_code == status
    assert answer.json()["message"]


def test_make_up_names_a_port_that_is_already_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "DOCFLOW_STATE_DIR": str(tmp_path), "DOCFLOW_REDIS_PORT": str(port)}
        done = subprocess.run([str(BIN / "docflow-stack"), "up"], env=env, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip

    assert done.returncode != 0
    assert f"port {port}" in done.stderr
    assert "Redis-compatible store" in done.stderr
    assert not list((tmp_path / "run").glob("*.pid")), "nothing was left running"


def test_another_jobs_stored_data_is_never_an_input(stack: LocalStack, files: FileServer) -> None:
    victim = new_job(files.serve("/victim.pdf", invoice_pdf(), "application/pdf"))
    assert stack.submit(victim).status_code == 202
    assert stack.wait_finished(victim["jobId"])["status"] == "done"

    thief = new_job(f"s3://docflow-artifacts/jobs/{victim['jobId']}/text.json")
    assert stack.submit(thief).status_code == 202
    status = stack.wait_finished(thief["jobId"])

    assert status["status"] == "failed"
    assert status["error"]["reason"] == "url_refused"
