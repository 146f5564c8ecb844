"""The replay check: recorded job histories (tests/replay/v<N>/, real jobs exported from the
local stack by tests/replay/record.py) replayed against the workflow code of their version.

Every committed history must replay clean against the code as it is, so a change that would
break jobs in flight fails here, in CI. Then the checker itself: it must catch the changes that
break a replay (a step reordered, added, removed or renamed) and let through one that does not
(a change inside a step's body). Each variant below is such an edit of a real version.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from docflow_shared.models import Analysis
from docflow_shared.workflow import named_checkpoint
from docflow_shared.workflow_history import JobHistory
from docflow_worker import retrying
from docflow_worker.domain import Document, Job, Text
from docflow_worker.replay import Divergence, load, replay
from docflow_worker.steps.analyze import analyze
from docflow_worker.steps.download import download
from docflow_worker.steps.extract import extract
from docflow_worker.steps.notify import notify
from docflow_worker.steps.review import approval_required, review
from docflow_worker.steps.store import store
from docflow_worker.steps.verify import verify
from docflow_worker.workflows import VERSIONS
from docflow_worker.workflows.durable import Steps, job_result, reviewer_decision, running_job
from resonate.codec import Codec, NoopEncryptor
from resonate.context import Context
from resonate.durable import DurableFunction

pytestmark = pytest.mark.unit

HISTORIES = Path(__file__).parents[3] / "tests" / "replay"
RECORDED = load([HISTORIES])


def history(name: str) -> JobHistory:
    return next(h for path, h in RECORDED if path.relative_to(HISTORIES) == Path(name))


@pytest.mark.parametrize(("path", "recorded"), RECORDED,
                         ids=[str(p.relative_to(HISTORIES)) for p, _ in RECORDED])  # fmt: skip
def test_every_recorded_history_replays_against_its_versions_code(
    path: Path, recorded: JobHistory
) -> None:
    replayed = replay(recorded)

    assert replayed.version == recorded.workflow_version == int(path.parent.name[1:])
    assert len(replayed.calls) == len(recorded.promises) - 1, "every recorded call replayed"
    assert replayed.in_flight == path.stem.endswith("-awaiting")


def test_every_version_a_worker_runs_has_recorded_histories_of_each_shape() -> None:
    shapes = {"plain", "page-batches", "approved", "approved-awaiting", "rejected",
              "rejected-awaiting", "redriven"}  # fmt: skip
    recorded = {(h.workflow_version, p.stem) for p, h in RECORDED}

    assert {(v, shape) for v in VERSIONS for shape in shapes} <= recorded


# -- edits of real versions: those that break their jobs in flight, and one that does not -------


async def analyzed(
    ctx: Context, request: dict[str, Any], trace: Any, version: int, analyzer: Any = analyze
) -> tuple[Steps, Job, Document, Analysis]:
    """Every version's first steps, as they are: download, the page batches, extract, analyze."""
    job = running_job(ctx, request, trace or {}, version)
    steps = Steps(ctx, job, version)
    document = await steps.run(download)
    text = await steps.run(extract, document, await steps.read_pages(document))
    return steps, job, document, await steps.run(analyzer, text)


async def stored(steps: Steps, document: Document, analysis: Analysis) -> dict[str, Any]:
    """Every version's last steps, as they are: store, notify."""
    result_url = await steps.run(store, document, analysis)
    notified = await steps.run(notify, result_url)
    return job_result(result_url, document, analysis, notified, None)


