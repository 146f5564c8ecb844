"""``docflow-stack``: ``up``, ``down``, ``status`` and ``init-aws`` (``stack``), ``submit``
(``submit``: ``docflow submit`` told the local stack, with the CLI's own options) and ``logs``
(``job_logs``: a job's lines from the stack's log files)."""

from __future__ import annotations

import sys

from . import job_logs, stack, submit


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["submit"]:
        submit.main(args[1:])
    elif args[:1] == ["logs"]:
        job_logs.main(args[1:])
    else:
        stack.main(args)


if __name__ == "__main__":
    main()
