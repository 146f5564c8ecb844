"""Step 1: fetch the document into the blob store, with its sha256, type and page count."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import httpx
from docflow_shared.errors import InvalidDocument
from docflow_shared.retry import is_transient
from docflow_shared.settings import WorkerSettings
from docflow_shared.url_guard import check_url, shown_url
from docflow_shared.workflow import JOBS_PREFIX, blob_prefix

from ..dal import blobs
from ..documents import page_count, sniff_type
from ..domain import Document, Job
from ..retrying import Transient

MAX_REDIRECTS = 5


def download(job: Job) -> Document:
    url = job.url
    data = _fetch_s3(url) if url.startswith("s3://") else fetch_http(url)
    content_type = sniff_type(data)
    pages = page_count(data, content_type)
    limit = WorkerSettings.current().max_pages
    if pages > limit:
        raise InvalidDocument("too_large", f"the document has {pages} pages; the limit is {limit}")
    key = blob_prefix(job.job_id) + "document"
    blobs.put_bytes(key, data, content_type)
    return Document(
        key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type,
        bytes=len(data),
        pages=pages,
    )


def _fetch_s3(url: str) -> bytes:
    parts = urlsplit(url)
    bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
    if bucket == WorkerSettings.current().bucket and key.startswith(JOBS_PREFIX):
        # Other jobs' documents, text and results are never an input.
        msg = f"{shown_url(url)} is inside docflow's own job storage"
        raise InvalidDocument("url_refused", msg)
    # ?versionId= pins one version of the object (an upload to a versioned inbox).
    version = parse_qs(parts.query).get("versionId", [None])[0]
    return blobs.get_bytes(key, bucket=bucket, version_id=version)


def fetch_http(url: str) -> bytes:
    settings = WorkerSettings.current()
    limit = settings.max_document_bytes
    timeout = httpx.Timeout(settings.download_timeout_seconds, connect=10)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            pinned = check_url(url, settings.url_allowlist)
            try:
                with client.stream(
                    "GET", pinned.url, headers=pinned.headers, extensions=pinned.extensions
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers["location"])
                        continue
                    _raise_for_status(response, url)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > limit:
                        raise _too_large(limit)
                    # The read timeout is per read: a source dripping bytes would never hit it.
                    deadline = time.monotonic() + settings.download_timeout_seconds
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise _too_large(limit)
                        if time.monotonic() > deadline:
                            msg = (
                                f"{shown_url(url)} took longer than "
                                f"{settings.download_timeout_seconds:g} s"
                            )
                            raise Transient(msg, reason="timeout")
                    return bytes(body)
            except httpx.TimeoutException as err:
                raise Transient(f"timed out fetching {shown_url(url)}", reason="timeout") from err
            except httpx.TransportError as err:
                raise Transient(f"could not fetch {shown_url(url)}: {err}") from err
    raise InvalidDocument("url_refused", f"more than {MAX_REDIRECTS} redirects")


def _raise_for_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    url = shown_url(url)
    if status in (404, 410):
        raise InvalidDocument("not_found", f"{url} answered {status}")
    if is_transient(status):
        raise Transient(f"{url} answered {status}")
    if status >= 400:
        raise InvalidDocument("download_failed", f"{url} answered {status}")


def _too_large(limit: int) -> InvalidDocument:
    return InvalidDocument("too_large", f"the document is larger than {limit} bytes")
