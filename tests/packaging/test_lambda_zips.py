"""Each Lambda zip stands alone: unpacked into an empty directory, its handlers import and answer
with a plain python3.12 that has nothing else on its path (no venv, no site-packages)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docflow_devstack.package import build_zip
from docflow_testing.events import api_event

pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("lambda-zips")]


def plain_python312() -> str:
    """A Python 3.12 (the Lambda runtime's version) outside any virtualenv."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [
        Path(sys.base_prefix) / "bin" / "python3.12",
        *map(Path, filter(None, [shutil.which("python3.12", path="/usr/local/bin:/usr/bin")])),
        *sorted(pyenv.glob("versions/3.12*/bin/python3.12"), reverse=True),
    ]
    found = next((c for c in candidates if c.exists()), None)
    assert found is not None, f"no Python 3.12 to test the zips with; looked at {candidates}"
    return str(found)


# Runs inside the bare interpreter: prove the isolation, then import and invoke the handler.
PROBE = """
import importlib, json, sys
assert sys.version_info[:2] == (3, 12), sys.version  # the Lambda runtime's, the zips' target
sys.path.insert(0, sys.argv[1])
for name in ("pytest", "docflow_devstack"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"not isolated: {name} importable")
module, event = sys.argv[2], json.loads(sys.argv[3])
handler = importlib.import_module(module).lambda_handler
if event is None:  # importing is the whole check
    print("{}")
    raise SystemExit
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "zip-test", 512, "r-1"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:zip-test"
    def get_remaining_time_in_millis(self): return 30000
print(json.dumps(handler(event, Context())))
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


def unpack(service: str, build_dir: Path) -> Path:
    archive = build_zip(service, build_dir)
    target = build_dir / f"{service}-unpacked"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(target)
    return target


def invoke(root: Path, module: str, event: dict[str, object] | None) -> dict[str, object]:
    out = subprocess.run(
        [plain_python312(), "-I", "-S", "-c", PROBE, str(root), module, json.dumps(event)],
        capture_output=True, text=True, cwd=root, check=False,
        # What template.yaml configures (nothing listens there: these requests never reach it).
        env={"PATH": "/usr/bin:/bin", "RESONATE_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    answer: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def test_trigger_zip_stands_alone(build_dir: Path) -> None:
    root = unpack("trigger-lambda", build_dir)
    assert not (root / "docflow_status").exists()  # only its own service's code
    bad_json = {**api_event("POST", "/process-document", {}), "body": "{not json"}
    answer = invoke(root, "docflow_trigger.handlers.http", bad_json)
    assert answer["statusCode"] == 400
    assert json.loads(str(answer["body"]))["error"] == "invalid_json"
    # The SQS entry point ships in the same package (answering it needs Resonate: e2e tests).
    assert invoke(root, "docflow_trigger.handlers.sqs", None) == {}


def test_status_zip_stands_alone(build_dir: Path) -> None:
    root = unpack("status-lambda", build_dir)
    assert not (root / "docflow_trigger").exists()
    answer = invoke(root, "docflow_status.handlers.http", api_event("GET", "/status/bad%20id"))
    assert answer["statusCode"] == 400
    assert "jobId" in json.loads(str(answer["body"]))["message"]
