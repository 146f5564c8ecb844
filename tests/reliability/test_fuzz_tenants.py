"""Fuzzing the HTTP API as one tenant against another, on a stack with the JWT authorizer
(``DOCFLOW_AUTH=jwt``). An intruder with a valid token of its own sends what schemathesis
generates, aimed half the time at the owner's jobs (every route that takes a job id) and at the
owner's name (a job's ``requesterId``): never a 5xx, always a documented answer, and never a 2xx
on the owner's resource; its listings never hold an owner's job. Then the same requests with
forged tokens: each gets API Gateway's 401 and nothing else. URLs stay on loopback
(``fuzzing``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from docflow_devstack.dev_issuer import AUDIENCE, sign, signing_key
from docflow_testing.jwt_parts import segment
from docflow_testing.receiver import Receiver, new_secret
from docflow_testing.stack import FileServer, LocalStack, running_stack
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from tests.reliability.fuzzing import CHECKS, Tally, keep_urls_on_loopback, seed_jobs
from tests.reliability.reporting import FULL

pytestmark = [pytest.mark.reliability, pytest.mark.xdist_group("reliability-fuzz-tenants")]

CASES = 1000 if FULL else 100
SECRET = new_secret()
OWNER, INTRUDER = "owner", "intruder"
UNAUTHORIZED = {"message": "Unauthorized"}  # API Gateway's answer to a token it refuses


@pytest.fixture(scope="module")
def jwt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "fuzz-tenants-stack", DOCFLOW_AUTH="jwt",
                             DOCFLOW_WEBHOOK_SECRET=SECRET)  # fmt: skip


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver(SECRET)
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def owners_jobs(jwt_stack: LocalStack, files: FileServer) -> list[str]:
    with client_of(jwt_stack, jwt_stack.token(OWNER)) as owner:
        return seed_jobs(owner, files, OWNER)


def client_of(stack: LocalStack, bearer: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {bearer}"}
    return httpx.Client(base_url=stack.gateway, headers=headers, timeout=30)


def forged_tokens(stack: LocalStack) -> dict[str, str]:
    """Tokens the authorizer must refuse, each naming the owner or the intruder."""
    key = signing_key(stack.state_dir)
    now = int(time.time())
    claims = {"iss": f"{stack.gateway}/dev-issuer", "aud": AUDIENCE, "sub": OWNER, "iat": now,
              "nbf": now, "exp": now + 600}  # fmt: skip
    head, _, signature = sign(key, {**claims, "sub": INTRUDER}).split(".")
    return {
        "alg none": f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}.",
        "another key": sign(RSAKey.generate_key(2048, {"kid": key.kid}), claims),  # same kid
        "expired": sign(key, {**claims, "iat": now - 900, "nbf": now - 900, "exp": now - 600}),
        "another audience": sign(key, {**claims, "aud": "someone-else"}),
        "tampered payload": f"{head}.{segment(claims)}.{signature}",  # the intruder's, made owner's
    }


def aim_at_the_owner(case: schemathesis.Case, owners_jobs: list[str], aim: st.DataObject) -> None:
    """Half the time, point the request's job id at one of the owner's jobs, and a job's
    requester at the owner."""
    if "jobId" in (case.path_parameters or {}) and aim.draw(st.booleans(), "at an owner's job"):
        case.path_parameters["jobId"] = aim.draw(st.sampled_from(owners_jobs), "which")
    if isinstance(case.body, dict) and aim.draw(st.booleans(), "as the owner"):
        case.body["requesterId"] = OWNER


def owners_resource(case: schemathesis.Case, owners_jobs: list[str]) -> bool:
    job_id = (case.path_parameters or {}).get("jobId")
    starts_as_owner = isinstance(case.body, dict) and case.body.get("requesterId") == OWNER
    return job_id in owners_jobs or (case.operation.path == "/process-document" and starts_as_owner)


def listed_jobs(response: schemathesis.Response) -> set[str]:
    """The job ids a 2xx listing answered with (none for any other answer)."""
    try:
        body = response.json()
    except ValueError:  # not JSON
        return set()
    jobs = body.get("jobs") if isinstance(body, dict) else None
    return {job.get("jobId") for job in jobs or [] if isinstance(job, dict)}


def cases_of(stack: LocalStack) -> st.SearchStrategy[schemathesis.Case]:
    schema = schemathesis.openapi.from_url(f"{stack.gateway}/openapi.json", timeout=30)
    return st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )


def test_an_intruder_with_a_valid_token_never_gets_a_2xx_on_the_owners_jobs(
    jwt_stack: LocalStack, owners_jobs: list[str], files: FileServer, receiver: Receiver
) -> None:
    bearer = f"Bearer {jwt_stack.token(INTRUDER)}"
    session = requests.Session()
    tally = Tally()

    @settings(max_examples=CASES, deadline=None, database=None)
    @given(case=cases_of(jwt_stack), aim=st.data())
    def call_and_check(case: schemathesis.Case, aim: st.DataObject) -> None:
        keep_urls_on_loopback(case.body, files, receiver)
        aim_at_the_owner(case, owners_jobs, aim)
        response = case.call(session=session, timeout=30, headers={"Authorization": bearer})
        tally.count(case, response)
        tally.check(case, response, CHECKS)
        answered = 200 <= response.status_code < 300
        if answered and owners_resource(case, owners_jobs):
            tally.failed(case, f"{response.status_code} on the owner's resource")
        if answered and listed_jobs(response) & set(owners_jobs):
            tally.failed(case, "the owner's jobs listed to the intruder")

    with session:
        tally.run(call_and_check, "Fuzzing as another tenant, with a valid token", CASES)


def test_every_request_with_a_forged_token_gets_api_gateways_401(
    jwt_stack: LocalStack, owners_jobs: list[str], files: FileServer, receiver: Receiver
) -> None:
    forged = forged_tokens(jwt_stack)
    session = requests.Session()
    tally = Tally()

    @settings(max_examples=CASES, deadline=None, database=None)
    @given(case=cases_of(jwt_stack), aim=st.data(), forgery=st.sampled_from(sorted(forged)))
    def call_and_check(case: schemathesis.Case, aim: st.DataObject, forgery: str) -> None:
        keep_urls_on_loopback(case.body, files, receiver)
        aim_at_the_owner(case, owners_jobs, aim)
        headers = {"Authorization": f"Bearer {forged[forgery]}"}
        response = case.call(session=session, timeout=30, headers=headers)
        tally.count(case, response)
        if (response.status_code, response.json()) != (401, UNAUTHORIZED):
            tally.failed(case, f"{forgery}: {response.status_code} {response.text[:200]}")

    with session:
        tally.run(call_and_check, "Fuzzing with forged tokens", CASES)
