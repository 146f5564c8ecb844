"""What a document is, from its bytes (never from its name or a Content-Type header)."""

from __future__ import annotations

import io
import re
import threading

import pypdfium2 as pdfium
from docflow_shared.errors import InvalidDocument
from PIL import Image, UnidentifiedImageError

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
TEXT = "text/plain"

# Control bytes never found in text files (tab, newlines and form feed are fine).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")

_MAGIC = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
]


def sniff_type(data: bytes) -> str:
    """The content type the magic bytes say; plain UTF-8 text counts. Anything else is refused."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf")
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    sample = data[:65536]
    if sample and not _CONTROL.search(sample[:8192]):
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.start < len(sample) - 4:  # a multi-byte character cut at the end is fine
                raise _unsupported() from err
        return TEXT
    raise _unsupported()


def _unsupported() -> InvalidDocument:
    return InvalidDocument(
        "unsupported_type", "the document is not a PDF, PNG, JPEG, TIFF or UTF-8 text file"
    )


#: pdfium is not thread-safe, and steps (page batches of several jobs) run in threads of one
#: worker: every call into it holds this lock. (Unlocked, concurrent batches deadlocked.)
PDFIUM = threading.Lock()


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """The PDF, opened; call it, and use what it returns, holding ``PDFIUM``."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise InvalidDocument("encrypted_document", "the PDF is password-protected") from err
        raise InvalidDocument("corrupt_document", f"the PDF cannot be read: {err}") from err


def open_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as err:
        raise InvalidDocument("too_large", f"the image has too many pixels: {err}") from err
    except (UnidentifiedImageError, OSError) as err:
        raise InvalidDocument("corrupt_document", f"the image cannot be read: {err}") from err
    return image


def page_count(data: bytes, content_type: str) -> int:
    if content_type == PDF:
        with PDFIUM:
            pdf = open_pdf(data)
            try:
                return len(pdf)
            finally:
                pdf.close()
    if content_type == TIFF:
        return int(getattr(open_image(data), "n_frames", 1))
    if content_type in (PNG, JPEG):
        open_image(data)
    return 1
