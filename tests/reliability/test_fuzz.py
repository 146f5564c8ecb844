"""Fuzzing the HTTP API: schemathesis generates requests from the OpenAPI document the running
gateway serves (valid ones and deliberately invalid ones) and checks every answer: never a 5xx,
always a documented status code and content type, always a body matching its schema. 100 cases
in ``make test``, 1 000 in ``make chaos``; each run appends its results to docs/reliability.md.
Every URL a generated job names is moved to loopback first (``fuzzing``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from docflow_testing.receiver import Receiver, new_secret
from docflow_testing.stack import FileServer, LocalStack, running_stack
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reliability.fuzzing import CHECKS, Tally, keep_urls_on_loopback, seed_jobs
from tests.reliability.reporting import FULL

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability-fuzz")]

CASES = 1000 if FULL else 100
SECRET = new_secret()


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "fuzz-stack", DOCFLOW_WEBHOOK_SECRET=SECRET)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver(SECRET)
    yield hook
    hook.close()


def test_every_generated_request_gets_a_documented_answer_and_never_a_5xx(
    fuzz_stack: LocalStack, files: FileServer, receiver: Receiver
) -> None:
    with httpx.Client(base_url=fuzz_stack.gateway, timeout=30) as http:
        seed_jobs(http, files, "fuzz")
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.gateway}/openapi.json", timeout=30)
    cases = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    session = requests.Session()
    tally = Tally()

    @settings(max_examples=CASES, deadline=None, database=None)
    @given(case=cases)
    def call_and_check(case: schemathesis.Case) -> None:
        keep_urls_on_loopback(case.body, files, receiver)
        response = case.call(session=session, timeout=30)
        tally.count(case, response)
        tally.check(case, response, CHECKS)

    with session:
        tally.run(call_and_check, "Fuzzing the gateway", CASES)
