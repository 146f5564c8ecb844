"""`make up` picks compose where a Docker engine answers, the native stack elsewhere; and runs a
worker process, or (serverless) the worker function behind the gateway."""

from __future__ import annotations

import pytest
from docflow_devstack.stack import (
    WORKER_FUNCTION,
    Ports,
    child_environment,
    choose_runtime,
    services,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("requested", "has_docker", "chosen"),
    [
        ("auto", True, "compose"),
        ("auto", False, "native"),
        ("native", True, "native"),
        ("compose", True, "compose"),
    ],
)
def test_runtime_follows_the_request_and_the_machine(
    requested: str, has_docker: bool, chosen: str
) -> None:
    assert choose_runtime(requested, has_docker) == chosen


def test_compose_without_docker_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="no Docker engine"):
        choose_runtime("compose", has_docker=False)


def test_an_unknown_runtime_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="use auto, native or compose"):
        choose_runtime("kubernetes", has_docker=True)


def test_serverless_mode_has_no_worker_process_but_the_function_route_and_push_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCFLOW_WORKER_MODE", "serverless")
    monkeypatch.setenv("DOCFLOW_FUNCTION_TIMEOUT", "60")
    ports = Ports()

    stack = {service.name: service for service in services(ports)}
    env = child_environment(ports)

    assert "worker" not in stack
    gateway, resonate = stack["gateway"].argv, stack["resonate"].argv
    assert gateway[gateway.index("--route") + 1 :][:3] == ["POST", "/functions/worker",
                                                            WORKER_FUNCTION]  # fmt: skip
    assert f"{WORKER_FUNCTION}=60" in gateway
    assert resonate[resonate.index("--transports-http-push-request-timeout") + 1] == "60000"
    token = resonate[resonate.index("--transports-http-push-auth-token") + 1]
    assert env["DOCFLOW_PUSH_TOKEN"] == token
    assert env["DOCFLOW_WORKER_URL"] == f"http://127.0.0.1:{ports.gateway}/functions/worker"


def test_worker_mode_has_its_worker_and_no_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCFLOW_WORKER_MODE", raising=False)
    monkeypatch.delenv("DOCFLOW_WORKER_URL", raising=False)

    stack = {service.name: service for service in services(Ports())}

    assert "worker" in stack
    assert "--route" not in stack["gateway"].argv
    assert "DOCFLOW_WORKER_URL" not in child_environment(Ports())


def test_an_unknown_worker_mode_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_WORKER_MODE", "lambda")

    with pytest.raises(SystemExit, match="DOCFLOW_WORKER_MODE is worker or serverless"):
        services(Ports())
