"""Opening export files as streams of text, whatever their encoding.

Decoding: a UTF-8 BOM or UTF-16 BOM decides; BOM-less UTF-16 is recognised by its pattern of
NUL bytes; otherwise the first MiB is tried as UTF-8, and cp1252 (the encoding of older
Windows exports) is the fallback. Bytes that do not fit the chosen 8-bit encoding later in the
file are read as cp1252 (latin-1 for its five undefined bytes) instead of failing, so one stray
byte in a million-record file does not stop an import. A statistical detector
(charset-normalizer) is not used: on short bibliographic samples it guesses exotic code pages
for plain cp1252 text, and exports are in practice UTF-8, UTF-16 or cp1252.

Files may be gzip-compressed (``.csv.gz``, ``.ris.gz``); they are decompressed as they stream.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from prioritiser.errors import InputError

SAMPLE_BYTES = 1 << 20
_FALLBACK = "prioritiser-cp1252-fallback"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    bad = error.object[error.start:error.end]
    return "".join(codecs.decode(bytes([b]), "cp1252", "ignore") or chr(b) for b in bad), error.end


codecs.register_error(_FALLBACK, _cp1252_fallback)

# Errors a damaged gzip stream or an unreadable file can raise while it is being read.
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def open_binary(path: Path) -> BinaryIO:
    """The file as a binary stream, gunzipped on the fly when it starts with the gzip magic."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a directory, not a file")
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be opened ({exc.strerror or exc})") from None
    if handle.read(2) == b"\x1f\x8b":
        handle.close()
        return gzip.open(path, "rb")
    handle.seek(0)
    return handle


def head_bytes(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    """Up to ``size`` bytes from the start of the (decompressed) file."""
    with open_binary(path) as handle:
        try:
            return handle.read(size)
        except READ_ERRORS as exc:
            raise InputError(path, f"cannot be read ({exc.__class__.__name__}: {exc})") from None


def detect_encoding(path: Path, sample: bytes) -> str:
    """The codec for a file whose first bytes are ``sample``; InputError for binary data."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = sample[:4096]
    if head.count(0) > len(head) // 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 4 * even:
            return "utf-16-le"
        if even > 4 * odd:
            return "utf-16-be"
    if 0 in head:
        raise InputError(path, "looks like a binary file, not a text export")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def open_text(path: Path) -> TextIO:
    """The file as text with universal newlines (``\\r\\n`` and ``\\r`` read as ``\\n``)."""
    encoding = detect_encoding(path, head_bytes(path))
    errors = "strict" if encoding.startswith("utf-16") else _FALLBACK
    return io.TextIOWrapper(open_binary(path), encoding=encoding, errors=errors, newline=None)


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line end) for every line of the file."""
    number = 0
    with open_text(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n")
        except READ_ERRORS as exc:
            raise InputError(path, f"cannot be read past this line ({exc.__class__.__name__}: {exc})", line=number + 1) from None


def decode_file(path: Path) -> str:
    """The whole file as text (see the module docstring for the decoding rules)."""
    with open_text(path) as handle:
        try:
            return handle.read()
        except READ_ERRORS as exc:
            raise InputError(path, f"cannot be read ({exc.__class__.__name__}: {exc})") from None