async def verify_after_store(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
    """Version 2 with ``verify`` moved after ``store``: a reordered step."""
    steps, _job, document, analysis = await analyzed(ctx, request, trace, 2)
    result_url = await steps.run(store, document, analysis)
    await steps.run(verify, analysis)
    return {"resultUrl": result_url, "notified": await steps.run(notify, result_url)}


async def without_verify(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
    """Version 2 with ``verify`` taken out in place: a removed step."""
    steps, _job, document, analysis = await analyzed(ctx, request, trace, 2)
    return await stored(steps, document, analysis)


def analyse(job: Job, text: Text) -> Analysis:
    """``analyze``, renamed."""
    return analyze(job, text)


async def analyze_renamed(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
    """Version 2 with its analyze step renamed: a changed step name."""
    steps, _job, document, analysis = await analyzed(ctx, request, trace, 2, analyzer=analyse)
    await steps.run(verify, analysis)
    return await stored(steps, document, analysis)


async def v1_with_verify(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
    """Version 1 edited in place into version 2: an added step (what versions are for)."""
    steps, job, document, analysis = await analyzed(ctx, request, trace, 1)
    await steps.run(verify, analysis)
    if approval_required(job, analysis):
        await steps.run(review, await reviewer_decision(ctx, job, 1))
    return await stored(steps, document, analysis)


@pytest.mark.parametrize(
    ("workflow", "recorded", "said"),
    [
        (verify_after_store, "v2/plain.json", "the code makes step 'store', but the job's "
         "history has step 'verify'"),
        (without_verify, "v2/plain.json", "the code makes step 'store', but the job's history "
         "has step 'verify'"),
        (analyze_renamed, "v2/plain.json", "the code makes step 'analyse', but the job's "
         "history has step 'analyze'"),
        (v1_with_verify, "v1/plain.json", "the code makes step 'verify', but the job's history "
         "has a step whose result is not one 'verify' returns"),  # version 1 names no step
        (v1_with_verify, "v1/approved-awaiting.json", "the code makes step 'verify', but the "
         "job's history has a wait"),
    ],
    ids=["reordered", "removed", "renamed", "added", "added-in-flight"],
)  # fmt: skip
def test_a_change_that_breaks_jobs_in_flight_diverges_at_the_first_call_it_changes(
    workflow: Any, recorded: str, said: str
) -> None:
    with pytest.raises(Divergence, match=said):
        replay(history(recorded), workflow)


def test_calls_the_job_made_that_the_code_no_longer_makes_diverge_at_the_end() -> None:
    """A step taken off the end: nothing the code calls differs, but the job made one more."""

    async def without_notify(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
        steps, _job, document, analysis = await analyzed(ctx, request, trace, 2)
        await steps.run(verify, analysis)
        return {"resultUrl": await steps.run(store, document, analysis)}

    with pytest.raises(Divergence, match=r"history has calls the code no longer makes: .*:7 "
                       r"step 'notify'"):  # fmt: skip
        replay(history("v2/plain.json"), without_notify)


def test_a_change_inside_a_step_body_replays_clean() -> None:
    """Same steps, same order, another body: no step body runs on replay."""

    def analyze(job: Job, text: Text) -> Analysis:  # the step, rewritten
        return Analysis(document_type="other", fields={}, summary="new", analyzer="v9")

    async def new_analyzer(ctx: Context, request: dict[str, Any], trace: Any = None) -> Any:
        steps, _job, document, analysis = await analyzed(ctx, request, trace, 2, analyzer=analyze)
        verification = await steps.run(verify, analysis)
        assert verification.checks, "the recorded verification, not one made now"
        return await stored(steps, document, analysis)

    assert len(replay(history("v2/plain.json"), new_analyzer).calls) == 7


def test_a_history_of_a_version_this_worker_lacks_diverges() -> None:
    recorded = history("v2/plain.json")
    root = recorded.promises[0]
    ahead = recorded.model_copy(update={"workflow_version": 9, "promises": [
        root.model_copy(update={"param": {**root.param, "version": 9}}),
        *recorded.promises[1:]]})  # fmt: skip

    with pytest.raises(Divergence, match="this worker has no workflow version 9"):
        replay(ahead)


# -- named checkpoints, live ----------------------------------------------------------------------

DOCUMENT = Document(key="jobs/j-1/document", sha256="0" * 64, content_type="application/pdf",
                    bytes=1234, pages=3)  # fmt: skip


def test_version_1_writes_the_bare_values_it_always_wrote() -> None:
    """A worker of before named checkpoints may replay a version 1 job in a rolling deploy: it
    reads only bare values, so version 1 keeps writing them (and its histories name no step)."""
    v1 = [p for path, h in RECORDED if path.parent.name == "v1" for p in h.promises[1:]]
    v2 = [p for path, h in RECORDED if path.parent.name == "v2" for p in h.promises[1:]]

    def named(promises: list[Any]) -> int:
        return sum(isinstance(p.value, dict) and "docflow:step" in p.value for p in promises)

    assert (named(v1), named(v2) > 0) == (0, True)


def test_a_checkpoint_names_its_step_and_gives_the_steps_model_back() -> None:
    codec = Codec(NoopEncryptor())
    body = retrying.checkpoint(download, named=True)
    stored = codec.decode(codec.encode(named_checkpoint("download", DOCUMENT.model_dump())))

    recovered = DurableFunction(body).coerce_result(stored)

    assert stored["docflow:step"] == "download"
    assert retrying.step_result(download, recovered) == DOCUMENT
    assert retrying.step_result(download, DOCUMENT.model_dump()) == DOCUMENT, "unnamed: as is"


def test_a_checkpoint_of_another_step_is_refused_not_handed_on() -> None:
    """Live, too: a worker whose code changed under a job fails it rather than give one step's
    result to another."""
    with pytest.raises(retrying.StepMismatch, match="runs 'download' where the job's history "
                       "has 'analyze'"):  # fmt: skip
        retrying.step_result(download, named_checkpoint("analyze", {}))


def test_the_named_checkpoint_is_what_the_step_returns_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_checks(*_args: Any) -> None:
        return None

    monkeypatch.setattr(retrying, "ensure_job_continues", no_checks)
    monkeypatch.setattr(retrying.progress, "attempt_started", no_checks)
    monkeypatch.setattr(retrying.progress, "alive", lambda _job: contextlib.nullcontext())
    monkeypatch.setattr(retrying, "_finished", lambda *_args: None)

    def download(job: Job) -> Document:
        return DOCUMENT

    job = Job(job_id="j-1", document_url="http://127.0.0.1/d.pdf", requester_id="a",
              deadline_at=2**41)  # fmt: skip
    recorded = asyncio.run(retrying.checkpoint(download, named=True)(None, job))  # type: ignore[arg-type]

    assert recorded == named_checkpoint("download", DOCUMENT.model_dump(mode="json"))
