"""The jobs page (``GET /`` on the local gateway) in a real headless Chromium, on a real stack.

The stack requires a bearer token, so every browser test also goes through the page's token
box: the page first says the API needs a token, then shows the jobs once it has one. The browser:
``tests.e2e.browser``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from docflow_samples import invoice_pdf, unsure_invoice_pdf
from docflow_testing.processes import Process
from docflow_testing.stack import STEPS, FileServer, LocalStack, running_stack
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.browser import chromium, loopback_only

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-jobs-page-stack")]

TOKEN = "jobs-page-token"
WAIT_MS = 60_000

# An invoice whose vendor and summary are markup: the page must show it as text.
VENDOR_MARKUP = '<img src=x onerror="window.injected=1"><b>Bold</b> Tools Ltd'
MARKUP_INVOICE = f"""Vendor: {VENDOR_MARKUP}
INVOICE
Invoice Number: INV-0099
Invoice Date: 2024-03-05
Total: EUR 10.00
Thank you for <b>your</b> business today.
"""


@pytest.fixture(scope="module")
def page_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # A job is reported waiting for a worker 2 s after its worker's last sign of life.
    yield from running_stack(
        tmp_path_factory, "jobs-page-stack", DOCFLOW_API_TOKEN=TOKEN, DOCFLOW_STUCK_AFTER="2"
    )


@pytest.fixture(scope="module")
def api(page_stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=page_stack.gateway, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def invoice(files: FileServer) -> str:
    return files.serve("/jobs-page-invoice.pdf", invoice_pdf(), "application/pdf")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def page(browser: Browser, page_stack: LocalStack) -> Iterator[Page]:
    """The jobs page, given the token after it asked for one; fails on any script error."""
    context = loopback_only(browser)
    opened = context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda err: script_errors.append(str(err)))
    opened.goto(f"{page_stack.gateway}/")
    notice = opened.locator("#notice")
    expect(notice).to_contain_text("needs a token (401)")
    opened.fill("#token", TOKEN)
    opened.click("#token-use")
    expect(notice).to_be_hidden()
    yield opened
    context.close()
    assert script_errors == []


def submit(api: httpx.Client, document: str, prefix: str, **fields: Any) -> str:
    job_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    job = {"jobId": job_id, "documentUrl": document, "requesterId": "alice", **fields}
    answer = api.post("/process-document", json=job)
    assert answer.status_code == 202, answer.text
    return job_id


def card_of(page: Page, job_id: str) -> Locator:
    return page.locator(f'[data-job-id="{job_id}"]')


def wait_for_status(card: Locator, status: str) -> None:
    expect(card).to_have_attribute("data-status", status, timeout=WAIT_MS)
    expect(card.locator('[data-field="status"]')).to_have_text(status.replace("_", " "))


def test_the_gateway_serves_the_page_and_its_api_as_before(page_stack: LocalStack) -> None:
    gateway = page_stack.gateway
    html = httpx.get(f"{gateway}/", timeout=30)
    script = httpx.get(f"{gateway}/assets/jobs.js", timeout=30)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert '<script src="/assets/jobs.js"' in html.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert html.headers["content-security-policy"].startswith("default-src 'self'")

    refused = httpx.get(f"{gateway}/jobs", timeout=30)
    listed = httpx.get(f"{gateway}/jobs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert listed.status_code == 200, listed.text
    assert isinstance(listed.json()["jobs"], list)

    # Every other path is still the API's: unknown routes are JSON 404s.
    for method, path in [("POST", "/"), ("GET", "/assets/missing.js"), ("GET", "/nope")]:
        answer = httpx.request(method, f"{gateway}{path}", timeout=30)
        assert (answer.status_code, answer.json()["error"]) == (404, "not_found"), path


def test_a_job_appears_and_moves_to_done_with_its_steps_and_result(
    page: Page, api: httpx.Client, invoice: str
) -> None:
    job_id = submit(api, invoice, "page-done")
    card = card_of(page, job_id)

    wait_for_status(card, "done")

    rows = card.locator("tr[data-step]")
    expect(rows).to_have_count(len(STEPS))
    assert rows.locator("td:first-child").all_text_contents() == STEPS
    expect(card.locator('tr[data-step][data-state="done"]')).to_have_count(len(STEPS))
    expect(rows.locator("time")).to_have_count(2 * len(STEPS))  # each started and ended
    expect(card.locator('[data-field="document-type"]')).to_have_text("invoice")
    expect(card.locator('[data-field="workflow-version"]')).to_have_text("v2")
    vendor = card.locator('[data-field-name="vendor"] [data-field="value"]')
    expect(vendor).to_have_text("ACME Tools Ltd")
    correlation_id = api.get(f"/status/{job_id}").json()["correlationId"]
    assert correlation_id
    expect(card.locator('[data-field="correlation-id"]')).to_have_text(correlation_id)
    # The token lives in the tab's sessionStorage: a reload needs no new one.
    page.reload()
    expect(card_of(page, job_id)).to_have_attribute("data-status", "done")
    expect(page.locator("#notice")).to_be_hidden()


def test_a_reviewer_approves_a_waiting_job_from_the_page(
    page: Page, api: httpx.Client, invoice: str
) -> None:
    # ':' and '.' are valid in a job id: the page's approval path must carry them as they are.
    job_id = submit(api, invoice, "page:approve.1", requireApproval=True)
    card = card_of(page, job_id)
    wait_for_status(card, "awaiting_approval")
    expect(card.locator('[data-field="document-type"]')).to_have_text("invoice")

    card.locator('input[name="reviewer"]').fill("rita")
    card.locator('input[name="comment"]').fill("totals checked")
    card.locator('[data-action="approve"]').click()

    expect(card.locator('[data-field="approval-message"]')).to_contain_text("Approved by rita")
    wait_for_status(card, "done")
    expect(card.locator('[data-field="approved-by"]')).to_have_text(
        "Approved by rita: totals checked"
    )
    # The audit trail: a name typed in the page, with a shared token, is not a verified one.
    decided = card.locator('[data-field="audit"] li[data-action="approved"]')
    expect(decided).to_contain_text("approved by rita · ")
    expect(decided).not_to_contain_text("verified")
    result = api.get(f"/status/{job_id}").json()["result"]
    assert result["approval"] == {"approvedBy": "rita", "comment": "totals checked"}


def test_a_reviewer_corrects_an_unsure_total_from_the_page(
    page: Page, api: httpx.Client, files: FileServer
) -> None:
    """ "requireApproval": "auto" stops an invoice whose totals disagree; the page offers the
    fields to correct (the unsure total prefilled with its best candidate), and what the
    reviewer types becomes the result."""
    unsure = files.serve("/jobs-page-unsure.pdf", unsure_invoice_pdf(), "application/pdf")
    job_id = submit(api, unsure, "page-correct", requireApproval="auto")
    card = card_of(page, job_id)
    wait_for_status(card, "awaiting_approval")
    total_row = card.locator('[data-field-name="total"] [data-field="value"]')
    expect(total_row).to_have_text("unsure: 500.00 or 350.00?")
    # The page's picture, fetched with the token, with both candidate totals' lines boxed on it.
    picture = card.locator('[data-field="page-picture"]')
    expect(picture).to_have_count(1)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle(), timeout=WAIT_MS)  # fmt: skip
    boxes = card.locator('[data-evidence-box="total"]')
    expect(boxes).to_have_count(2)
    shown = [boxes.nth(i).bounding_box() for i in range(2)]
    frame = picture.bounding_box()
    assert frame is not None
    assert all(b is not None and b["height"] > 0 for b in shown)
    assert all(frame["y"] <= b["y"] < frame["y"] + frame["height"] for b in shown if b)

    total = card.locator('input[name="field-total"]')
    expect(total).to_have_value("500.00")  # the best candidate, for the reviewer to check
    total.fill("350.00")
    card.locator('input[name="reviewer"]').fill("rita")
    card.locator('[data-action="approve"]').click()

    wait_for_status(card, "done")
    expect(card.locator('[data-field-name="total"] [data-field="value"]')).to_have_text(
        "350.00 (corrected)"
    )
    result = api.get(f"/status/{job_id}").json()["result"]
    assert (result["fields"]["total"]["value"], result["fields"]["total"]["source"]) == (
        "350.00", "reviewer")  # fmt: skip
    # The vendor the analyzer was unsure of, accepted as the page suggested it, is a correction.
    assert result["approval"]["corrected"] == {"total": "350.00", "vendor": "Northwind Traders"}


def test_a_refused_decision_shows_the_apis_message_and_a_rejection_ends_the_job(
    page: Page, api: httpx.Client, invoice: str
) -> None:
    job_id = submit(api, invoice, "page-reject", requireApproval=True)
    card = card_of(page, job_id)
    wait_for_status(card, "awaiting_approval")
    without_reviewer = {"approved": False, "reviewer": "", "comment": ""}
    refusal = api.post(f"/jobs/{job_id}/approval", json=without_reviewer)
    assert refusal.status_code == 422, refusal.text

    card.locator('[data-action="reject"]').click()  # no reviewer: the API refuses
    message = card.locator('[data-field="approval-message"]')
    expect(message).to_contain_text(refusal.json()["message"])
    card.locator('input[name="reviewer"]').fill("rita")
    card.locator('input[name="comment"]').fill("wrong vendor")
    card.locator('[data-action="reject"]').click()

    wait_for_status(card, "rejected")
    expect(card.locator('[data-field="error-reason"]')).to_have_text("rejected")
    expect(card.locator('[data-field="error-message"]')).to_have_text(
        "rejected by rita: wrong vendor"
    )
    expect(card.locator('[data-field="approval"]')).to_have_count(0)


def test_markup_in_a_document_is_shown_as_text(
    page: Page, api: httpx.Client, files: FileServer
) -> None:
    document = files.serve("/jobs-page-markup.txt", MARKUP_INVOICE.encode(), "text/plain")
    job_id = submit(api, document, "page-markup")
    card = card_of(page, job_id)

    wait_for_status(card, "done")

    vendor = card.locator('[data-field-name="vendor"] [data-field="value"]')
    expect(vendor).to_have_text(VENDOR_MARKUP)
    expect(card.locator('[data-field="summary"]')).to_contain_text("Thank you for <b>your</b>")
    expect(card.locator("img, b")).to_have_count(0)
    assert page.evaluate("window.injected") is None


def test_a_job_whose_worker_died_shows_a_warning_until_a_worker_takes_it(
    page: Page, api: httpx.Client, page_stack: LocalStack, files: FileServer
) -> None:
    path = "/jobs-page-slow.pdf"
    files.delays[path] = 10  # the download is still running when the worker is killed
    job_id = submit(api, files.serve(path, invoice_pdf(), "application/pdf"), "page-stuck")
    card = card_of(page, job_id)
    download = card.locator('tr[data-step="download"]')
    expect(download.locator('[data-field="attempts"]')).to_have_text("1", timeout=WAIT_MS)

    page_stack.kill9("worker")
    warning = card.locator('[data-field="waiting"]')
    expect(warning).to_contain_text("Waiting for a worker since", timeout=WAIT_MS)
    del files.delays[path]
    page_stack.run("up")  # a worker again

    wait_for_status(card, "done")
    expect(warning).to_have_count(0)
    expect(download.locator('[data-field="attempts"]')).to_have_text("2")


def test_an_operator_redrives_a_failed_job_from_the_page_once_the_fix_is_deployed(
    page: Page, api: httpx.Client, page_stack: LocalStack, invoice: str, tmp_path: Path
) -> None:
    # The stack's worker replaced by one whose analyze step fails as a bug would.
    command = [*page_stack.command(), "--demo-failing-step", "analyze"]
    environment = page_stack.environment()
    page_stack.kill9("worker")
    broken = Process(command, tmp_path / "broken-worker.log", environment).start()
    try:
        job_id = submit(api, invoice, "page-redrive")
        card = card_of(page, job_id)
        wait_for_status(card, "failed")
        expect(card.locator('[data-field="error-reason"]')).to_have_text("internal_error")
        expect(card.locator('[data-field="redrive-message"]')).to_contain_text("from analyze")
    finally:
        broken.kill9()
    page_stack.run("up")  # the fix deployed: the stack's own worker again

    card.locator('[data-action="redrive"]').click()

    expect(card.locator('[data-field="redrive-message"]')).to_have_text(
        "Redriven: it runs again from analyze."
    )
    wait_for_status(card, "done")
    status = api.get(f"/status/{job_id}").json()
    assert [run["failedStep"] for run in status["runs"]] == ["analyze", None]
