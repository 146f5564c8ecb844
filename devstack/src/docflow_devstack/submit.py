"""``docflow-stack submit`` (also ``docflow-submit``): ``docflow submit`` against the local stack.

The ``docflow`` CLI uploads and queues only where it is told; here the local stack tells it: a
local file goes to the local bucket (with ``--via s3``, the local inbox), ``--via sqs`` to the
local queue, all on the moto server (docs/cli.md).

    docflow-stack submit ./scan.png --wait
    docflow-stack submit .docflow/samples/invoice.pdf --via s3 --wait
    docflow-stack submit s3://docflow-artifacts/samples/invoice.pdf --via sqs
"""

from __future__ import annotations

import os
import sys

from docflow_cli.cli import app

from .stack import Ports, child_environment

LOCAL_SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                  "AWS_DEFAULT_REGION", "DOCFLOW_QUEUE_URL", "DOCFLOW_INBOX_BUCKET")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """The local stack's values as the CLI's defaults (its options still win)."""
    local = child_environment(Ports())
    os.environ.update({name: local[name] for name in LOCAL_SETTINGS})
    os.environ["DOCFLOW_UPLOAD_BUCKET"] = local["DOCFLOW_BUCKET"]
    app(["submit", *(sys.argv[1:] if argv is None else argv)], prog_name="docflow-stack")


if __name__ == "__main__":
    main()
