"""``docflow``: a job's life from a terminal, through the API (the local gateway by default).

  docflow status JOB
  docflow approve JOB --reviewer bob [--comment "looks right"]
  docflow reject JOB --reviewer bob --comment "wrong vendor"
  docflow cancel JOB
  docflow submit DOCUMENT [--job-id ID] [--via sqs]     (see docflow-submit)

``DOCFLOW_GATEWAY_URL`` points it at another API (a deployed one); ``DOCFLOW_API_TOKEN`` is sent
as the bearer token when set. Exits 1 when the API refuses, with its message.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

from . import submit
from .local_client import gateway, gateway_headers, run_cli


def api() -> str:
    return os.environ.get("DOCFLOW_GATEWAY_URL", gateway()).rstrip("/")


def call(method: str, path: str, body: Any = None) -> None:
    answer = httpx.request(method, api() + path, json=body, headers=gateway_headers(), timeout=30)
    try:
        shown = json.dumps(answer.json(), indent=2)
    except ValueError:
        shown = answer.text
    print(shown)
    if answer.status_code >= 400:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    run_cli(run, argv)


def run(argv: list[str] | None) -> None:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["submit"]:
        submit.run(args_in[1:])
        return
    parser = argparse.ArgumentParser(
        prog="docflow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="the job's status").add_argument("job")
    for name, approved in (("approve", True), ("reject", False)):
        decide = commands.add_parser(name, help=f"{name} a job awaiting approval")
        decide.add_argument("job")
        decide.add_argument("--reviewer", required=True)
        decide.add_argument("--comment", required=not approved)
        decide.set_defaults(approved=approved)
    commands.add_parser("cancel", help="cancel a job").add_argument("job")
    commands.add_parser("submit", help="submit a document (docflow submit --help)")
    args = parser.parse_args(args_in)

    if args.command == "status":
        call("GET", f"/status/{args.job}")
    elif args.command == "cancel":
        call("POST", f"/jobs/{args.job}/cancel")
    else:
        decision = {"approved": args.approved, "reviewer": args.reviewer, "comment": args.comment}
        call("POST", f"/jobs/{args.job}/approval", decision)


if __name__ == "__main__":
    main()
