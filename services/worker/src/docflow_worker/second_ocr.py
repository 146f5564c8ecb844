"""The second OCR engine: RapidOCR (PP-OCRv4, ONNX; its models ship in its wheel, nothing is
downloaded). It reads a page where Tesseract's text left a required field empty.

Measured on the real corpus (docs/benchmarks.md, *Second OCR engine*): in Tesseract's place it
finds a little more, but writes no umlaut and takes 1.6 to 1.8 times as long; the two fail on
different pages, so Tesseract's fields filled from RapidOCR's reading find the most. Its lines
are laid out as Tesseract's are (:func:`.steps.extract.layout`), each boxed on the same picture.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from .steps.extract import Reading, Word, fraction_box, layout

# Lines read less surely than this are left out: print showing through from the back of the
# paper reads as garbage at 0.5 to 0.8 (chosen on the development corpus).
MIN_LINE_SCORE = 0.8
# The recogniser often leaves out the space between two words; a gap between two characters
# this wide (a fraction of the line's height) is one.
WORD_GAP = 0.3


@cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR  # loads its models: once, and only when needed

    # One thread each, as Tesseract runs (OMP_THREAD_LIMIT=1): a worker runs pages side by side.
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def read(picture: Image.Image) -> Reading:
    """The text of ``picture`` (upright: the page as Tesseract read it), its lines boxed."""
    found, _ = _engine()(np.asarray(picture.convert("RGB")), return_word_box=True)
    lines = [
        words
        for _box, _text, score, char_boxes, chars, *_ in found or []
        if score >= MIN_LINE_SCORE and (words := _words(char_boxes, chars))
    ]
    rows = layout(lines)
    text = "\n".join(" ".join(word.text for word in row) for row in rows)
    boxes = tuple(fraction_box((w.box for w in row), *picture.size) for row in rows)
    return Reading(text, 0.0, sum(len(row) for row in rows), True, boxes, picture)


def _words(char_boxes: list[list[list[int]]], chars: list[str]) -> list[Word]:
    """A line's characters (each with its four corners) as words: split at spaces, and at gaps
    wider than ``WORD_GAP`` of the line's height."""
    words: list[list[tuple[str, tuple[int, int, int, int]]]] = [[]]
    previous_right = None
    for corners, char in zip(char_boxes, chars, strict=False):
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        box = (min(xs), min(ys), max(xs), max(ys))
        height = box[3] - box[1]
        if char.isspace() or (
            previous_right is not None and box[0] - previous_right > WORD_GAP * height
        ):
            words.append([])
        if not char.isspace():
            words[-1].append((char, box))
        previous_right = box[2]
    return [_word(word) for word in words if word]


def _word(chars: list[tuple[str, tuple[int, int, int, int]]]) -> Word:
    left, top = min(b[0] for _, b in chars), min(b[1] for _, b in chars)
    right, bottom = max(b[2] for _, b in chars), max(b[3] for _, b in chars)
    text = "".join(char for char, _ in chars)
    return Word(text, (left + right) / 2, (top + bottom) / 2, bottom - top,
                (left, top, right, bottom))  # fmt: skip
