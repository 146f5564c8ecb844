"""``docflow-submit``: the same as ``docflow submit`` (docs/cli.md), for the scripts that use it.

uv run docflow-submit s3://docflow-artifacts/samples/invoice.pdf --via sqs
uv run docflow-submit ./scan.png --wait               (a local file is uploaded first)
"""

from __future__ import annotations

import sys

from .cli import app


def main() -> None:
    app(["submit", *sys.argv[1:]], prog_name="docflow")


if __name__ == "__main__":
    main()
