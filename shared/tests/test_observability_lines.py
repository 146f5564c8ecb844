"""Printed lines reach the log whole, however many threads print at once."""

from __future__ import annotations

import io
import threading

import pytest
from docflow_shared.observability import WholeLines

pytestmark = pytest.mark.unit


def test_each_threads_line_is_written_in_one_piece() -> None:
    out = io.StringIO()
    lines = WholeLines(out)
    start = threading.Barrier(8)

    def printer(n: int) -> None:
        start.wait()
        for i in range(200):
            # print's two writes: the text, then the newline.
            lines.write(f'{{"thread": {n}, "i": {i}}}')
            lines.write("\n")

    threads = [threading.Thread(target=printer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    written = out.getvalue().splitlines()
    assert len(written) == 8 * 200
    assert all(line.startswith('{"thread": ') and line.endswith("}") for line in written)
    assert sorted(written) == sorted(f'{{"thread": {n}, "i": {i}}}' for n in range(8)
                                     for i in range(200))  # fmt: skip
