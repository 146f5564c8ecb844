"""Reading what the ``docflow`` CLI printed: its tables, without terminal control codes."""

from __future__ import annotations

import re

ANSI_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def row(text: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell``."""
    [line] = [line for line in text.splitlines() if line.split()[:1] == [first_cell]]
    return line.split()
