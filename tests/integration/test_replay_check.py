"""``docflow replay-check`` and ``make replay-check`` on the committed histories and on broken
ones: what an operator runs before a deploy (and make deploy-worker runs for them)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from docflow_cli.cli import app
from docflow_testing.processes import ROOT
from typer.testing import CliRunner

pytestmark = pytest.mark.unit

HISTORIES = ROOT / "tests" / "replay"


def test_the_committed_histories_replay_clean() -> None:
    checked = CliRunner().invoke(app, ["replay-check", str(HISTORIES)])

    assert checked.exit_code == 0, checked.output
    lines = checked.stdout.splitlines()
    assert len(lines) == len(list(HISTORIES.rglob("*.json")))
    assert all(line.startswith("ok ") for line in lines), lines


def test_a_history_the_code_diverges_from_fails_the_check_and_says_where(tmp_path: Path) -> None:
    """A job that ran ``store`` where the code now runs ``verify``: as if the code reordered."""
    history = json.loads((HISTORIES / "v2" / "plain.json").read_text())
    promises = history["promises"]  # the root, then <root>:1, <root>:2, ...
    promises[5]["value"], promises[6]["value"] = promises[6]["value"], promises[5]["value"]
    (tmp_path / "swapped.json").write_text(json.dumps(history))
    (tmp_path / "plain.json").write_text((HISTORIES / "v2" / "plain.json").read_text())

    checked = CliRunner().invoke(app, ["replay-check", str(tmp_path)])

    assert checked.exit_code == 1
    assert "ok " + str(tmp_path / "plain.json") in checked.stdout
    root = history["promises"][0]["id"]
    assert (
        f"DIVERGES {tmp_path / 'swapped.json'} (v2): at {root}:5 the code makes step "
        "'verify', but the job's history has step 'store'"
    ) in checked.stdout
    assert "1 of 2 histories diverge from this code" in checked.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "no job history (*.json) in"), ('{"format": "other"}', "cannot read the histories")],
    ids=["none", "not-a-history"],
)
def test_nothing_to_check_is_a_usage_error_not_a_pass(
    tmp_path: Path, content: str | None, said: str
) -> None:
    if content is not None:
        (tmp_path / "other.json").write_text(content)

    checked = CliRunner().invoke(app, ["replay-check", str(tmp_path)])

    assert checked.exit_code == 2
    assert said in checked.stderr


def test_make_replay_check_runs_it_on_the_committed_histories() -> None:
    made = subprocess.run(["make", "-s", "replay-check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip

    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout.count("\nok ") + made.stdout.startswith("ok ") == len(
        list(HISTORIES.rglob("*.json")))  # fmt: skip
