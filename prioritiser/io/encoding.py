"""Decoding of text exports: UTF-8 (with or without BOM), UTF-16 (with BOM, or without when
the NUL pattern shows it), and cp1252/latin-1 as the fallback of older Windows exports."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

from prioritiser.errors import InputError

SAMPLE_BYTES = 1 << 20


def open_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip-compressed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(path, f"damaged gzip file ({exc})") from None
    return data


def detect_encoding(path: Path, sample: bytes) -> str:
    """The codec for ``sample`` (the start of the file); raises InputError for binary data."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = sample[:4096]
    if head and head.count(b"\x00") > len(head) // 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > even * 4:
            return "utf-16-le"
        if even > odd * 4:
            return "utf-16-be"
    if b"\x00" in head:
        raise InputError(path, "looks like a binary file, not a text export")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(sample) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def decode_bytes(path: Path, data: bytes) -> str:
    """Decode a whole file's bytes; line ends are normalised to ``\\n``."""
    encoding = detect_encoding(path, data[:SAMPLE_BYTES])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        if encoding != "utf-8":
            raise InputError(path, f"cannot be decoded as {encoding}", line=line) from None
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_file(path: Path) -> str:
    """The file's text, whatever its encoding (see module docstring)."""
    return decode_bytes(path, open_bytes(path))
