"""The ``docflow`` CLI on its own: installed alone into an empty virtual environment (nothing of
the local stack, no AWS SDK), it submits a URL to a gateway and watches the job to done."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from docflow_samples import invoice_pdf
from docflow_testing.processes import ROOT
from docflow_testing.stack import FileServer, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-stack")]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


def test_the_cli_installed_alone_submits_a_url_and_watches_it_to_done(
    stack: LocalStack, files: FileServer, tmp_path: Path
) -> None:
    venv = tmp_path / "cli"
    uv = str(ROOT / "scripts" / "uv")
    created = run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    assert created.returncode == 0, created.stderr
    # --offline: from uv's cache, which `make test`'s sync filled; a test reaches no index.
    installed = run(uv, "pip", "install", "--offline", "--quiet", "--python",
                    str(venv / "bin" / "python"), "./clients/cli")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    alone = run(str(venv / "bin" / "python"), "-c",
                "import importlib.util as u; print([m for m in ('docflow_devstack', 'boto3', "
                "'moto', 'docflow_trigger', 'docflow_worker') if u.find_spec(m)])")  # fmt: skip
    assert alone.stdout.strip() == "[]", alone.stdout + alone.stderr
    job_id = f"alone-{uuid.uuid4().hex[:8]}"
    url = files.serve(f"/{job_id}.pdf", invoice_pdf(), "application/pdf")

    submitted = run(str(venv / "bin" / "docflow"), "submit", url, "--job-id", job_id,
                    "--gateway", stack.gateway, "--wait", "--json")  # fmt: skip

    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert '"status": "done"' in submitted.stdout
    assert stack.status(job_id)["status"] == "done"
