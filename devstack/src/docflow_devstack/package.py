"""``docflow-package [SERVICE ...]``: each service's deployable artifacts, from the workspace lock.

A Lambda function becomes a zip package, ``build/<service>.zip``: its own code, ``shared`` and
exactly its locked dependencies at the root, as Lambda expects, as Linux x86_64 wheels, less
what the Lambda Python runtime already provides (``RUNTIME_PROVIDED``), with every module
compiled: ``/var/task`` is read-only, so Lambda would otherwise compile each module from source
on every cold start. docflow's own modules keep their source beside the bytecode; the
dependencies ship bytecode only, which keeps each zip within ``ZIP_BUDGET_BYTES`` (a traceback
through them shows file and line, not the line's text). With a
Docker engine every service also becomes a container image, ``docflow/<service>``; without one
that step is skipped and said so. Run from the workspace root (``make build``).
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

BUILD_DIR = Path("build")
INSTALL_SERVICE = Path("scripts/install-service")
LAMBDA_PLATFORM = ["--python-platform", "x86_64-manylinux2014", "--python-version", "3.12"]
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # fixed, so the same lock gives the same zip
ZIP_BUDGET_BYTES = 8_000_000
FIRST_PARTY_PREFIX = "docflow_"
# In the Lambda Python 3.12 runtime already: boto3 and botocore with their dependencies
# (docs/deploy.md says which versions that means).
RUNTIME_PROVIDED = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                    "urllib3"]  # fmt: skip


SERVICE_DOCKERFILE = Path("docker/service.Dockerfile")
LAMBDA_DOCKERFILE = Path("docker/lambda.Dockerfile")


@dataclass(frozen=True)
class Artifact:
    package: str  # the workspace member
    is_lambda: bool
    command: str | None = None  # a long-running service's program (a function's is its handler)

    @property
    def dockerfile(self) -> Path:
        return LAMBDA_DOCKERFILE if self.is_lambda else SERVICE_DOCKERFILE

    @property
    def build_args(self) -> dict[str, str]:
        return {"PACKAGE": self.package, **({"COMMAND": self.command} if self.command else {})}


ARTIFACTS = {
    "trigger-lambda": Artifact("docflow-trigger", is_lambda=True),
    "status-lambda": Artifact("docflow-status", is_lambda=True),
    "worker": Artifact("docflow-worker", is_lambda=False, command="docflow-worker"),
    "notifier": Artifact(
        "docflow-notifier", is_lambda=False, command="docflow-notifier --host 0.0.0.0"
    ),
    "devstack": Artifact(
        "docflow-devstack", is_lambda=False, command="docflow-gateway --host 0.0.0.0"
    ),
}


def build_zip(service: str, build_dir: Path = BUILD_DIR) -> Path:
    """``build/<service>.zip`` for a Lambda service; returns its path."""
    artifact = ARTIFACTS[service]
    root = (build_dir / service).resolve()
    shutil.rmtree(root, ignore_errors=True)
    env = {**os.environ, "UV": os.environ.get("UV", "uv"),
           "RUNTIME_PROVIDED": " ".join(RUNTIME_PROVIDED)}  # fmt: skip
    subprocess.run(
        [str(INSTALL_SERVICE), artifact.package, "--target", str(root), *LAMBDA_PLATFORM],
        check=True,
        env=env,
    )
    compile_modules(root, sources_of=FIRST_PARTY_PREFIX)
    archive = build_dir / f"{service}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(str(path.relative_to(root)), ZIP_TIMESTAMP)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes())
    return archive


def runtime_stand_in(build_dir: Path = BUILD_DIR) -> Path:
    """``build/lambda-runtime``: what the zips leave to the Lambda runtime (``RUNTIME_PROVIDED``,
    at the lock's versions), for running a zip outside Lambda with it on the path after the zip,
    as Lambda puts ``/var/runtime`` after ``/var/task``."""
    root = (build_dir / "lambda-runtime").resolve()
    if root.is_dir():
        return root
    uv = os.environ.get("UV", "uv")
    exported = subprocess.run(
        [uv, "export", "--package", "docflow-trigger", "--frozen", "--no-dev", "--no-hashes",
         "--no-header", "--no-annotate", "--quiet"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    pins = [line for line in exported.splitlines()
            if line.split("==")[0].lower() in RUNTIME_PROVIDED]  # fmt: skip
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--only-binary", ":all:", "--no-deps", "--target",
         str(root), *LAMBDA_PLATFORM, *pins],
        check=True,
    )  # fmt: skip
    compile_modules(root, sources_of="")  # as the runtime's own copies are
    return root


def compile_modules(root: Path, sources_of: str) -> None:
    """Compile every module under ``root`` for Python 3.12. Top-level packages whose names start
    with ``sources_of`` keep their source (``__pycache__/*.cpython-312.pyc``, valid whatever the
    files' times: the zip's are fixed); every other module is replaced by its bytecode
    (``module.pyc`` beside where ``module.py`` was, which Python imports without a source)."""
    if sys.version_info[:2] != (3, 12):
        sys.exit("docflow-package must run on Python 3.12, the Lambda runtime's version")
    unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
    for entry in sorted(root.iterdir()):
        if entry.name.endswith(".dist-info") or entry.name in ("bin", "__pycache__"):
            continue
        keep_source = bool(sources_of) and entry.name.startswith(sources_of)
        if entry.is_dir():
            compiled = compileall.compile_dir(
                entry, quiet=1, workers=0, legacy=not keep_source, invalidation_mode=unchecked
            )
        elif entry.suffix == ".py":
            compiled = compileall.compile_file(
                entry, quiet=1, legacy=not keep_source, invalidation_mode=unchecked
            )
        else:
            continue
        if not compiled:
            sys.exit(f"could not compile every module under {entry}")
        if not keep_source:
            for source in [entry] if entry.is_file() else entry.rglob("*.py"):
                source.unlink()


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def build_image(service: str) -> str:
    artifact = ARTIFACTS[service]
    tag = f"docflow/{service}:latest"
    args = [f"--build-arg={name}={value}" for name, value in artifact.build_args.items()]
    subprocess.run(
        ["docker", "build", "-f", str(artifact.dockerfile), *args, "-t", tag, "."], check=True
    )
    return tag


def size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-package", description=__doc__)
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(ARTIFACTS))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(ARTIFACTS))
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}; choose from {', '.join(ARTIFACTS)}")
    if not INSTALL_SERVICE.exists():
        sys.exit(f"run docflow-package from the workspace root ({INSTALL_SERVICE} not found)")
    BUILD_DIR.mkdir(exist_ok=True)
    with_docker = docker_available()
    for service in args.services or list(ARTIFACTS):
        if ARTIFACTS[service].is_lambda:
            archive = build_zip(service)
            unpacked = sum(p.stat().st_size for p in (BUILD_DIR / service).rglob("*"))
            print(f"  {service:<15} {archive}  {size(archive)} ({unpacked / 1e6:.1f} MB unzipped)")
            if archive.stat().st_size > ZIP_BUDGET_BYTES:
                sys.exit(f"{archive} is over the budget of {ZIP_BUDGET_BYTES / 1e6:g} MB")
        if with_docker:
            print(f"  {service:<15} image {build_image(service)}")
        elif not ARTIFACTS[service].is_lambda:
            print(f"  {service:<15} image skipped: no Docker engine here (`docker info` fails)")


if __name__ == "__main__":
    main()
