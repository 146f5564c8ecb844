"""``docflow-package [SERVICE ...]``: each service's deployable artifacts, from the workspace lock.

A Lambda function becomes a zip package, ``build/<service>.zip``: its own code, ``shared`` and
exactly its locked dependencies at the root, as Lambda expects, as Linux x86_64 wheels. With a
Docker engine every service also becomes a container image, ``docflow/<service>``; without one
that step is skipped and said so. Run from the workspace root (``make build``).
"""

from __future__ import annotations

import argparse
import os
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
    env = {**os.environ, "UV": os.environ.get("UV", "uv")}
    subprocess.run(
        [str(INSTALL_SERVICE), artifact.package, "--target", str(root), *LAMBDA_PLATFORM],
        check=True,
        env=env,
    )
    archive = build_dir / f"{service}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(root.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(str(path.relative_to(root)), ZIP_TIMESTAMP)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes())
    return archive


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
        if with_docker:
            print(f"  {service:<15} image {build_image(service)}")
        elif not ARTIFACTS[service].is_lambda:
            print(f"  {service:<15} image skipped: no Docker engine here (`docker info` fails)")


if __name__ == "__main__":
    main()
