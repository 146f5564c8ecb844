"""The front doors' Resonate client: four promise operations over one kept-alive connection,
with the standard library only.

A Lambda pays for every import on every cold start. The SDK (with aiohttp and msgspec) cost the
trigger ~130 ms of imports and ~5 MB of its zip for what is, per request, one ``promise.create``
(or a ``promise.get`` and a ``promise.search``). This speaks the same protocol (one JSON
envelope per ``POST /``, values as base64 JSON, as ``resonate.send`` and ``resonate.codec``
write them; ``resonate_http_contract`` tests prove the bytes equal) and nothing more. Workers
keep the SDK.

Every call finishes within ``budget_seconds``: a refused connection is retried with short,
growing pauses while the budget lasts, then ``BackendUnavailable``; the caller never has a
request still running behind its back. The connection is kept across invocations (a warm
Lambda reuses it: no new TCP or TLS handshake); one the server closed while idle is noticed on
use and the request is sent again at once on a new one (every operation here is idempotent).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import BackendRejected, BackendUnavailable, JobNotFound
from .settings import ResonateSettings

#: The wire's version (``resonate_base.PROTOCOL_VERSION``; a contract test checks they agree).
PROTOCOL_VERSION = "2026-04-01"
FIRST_RETRY_DELAY = 0.05


@dataclass(frozen=True)
class PromiseRecord:
    """A durable promise as the server returns it, ``param`` and ``value`` decoded."""

    id: str
    state: str
    timeout_at: int
    param: Any = None
    value: Any = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: int = 0
    settled_at: int | None = None

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> PromiseRecord:
        return cls(
            id=raw["id"],
            state=raw["state"],
            timeout_at=raw["timeoutAt"],
            param=decode_value(raw.get("param")),
            value=decode_value(raw.get("value")),
            tags=raw.get("tags") or {},
            created_at=raw.get("createdAt") or 0,
            settled_at=raw.get("settledAt"),
        )


@dataclass(frozen=True)
class SearchPage:
    promises: list[PromiseRecord]
    cursor: str | None


def encode_value(data: Any) -> dict[str, str]:
    """A value as the SDK's codec writes it: compact JSON, UTF-8, base64; nothing for None."""
    if data is None:
        return {}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return {"data": base64.b64encode(text.encode()).decode("ascii")}


def decode_value(value: dict[str, Any] | None) -> Any:
    if not value or not value.get("data"):
        return None
    return json.loads(base64.b64decode(value["data"], validate=True))


def rejection(error: Exception) -> dict[str, str]:
    """An error as the SDK rejects a promise with it (its message; no pickle: no reader of
    these promises loads one)."""
    return {"__type": "error", "message": str(error)}


