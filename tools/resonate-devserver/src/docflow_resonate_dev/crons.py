"""Cron expressions as the real server reads them (resonatehq/resonate v0.9.8, ``src/util.rs``
:37-124, with the ``cron`` crate 0.12): in UTC; five fields (minute first: the seconds are 0),
six or seven (seconds first; the seventh is the year), or ``@yearly`` … ``@hourly``. One quirk
kept on purpose, so a schedule fires here on the day it fires in production: the day of the
week counts 1-7 from Sunday (``1`` is Sunday, ``0`` is refused), where Unix cron counts 0-6.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from croniter import croniter

SHORTHANDS = ("@yearly", "@monthly", "@weekly", "@daily", "@hourly")
DAY_OF_WEEK = 5  # its place among the six or seven fields
_NUMBER = re.compile(r"\d+")


class InvalidCron(ValueError):
    pass


def _unix_day_of_week(field: str) -> str:
    """The crate's 1-7 (Sunday 1) as croniter's 0-6 (Sunday 0); a step is a count, not a day."""

    def shifted(part: str) -> str:
        days, slash, step = part.partition("/")
        for number in _NUMBER.findall(days):
            if not 1 <= int(number) <= 7:
                raise InvalidCron(field)
        return _NUMBER.sub(lambda m: str(int(m.group()) - 1), days) + slash + step

    return ",".join(shifted(part) for part in field.split(","))


def _croniter_expression(cron: str) -> str:
    expression = cron.strip()
    if expression in SHORTHANDS:
        return expression
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) not in (6, 7):
        raise InvalidCron(cron)
    fields[DAY_OF_WEEK] = _unix_day_of_week(fields[DAY_OF_WEEK])
    return " ".join(fields)


def next_run(cron: str, after_ms: int) -> int:
    """The first slot of ``cron`` strictly after ``after_ms`` (in whole seconds), in epoch ms.
    Raises ``InvalidCron`` for an expression the real server refuses."""
    try:
        expression = _croniter_expression(cron)
        start = datetime.fromtimestamp(after_ms // 1000, UTC)
        slots = croniter(expression, start, second_at_beginning=not expression.startswith("@"))
        return int(slots.get_next(datetime).timestamp()) * 1000
    except (ValueError, KeyError) as err:  # croniter's errors are ValueErrors
        raise InvalidCron(cron) from err
