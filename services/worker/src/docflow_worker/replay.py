"""Replay a job's recorded history against the workflow code of its version (``docflow
replay-check``), as a worker would after a deploy, without running any step.

The replay runs the version's workflow with a context that answers every durable call from the
history instead of making it: the SDK numbers a workflow's calls in the order it makes them
(``<root>:1``, ``<root>:2``, ...), so the n-th call the code makes must be the call the job
made n-th. It fails at the first one that is not: another kind of call (a step where the job
waited), another step (a checkpoint of version 2 on names its step; version 1's are checked by
what they hold), another function or version called by name, a recorded result the step could
not have returned, a call the job never made although
it ended, or calls the job made that the code no longer does. A change inside a step's body
replays clean: no step body runs.

A history that stops at a pending call is a job in flight: the replay ends there, clean.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

from docflow_shared.errors import InvalidDocument, JobEnded, ReasonedError, StepFailed
from docflow_shared.models import JobFailure
from docflow_shared.resonate_http import PromiseRecord
from docflow_shared.settings import SettingsError, WorkerSettings
from docflow_shared.workflow import checkpoint_value
from docflow_shared.workflow_history import JobHistory
from pydantic import TypeAdapter, ValidationError

from .retrying import StepMismatch
from .workflows import VERSIONS

Workflow = Callable[..., Awaitable[Any]]

#: The errors a workflow tells apart (``errorType``); any other ends it as a bug would.
KNOWN_ERRORS: dict[str, type[ReasonedError]] = {
    f"{cls.__module__}.{cls.__qualname__}": cls
    for cls in (StepFailed, InvalidDocument, JobEnded, StepMismatch)
}


#: The connections a worker needs: a replay makes none, so it needs none configured (a loopback
#: discard port, were one ever tried). Settings that choose the workflow's path are read as the
#: worker reads them (version 1: ``DOCFLOW_APPROVAL_INVOICE_OVER``).
UNCONNECTED = {"RESONATE_URL": "http://127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:9",
               "DOCFLOW_BUCKET": "replay"}  # fmt: skip


class Divergence(Exception):
    """The code does not do what the job's history recorded."""


class RecordedError(Exception):
    """A recorded rejection of an error no workflow tells apart (a bug's)."""


class _HistoryEnds(Exception):
    """The history stops here: the job is still in flight, or its workflow ends here."""


@dataclass
class Replayed:
    job_id: str
    version: int
    calls: list[str] = field(default_factory=list)  # each call replayed, described
    in_flight: bool = False  # the history stopped at a call still pending


def replay(history: JobHistory, workflow: Workflow | None = None) -> Replayed:
    """Replay ``history`` against ``workflow`` (default: the code of the history's version);
    ``Divergence`` at the first difference."""
    version = history.workflow_version
    if workflow is None:
        if version not in VERSIONS:
            raise Divergence(f"this worker has no workflow version {version}")
        workflow = VERSIONS[version]
    try:
        WorkerSettings.current()
    except SettingsError:
        WorkerSettings.use(WorkerSettings.model_validate({**UNCONNECTED, **os.environ}))
    context = ReplayContext(history, Replayed(history.job_id, version))
    call = context.root.param if isinstance(context.root.param, dict) else {}
    outcome = _run(workflow(context, *call.get("args", []), **call.get("kwargs", {})))
    return context.finish(outcome)


def _run(coroutine: Awaitable[Any]) -> str:
    """Drive the workflow to its end: a replayed call never suspends (the history answers), so
    the workflow runs through in one go, or the code waits on something that is no durable
    call, which a replay cannot answer."""
    try:
        coroutine.__await__().send(None)
    except StopIteration:
        return "returned"
    except _HistoryEnds:
        return "stopped"
    except (StepMismatch, ValidationError) as err:
        raise Divergence(str(err)) from err
    except (ReasonedError, RecordedError):
        return "raised"  # the workflow's own ending: a failure, a cancel, a rejection
    raise RuntimeError("the workflow waited on something that is no durable call")


