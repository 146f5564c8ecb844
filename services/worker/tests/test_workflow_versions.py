"""The workflow versions a worker runs: each registered at its own version (the workflow and
every function it calls by name), chosen with ``--workflow-versions``, each in its own group."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from docflow_shared.workflow import (
    EXTRACT_PAGES_NAME,
    WAIT_TIMER_NAME,
    WORKFLOW_NAME,
    version_group,
)
from docflow_worker.main import versions_list
from docflow_worker.workflows import VERSIONS
from docflow_worker.workflows.durable import register

pytestmark = pytest.mark.unit


class Registered:
    """A registry that keeps what is registered on it."""

    def __init__(self) -> None:
        self.names: set[tuple[str, int]] = set()

    def register(self, fn: Any = None, *, name: str | None = None, version: int = 1,
                 retry_policy: Any = None) -> Any:  # fmt: skip
        self.names.add((name or fn.__name__, version))
        return fn


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_each_version_registers_its_workflow_and_what_it_calls_by_name_at_that_version(
    version: int,
) -> None:
    registry = Registered()

    register(registry, VERSIONS[version], version)

    assert registry.names == {(WORKFLOW_NAME, version), (WAIT_TIMER_NAME, version),
                              (EXTRACT_PAGES_NAME, version)}  # fmt: skip


def test_a_worker_runs_the_versions_it_is_asked_for_and_only_those_it_has() -> None:
    assert versions_list("1") == [1]
    assert versions_list(" 2, 1, 1 ") == [1, 2]
    for wrong in ("", "one", "1,99"):
        with pytest.raises(argparse.ArgumentTypeError, match="version"):
            versions_list(wrong)


def test_each_version_has_a_group_of_its_own_and_version_1_the_group_it_always_had() -> None:
    assert version_group("workers", 1) == "workers"
    assert version_group("workers", 2) == "workers-v2"
    assert len({version_group("workers", v) for v in range(1, 5)}) == 4
