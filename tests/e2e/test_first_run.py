"""The first run works exactly as printed: every command ``make up`` prints, run as printed (in
a shell, from the project root, in the environment ``make up`` was started with), succeeds
against the stack it started; ``make down`` comes last and stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from docflow_testing.processes import ROOT
from docflow_testing.stack import LocalStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-first-run")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from running_stack(tmp_path_factory, "first-run")


def printed_commands(printed: str) -> list[str]:
    """The commands in ``make up``'s output: each line after "$ ", with its continuation lines
    (a line ending in a backslash continues on the next)."""
    commands: list[str] = []
    continued = False
    for line in printed.splitlines():
        text = line.strip()
        if continued:
            commands[-1] += "\n" + line
        elif text.startswith("$ "):
            commands.append(text.removeprefix("$ "))
        continued = bool(commands) and (continued or text.startswith("$ ")) and text.endswith("\\")
    return commands


def run(command: str, stack: LocalStack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=stack.env, capture_output=True, text=True,
        timeout=240, check=False,
    )  # fmt: skip


def test_printed_commands_are_found_with_their_continuations() -> None:
    printed = "Try it:\n  $ curl -X POST x \\\n      -d '{}'\n  $ make demo   # a comment\nlogs: y"

    assert printed_commands(printed) == [
        "curl -X POST x \\\n      -d '{}'",
        "make demo   # a comment",
    ]


def test_every_command_make_up_prints_works_as_printed(first_run: LocalStack) -> None:
    commands = printed_commands(first_run.printed)
    assert [c.split()[0].rsplit("/", 1)[-1] for c in commands] == [
        "curl", "curl", "docflow", "docflow", "docflow-stack", "docflow-stack",
        "make", "make", "make",
    ], first_run.printed  # fmt: skip
    *runnable, follow_logs, stop = commands

    for command in runnable:
        done = run(command, first_run)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if command.startswith("curl"):
            answer = json.loads(done.stdout)
            assert answer.get("error") is None, f"{command}\n{done.stdout}"
        if "status demo-1 --watch" in command:
            assert "done" in done.stdout

    assert follow_logs.startswith("make logs")
    assert '"service"' in followed_for(follow_logs, first_run, seconds=5)
    assert stop.startswith("make down")
    stopped = run(stop, first_run)
    assert stopped.returncode == 0, stopped.stderr
    assert "down" in first_run.run("status")


def followed_for(command: str, stack: LocalStack, seconds: float) -> str:
    """What a command that follows forever (``tail -F``) printed in its first ``seconds``."""
    with subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=stack.env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True) as follower:  # fmt: skip
        time.sleep(seconds)
        os.killpg(follower.pid, signal.SIGTERM)
        out, _ = follower.communicate(timeout=10)
    return out
