"""Each Lambda zip stands alone: unpacked into an empty directory, its handlers import and answer
with a plain python3.12 that has nothing else on its path (no venv, no site-packages) but what
the Lambda runtime provides (``runtime_stand_in``, after the zip, as ``/var/runtime`` comes
after ``/var/task``). Each fits its budget, and a refused request loads nothing it never needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docflow_devstack.package import (
    RUNTIME_PROVIDED,
    ZIP_BUDGET_BYTES,
    build_zip,
    runtime_stand_in,
)
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
sys.path[:0] = [sys.argv[1], sys.argv[4]]
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
    print(json.dumps({"loaded": sorted(sys.modules)}))
    raise SystemExit
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "zip-test", 512, "r-1"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:zip-test"
    def get_remaining_time_in_millis(self): return 30000
answer = handler(event, Context())
print(json.dumps({**answer, "loaded": sorted(sys.modules)}))
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
        [plain_python312(), "-I", "-S", "-c", PROBE, str(root), module, json.dumps(event),
         str(runtime_stand_in(root.parent))],
        capture_output=True, text=True, cwd=root, check=False,
        # What template.yaml configures (nothing listens there: these requests never reach it).
        env={"PATH": "/usr/bin:/bin", "RESONATE_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    answer: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


# What a refused request never needs, so a cold start must not load it: the Resonate SDK and
# its HTTP stack (the front doors speak the protocol with the standard library, and only when a
# request gets that far), botocore's machinery (X-Ray's patching, boto3; powertools itself
# imports the bare package for its user agent), redis-py (not even shipped: the front doors
# speak Redis's protocol themselves, ``docflow_shared.resp``, once a request needs it).
NEVER_FOR_A_REFUSAL = ("resonate", "resonate_base", "aiohttp", "msgspec", "botocore.session",
                       "botocore.client", "boto3", "redis", "aws_xray_sdk", "http.client",
                       "pydantic_settings")  # fmt: skip


def never_needed(answer: dict[str, object]) -> list[str]:
    loaded = answer["loaded"]
    assert isinstance(loaded, list)
    return [
        module
        for module in loaded
        if any(module == never or module.startswith(f"{never}.") for never in NEVER_FOR_A_REFUSAL)
    ]


def test_trigger_zip_stands_alone(build_dir: Path) -> None:
    root = unpack("trigger-lambda", build_dir)
    assert not (root / "docflow_status").exists()  # only its own service's code
    assert not (root / "redis").exists()
    bad_json = {**api_event("POST", "/process-document", {}), "body": "{not json"}
    answer = invoke(root, "docflow_trigger.handlers.http", bad_json)
    assert answer["statusCode"] == 400
    assert json.loads(str(answer["body"]))["error"] == "invalid_json"
    invalid = invoke(root, "docflow_trigger.handlers.http",
                     api_event("POST", "/process-document", {"jobId": "a b"}))  # fmt: skip
    assert invalid["statusCode"] == 422, "pydantic validates, from bytecode only"
    assert never_needed(answer) == never_needed(invalid) == []
    # The SQS entry point ships in the same package (answering it needs Resonate: e2e tests).
    assert never_needed(invoke(root, "docflow_trigger.handlers.sqs", None)) == []


def test_status_zip_stands_alone(build_dir: Path) -> None:
    root = unpack("status-lambda", build_dir)
    assert not (root / "docflow_trigger").exists()
    assert not (root / "redis").exists()
    answer = invoke(root, "docflow_status.handlers.http", api_event("GET", "/status/bad%20id"))
    assert answer["statusCode"] == 400
    assert "jobId" in json.loads(str(answer["body"]))["message"]
    assert never_needed(answer) == []


@pytest.mark.parametrize("service", ["trigger-lambda", "status-lambda"])
def test_a_zip_fits_its_budget_and_leaves_the_runtimes_packages_to_it(
    build_dir: Path, service: str
) -> None:
    archive = build_zip(service, build_dir)
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
    top = {name.split("/")[0].split("-")[0].removesuffix(".py").lower() for name in names}

    assert archive.stat().st_size <= ZIP_BUDGET_BYTES, f"{archive.stat().st_size / 1e6:.1f} MB"
    provided = {package.replace("python-dateutil", "dateutil") for package in RUNTIME_PROVIDED}
    assert not top & provided
    # Compiled for 3.12: docflow's own code beside its source, the dependencies bytecode only.
    assert "docflow_shared/__pycache__/models.cpython-312.pyc" in names
    assert "docflow_shared/models.py" in names
    assert "pydantic/main.pyc" in names
    assert not [n for n in names if n.endswith(".py") and not n.startswith("docflow_")]


def test_the_lambda_image_leaves_out_what_the_zip_leaves_out() -> None:
    dockerfile = Path("docker/lambda.Dockerfile").read_text()
    assert f'RUNTIME_PROVIDED="{" ".join(RUNTIME_PROVIDED)}"' in dockerfile
