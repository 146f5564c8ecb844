"""``docflow-stack``: ``up``, ``down``, ``status`` and ``init-aws`` (``stack``), and ``submit``
(``submit``: ``docflow submit`` told the local stack, with the CLI's own options)."""

from __future__ import annotations

import sys

from . import stack, submit


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["submit"]:
        submit.main(args[1:])
    else:
        stack.main(args)


if __name__ == "__main__":
    main()