class ResonateHttp:
    def __init__(self, url: str, budget_seconds: float, auth: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"RESONATE_URL must be an http(s) URL, not {url!r}"
            raise ValueError(msg)
        from .http1 import Http1Connection  # here: a refused request never makes a client

        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._connection = Http1Connection(
            parts.hostname, port, parts.scheme == "https", budget_seconds
        )
        self._path = (parts.path.rstrip("/") or "") + "/"
        self._budget = budget_seconds
        self._auth = auth
        self._operation_deadline: float | None = None
        # One connection, one request at a time (the local gateway may call from threads).
        self._lock = threading.Lock()

    @contextmanager
    def operation(self) -> Iterator[ResonateHttp]:
        """Every request made in the block finishes within one budget, from now: a front
        door's answer (a get and a search, say) stays within its time."""
        self._operation_deadline = time.monotonic() + self._budget
        try:
            yield self
        finally:
            self._operation_deadline = None

    # -- the four operations ------------------------------------------------------------------

    def get(self, promise_id: str) -> PromiseRecord:
        return self._promise("promise.get", {"id": promise_id})

    def create(
        self, promise_id: str, timeout_at: int, param: Any, tags: dict[str, str]
    ) -> PromiseRecord:
        """Create the promise; an existing one is returned unchanged (creating is idempotent)."""
        data = {"id": promise_id, "timeoutAt": timeout_at, "param": encode_value(param),
                "tags": tags}  # fmt: skip
        return self._promise("promise.create", data)

    def settle(self, promise_id: str, state: str, value: Any) -> PromiseRecord:
        """Resolve (``resolved``) or reject (``rejected``); a settled promise stays as it is."""
        data = {"id": promise_id, "state": state, "value": encode_value(value)}
        return self._promise("promise.settle", data)

    def search(
        self, state: str | None, tags: dict[str, str], limit: int, cursor: str | None
    ) -> SearchPage:
        data: dict[str, Any] = {"tags": tags, "limit": limit}
        if state is not None:
            data["state"] = state
        if cursor is not None:
            data["cursor"] = cursor
        page = self._call("promise.search", data)
        promises = [PromiseRecord.from_wire(raw) for raw in page.get("promises", [])]
        return SearchPage(promises, page.get("cursor") or None)

    # -- the wire -------------------------------------------------------------------------------

    def _promise(self, kind: str, data: dict[str, Any]) -> PromiseRecord:
        return PromiseRecord.from_wire(self._call(kind, data)["promise"])

    def _call(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        # The SDK also sends the promise's lineage origin in a "resonate:origin" header, for a
        # sharding connector (not HTTP); the server reads none, and HTTP allows no colon in a
        # header's name.
        head = {"corrId": uuid.uuid4().hex, "version": PROTOCOL_VERSION}
        body = json.dumps({"kind": kind, "head": head, "data": data}, separators=(",", ":"))
        headers = {"Content-Type": "application/json"}
        if self._auth is not None:
            headers["Authorization"] = f"Bearer {self._auth}"
        answer = self._post(body.encode(), headers)
        try:
            envelope = json.loads(answer)
            code, result = int(envelope["head"]["status"]), envelope.get("data")
        except (ValueError, KeyError, TypeError) as err:
            # Something that is not Resonate answered (a proxy's error page).
            msg = "the workflow service is not answering; retry shortly"
            raise BackendUnavailable(msg) from err
        if code >= 400:
            raise _refusal(code, result)
        if not isinstance(result, dict):
            msg = f"the workflow service answered {kind} without data"
            raise BackendUnavailable(msg)
        return result

    def _post(self, body: bytes, headers: dict[str, str]) -> bytes:
        with self._lock:
            return self._post_within(body, headers)

    def _post_within(self, body: bytes, headers: dict[str, str]) -> bytes:
        deadline = time.monotonic() + self._budget
        if self._operation_deadline is not None:
            deadline = min(deadline, self._operation_deadline)
        delay = FIRST_RETRY_DELAY
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"the workflow service did not answer within {self._budget:g} s"
                raise BackendUnavailable(msg)
            reused = self._connection.is_open
            self._connection.set_timeout(remaining)
            try:
                return self._connection.post(self._path, body, headers)[1]
            except ConnectionError:  # refused, reset, or closed before the answer
                if reused:
                    continue  # closed by the server while idle: send again now, on a new one
            except TimeoutError as err:
                msg = f"the workflow service did not answer within {self._budget:g} s"
                raise BackendUnavailable(msg) from err
            except OSError:
                pass  # refused, or a connection that broke: retry while time is left
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            delay *= 2


class ContainerClient:
    """The container's one client, reused across warm invocations; made anew only when the
    settings it was made from change (tests change the environment)."""

    def __init__(self, settings: Callable[[], ResonateSettings]) -> None:
        self._settings = settings
        self._made_from: ResonateSettings | None = None
        self._client: ResonateHttp | None = None

    def client(self) -> ResonateHttp:
        settings = self._settings()
        if self._client is None or settings is not self._made_from:
            self._client = ResonateHttp(settings.resonate_url, settings.resonate_timeout_seconds)
            self._made_from = settings
        return self._client

    def operation(self) -> AbstractContextManager[ResonateHttp]:
        """The client, for requests that together finish within one budget from now."""
        return self.client().operation()


def _refusal(code: int, data: Any) -> Exception:
    text = data if isinstance(data, str) else (data or {}).get("error", f"status {code}")
    if code == 404:
        return JobNotFound(str(text))
    if code == 429 or code >= 500:
        return BackendUnavailable(f"the workflow service is failing ({code}); retry shortly")
    return BackendRejected(f"the workflow service refused the request ({code}): {text}")