class ReplayContext:
    """What the workflow sees of ``resonate.context.Context``, answered from the history."""

    def __init__(self, history: JobHistory, replayed: Replayed, version: int = 1) -> None:
        self.root, self.children = history.root, history.children
        self.replayed, self.version = replayed, version
        self.by_id = {p.id: p for p in self.children}
        self.used: set[str] = set()
        self.sequence = [0]  # shared with every ``options()`` view, as the SDK's counter is

    @property
    def info(self) -> Any:
        return _Info(self.root.id, self.root.timeout_at)

    def options(self, *, version: int = 1, **_ignored: Any) -> ReplayContext:
        view = ReplayContext.__new__(ReplayContext)
        view.__dict__.update(self.__dict__, version=version)
        return view

    def get_dependency(self, _kind: type) -> Any:
        # Only a wait that was not a redrive asks (is the job canceled?): the workflow ends.
        raise _HistoryEnds

    def run(self, fn: Callable[..., Any], *_args: Any) -> _Answer:
        step = f"step {fn.__name__!r}"
        record = self._next("local", fn.__name__)
        if record is None or record.state != "resolved":
            return _Answer(self, record, step)
        recorded, value = checkpoint_value(record.value)
        if recorded is not None and recorded != fn.__name__:
            raise Divergence(self._differs(record, step))
        if recorded is None and not _returns(fn, value):  # version 1: no name, only the value
            raise Divergence(f"at {record.id} the code makes {step}, but the job's history has "
                             f"a step whose result is not one {fn.__name__!r} returns")  # fmt: skip
        return _Answer(self, record, step)

    def rpc(self, name: str, *_args: Any, **_kwargs: Any) -> _Answer:
        record = self._next("remote", name)
        return _Answer(self, record, f"call {name!r} v{self.version}")

    def promise(self, timeout: Any = None) -> _Answer:
        return _Answer(self, self._next("external", None), "wait")

    def detached(self, name: str, *_args: Any, **_kwargs: Any) -> _Answer:
        self.sequence[0] += 1  # the SDK mints the id off the call's place, then hashes it
        place = f"{self.root.id}:{self.sequence[0]}"
        promise_id = f"{self.root.id}:d{blake2b(place.encode(), digest_size=8).hexdigest()}"
        record = self._expect(promise_id, "remote", name, f"timer {name!r}")
        return _Answer(self, record, f"timer {name!r}", value=promise_id)

    # -- matching the history ------------------------------------------------------------------

    def _next(self, kind: str, name: str | None) -> PromiseRecord | None:
        self.sequence[0] += 1
        described = {"local": f"step {name!r}", "remote": f"call {name!r} v{self.version}",
                     "external": "wait"}[kind]  # fmt: skip
        return self._expect(f"{self.root.id}:{self.sequence[0]}", kind, name, described)

    def _expect(
        self, promise_id: str, kind: str, name: str | None, described: str
    ) -> PromiseRecord | None:
        record = self.by_id.get(promise_id)
        if record is None:
            if self.root.state == "pending" and not self._unused():
                return None  # the job got no further yet: the history ends at this call
            raise Divergence(f"the code makes {described} at {promise_id}, which the job's "
                             f"history does not have ({self._ending()})")  # fmt: skip
        if _kind(record) != kind or (kind == "remote" and not self._same_call(record, name)):
            raise Divergence(self._differs(record, described))
        self.used.add(promise_id)
        self.replayed.calls.append(f"{promise_id} {described}")
        return record

    def _same_call(self, record: PromiseRecord, name: str | None) -> bool:
        param = record.param if isinstance(record.param, dict) else {}
        return param.get("func") == name and param.get("version", 1) == self.version

    def _differs(self, record: PromiseRecord, described: str) -> str:
        return (f"at {record.id} the code makes {described}, but the job's history has "
                f"{describe(record)}")  # fmt: skip

    def _unused(self) -> list[PromiseRecord]:
        return [p for p in self.children if p.id not in self.used]

    def _ending(self) -> str:
        state = self.root.state
        return "the job is still in flight" if state == "pending" else f"the job ended {state}"

    def finish(self, outcome: str) -> Replayed:
        if outcome == "stopped" and self.root.state == "pending":
            self.replayed.in_flight = True
        left = self._unused()
        if left:
            calls = "; ".join(f"{p.id} {describe(p)}" for p in left)
            raise Divergence(f"the job's history has calls the code no longer makes: {calls}")
        return self.replayed


@dataclass(frozen=True)
class _Info:
    id: str
    timeout_at: int


class _Answer:
    """A replayed call: awaited, it gives what the history recorded (or ends the replay where
    the history does)."""

    def __init__(
        self, context: ReplayContext, record: PromiseRecord | None, described: str,
        value: Any = None,
    ) -> None:  # fmt: skip
        self.context, self.record, self.described, self.value = context, record, described, value

    async def id(self) -> str:
        if self.record is None:
            raise _HistoryEnds
        return self.record.id

    def __await__(self) -> Generator[Any, None, Any]:
        return self._settled().__await__()

    async def _settled(self) -> Any:
        record = self.record
        if self.value is not None:
            return self.value  # a detached call's value is its id
        if record is None or record.state == "pending":
            raise _HistoryEnds
        if record.state != "resolved":
            raise _error(record)
        return record.value


def _error(record: PromiseRecord) -> Exception:
    """The error a rejected call raised, rebuilt from its message and type (never a pickle)."""
    value = record.value if isinstance(record.value, dict) else {}
    message = str(value.get("message", record.state))
    kind = KNOWN_ERRORS.get(str(value.get("errorType")))
    if kind is None:
        return RecordedError(message)
    try:
        failure = JobFailure.model_validate_json(message)
    except ValidationError:
        return RecordedError(message)
    error = kind.__new__(kind)
    ReasonedError.__init__(error, failure.reason, failure.message)
    return error


def _returns(body: Callable[..., Any], value: Any) -> bool:
    """Whether ``value`` is a result the step body (``retrying.checkpoint``) returns."""
    try:
        TypeAdapter(inspect.signature(body).return_annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def _kind(record: PromiseRecord) -> str:
    if record.tags.get("resonate:scope") == "local":
        return "local"
    if record.tags.get("resonate:external") == "true":
        return "external"
    return "remote"


def describe(record: PromiseRecord) -> str:
    """A recorded call, as a person reads it."""
    kind = _kind(record)
    if kind == "local":
        name, _value = checkpoint_value(record.value)
        return f"step {name!r}" if name else "a step (its checkpoint names none: version 1)"
    if kind == "external":
        return "a wait"
    param = record.param if isinstance(record.param, dict) else {}
    # A detached call's id ends in "d<hash>", a numbered one's in digits (a job id may hold ":d").
    what = "timer" if record.id.rsplit(":", 1)[1].startswith("d") else "call"
    return f"{what} {param.get('func')!r} v{param.get('version', 1)}"


def load(paths: Iterable[Path]) -> list[tuple[Path, JobHistory]]:
    """Histories from files, and from ``*.json`` in directories (``tests/replay/``)."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return [(file, JobHistory.model_validate_json(file.read_text())) for file in files]
