"""The deployment definitions are valid and agree with the code: compose.yaml (Compose
Specification schema, offline), template.yaml (cfn-lint, with the SAM transform), the
Dockerfiles (the hadolint rules that matter here), and the committed OpenAPI document."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import resonate_base
import yaml
from docflow_devstack.functions import ROUTES
from docflow_devstack.openapi import DOCUMENT, as_yaml, openapi_document
from docflow_devstack.package import ARTIFACTS, LAMBDA_DOCKERFILE, SERVICE_DOCKERFILE
from docflow_devstack.stack import Ports

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The protocol the pinned Resonate server release (compose.yaml) accepts, checked at its tag.
PINNED_SERVER = ("ghcr.io/resonatehq/resonate:v0.9.8", "2026-04-01")


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain values."""


CloudFormationLoader.add_multi_constructor(
    "!", lambda loader, _tag, node: loader.construct_scalar(node)
    if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
)  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return document


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    text = (ROOT / "template.yaml").read_text()
    document: dict[str, Any] = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - safe loader subclass
    return document


def test_compose_file_follows_the_compose_specification() -> None:
    out = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
         str(ROOT / "compose.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_wiring_matches_the_code(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        build = service.get("build")
        if build:
            assert (ROOT / build["dockerfile"]).exists(), name
    built = {s["image"] for s in services.values() if s.get("build") and "image" in s}
    for name, service in services.items():
        if service.get("image", "").startswith("docflow/"):
            assert service["image"] in built, f"{name} uses {service['image']}, built by none"
    # Compose builds every artifact exactly as `make build` does (same Dockerfile, same args).
    builds = {s["image"].removeprefix("docflow/"): s["build"] for s in services.values()
              if isinstance(s.get("build"), dict)}  # fmt: skip
    assert set(builds) == set(ARTIFACTS)
    for service, build in builds.items():
        assert build["dockerfile"] == str(ARTIFACTS[service].dockerfile), service
        assert build["args"] == ARTIFACTS[service].build_args, service
    # A function container's command is a handler of its own package.
    for name, service in services.items():
        if service.get("image") in ("docflow/trigger-lambda", "docflow/status-lambda"):
            module, _, attr = service["command"][0].rpartition(".")
            assert callable(getattr(importlib.import_module(module), attr)), name
            package = ARTIFACTS[service["image"].removeprefix("docflow/")].package
            assert module.split(".")[0] == package.replace("-", "_"), name
    # The gateway invokes exactly the functions behind the routes.
    functions = {a.split("=", 2)[1] for a in services["gateway"]["command"]
                 if a.startswith("--function=")}  # fmt: skip
    assert functions == {t.partition(":")[0].split(".")[0].replace("_", "-") for *_, t in ROUTES}
    # The same S3/SQS emulator as the native stack's.
    assert services["aws"]["image"] == f"motoserver/moto:{metadata.version('moto')}"
    # Same host ports as the native stack: one set of URLs for both runtimes.
    ports = Ports()
    published = {name: int(s["ports"][0].rsplit(":", 1)[1]) for name, s in services.items()
                 if s.get("ports")}  # fmt: skip
    expected = {"gateway": ports.gateway, "resonate": ports.resonate, "notifier": ports.notifier,
                "redis": ports.redis, "aws": ports.aws}  # fmt: skip
    assert published == expected


def test_resonate_server_pin_speaks_the_sdks_protocol(compose: dict[str, Any]) -> None:
    image, protocol = PINNED_SERVER
    assert compose["services"]["resonate"]["image"] == image
    # Upgrading the SDK fails here until the server pin is checked again.
    assert protocol == resonate_base.PROTOCOL_VERSION


def test_template_passes_cfn_lint() -> None:
    out = subprocess.run(
        [str(BIN / "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_template_routes_and_handlers_match_the_code(template: dict[str, Any]) -> None:
    functions = {name: r["Properties"] for name, r in template["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}  # fmt: skip
    worker = functions.pop("WorkerFunction")  # an image: docker/lambda.Dockerfile, the worker
    module, _, attr = worker["ImageConfig"]["Command"][0].rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr))
    assert (worker["PackageType"], module) == ("Image", "docflow_worker.serverless")
    routes = set()
    for properties in functions.values():
        module, _, attr = properties["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr))
        service = Path(properties["CodeUri"]).name.removesuffix(".zip")
        assert ARTIFACTS[service].is_lambda
        assert module.split(".")[0] == ARTIFACTS[service].package.replace("-", "_")
        for event in properties.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                handler = f"{module}:{attr}"
                routes.add((event["Properties"]["Method"], event["Properties"]["Path"], handler))
            else:
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert routes == set(ROUTES)


def test_the_inbox_notifies_the_job_queue_and_only_it_may_send_there(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    inbox = resources["InboxBucket"]
    [notification] = inbox["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    [statement] = resources["InboxQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    reader = resources["TriggerQueueFunction"]["Properties"]

    assert notification == {"Event": "s3:ObjectCreated:*", "Queue": "JobQueue.Arn"}
    assert resources["InboxQueuePolicy"]["Properties"]["Queues"] == ["JobQueue"]
    assert statement["Action"] == "sqs:SendMessage"
    assert inbox["DependsOn"] == "InboxQueuePolicy"
    # The policy names the inbox by the same name the bucket gets.
    name = inbox["Properties"]["BucketName"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(f":::{name}")
    assert reader["Environment"]["Variables"]["DOCFLOW_INBOX_BUCKET"] == "InboxBucket"
    assert {"S3ReadPolicy": {"BucketName": "InboxBucket"}} in reader["Policies"]


@pytest.mark.parametrize("path", [SERVICE_DOCKERFILE, LAMBDA_DOCKERFILE])
def test_dockerfile_rules(path: Path) -> None:
    commands = dockerfile.parse_file(str(ROOT / path))
    stages = [i for i, c in enumerate(commands) if c.cmd == "FROM"]
    final = commands[stages[-1] :]
    defaults = dict(c.value[0].split("=", 1) for c in commands[: stages[0]] if c.cmd == "ARG")
    for command in commands:
        if command.cmd == "FROM":  # DL3006/DL3007: a pinned base image, never latest
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], command.value[0])
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), command.original
            assert not image.endswith(":latest"), command.original
        assert command.cmd != "ADD", "DL3020: use COPY"
        if command.cmd == "RUN" and "pip install" in command.value[0]:
            assert "--no-cache-dir" in command.value[0], "DL3042"
        if command.cmd in ("CMD", "ENTRYPOINT"):
            assert command.json, f"DL3025: {command.cmd} in exec (JSON) form"
    # Build tools stay in the build stage: the final one installs nothing.
    assert not any(c.cmd == "RUN" and re.search(r"pip|uv |apt|apk", c.value[0]) for c in final)
    if path == SERVICE_DOCKERFILE:  # DL3002 (Lambda's base image runs as its own user)
        users = [c.value[0] for c in final if c.cmd == "USER"]
        assert users, "the final stage sets no USER"
        assert users[-1] not in ("root", "0")


def test_committed_openapi_matches_the_code() -> None:
    assert (ROOT / DOCUMENT).read_text() == as_yaml(openapi_document()), (
        "docs/openapi.yaml is stale: run `make openapi` and commit it"
    )
