"""Which step errors are outages (retried for long) and which are bugs (the job fails fast).
The network errors are real ones, from clients pointed at a loopback port nothing listens on."""

from __future__ import annotations

import boto3
import httpx
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError
from docflow_testing.processes import free_port
from docflow_worker.failures import is_outage


def raised(call: object) -> BaseException:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any error: it is what we classify
        call()  # type: ignore[operator]
    return caught.value


def test_unreachable_services_are_outages() -> None:
    port = free_port()
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(retries={"max_attempts": 1}, connect_timeout=2))  # fmt: skip
    errors = [
        raised(lambda: s3.put_object(Bucket="b", Key="k", Body=b"x")),
        raised(lambda: redis.Redis(port=port, socket_connect_timeout=2).ping()),
        raised(lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=2)),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
    ]

    assert [is_outage(error) for error in errors] == [True] * len(errors), errors


@pytest.mark.parametrize(
    ("status", "code", "outage"),
    [(503, "SlowDown", True), (500, "InternalError", True), (400, "ThrottlingException", True),
     (403, "AccessDenied", False), (400, "InvalidArgument", False)],
)  # fmt: skip
def test_s3_answers_are_outages_when_it_sheds_load_or_breaks(
    status: int, code: str, outage: bool
) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )

    assert is_outage(error) is outage


def test_an_http_answer_is_an_outage_when_the_server_is_overloaded_or_broken() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")

    def answered(status: int) -> httpx.HTTPStatusError:
        response = httpx.Response(status, request=request)
        return httpx.HTTPStatusError(str(status), request=request, response=response)

    assert [is_outage(answered(s)) for s in (429, 502, 400, 404)] == [True, True, False, False]


def test_bugs_are_not_outages_even_when_raised_while_handling_one() -> None:
    def bug_while_handling() -> None:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            {}["missing"]  # the bug

    errors = [raised(lambda: sorted([object(), object()])), raised(bug_while_handling),
              ValueError("bad value")]  # fmt: skip

    assert [is_outage(error) for error in errors] == [False, False, False]


def test_an_outage_declared_as_the_cause_of_another_error_is_one() -> None:
    def wrapped() -> None:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as err:
            raise RuntimeError("could not store the result") from err

    assert is_outage(raised(wrapped))
