"""`make up` picks compose where a Docker engine answers, the native stack elsewhere."""

from __future__ import annotations

import pytest
from docflow_devstack.stack import choose_runtime

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
