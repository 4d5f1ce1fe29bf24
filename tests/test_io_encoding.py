"""Encodings, line ends and files that are not exports at all."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest

from prioritiser.errors import InputError
from prioritiser.io import decode_file, detect_format, iter_label_rows, iter_records
from prioritiser.io.encoding import SAMPLE_BYTES

FIXTURES = Path(__file__).parent / "fixtures" / "io"
RIS = "TY  - JOUR\nTI  - Café society and naïve Bayes – “quoted”\nAU  - Müller, Jörg\nPY  - 2020\nER  - \n"
CSV = "title,abstract,label\nCafé – “quoted”,Résumé,yes\n"


@pytest.mark.parametrize("encoding,bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-16-le", b""), ("utf-16-be", b""), ("cp1252", b""),
])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_ris_in_any_encoding_and_line_end(tmp_path, encoding, bom, newline):
    path = tmp_path / "export.ris"
    path.write_bytes(bom + RIS.replace("\n", newline).encode(encoding))
    (record,) = iter_records(path)
    assert record.title == "Café society and naïve Bayes – “quoted”"
    assert record.authors == ["Müller, Jörg"] and record.year == 2020


@pytest.mark.parametrize("encoding,bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("cp1252", b"")])
def test_csv_in_excel_encodings(tmp_path, encoding, bom):
    path = tmp_path / "export.csv"
    path.write_bytes(bom + CSV.replace("\n", "\r\n").encode(encoding))
    (record,) = iter_records(path)
    assert (record.title, record.abstract, record.label) == ("Café – “quoted”", "Résumé", "include")
    assert next(iter_label_rows(path)).decision == "include"


def test_stray_cp1252_byte_after_the_sample_does_not_stop_a_utf8_file(tmp_path):
    path = tmp_path / "long.ris"
    filler = "TY  - JOUR\nTI  - Ω\nAB  - " + "long abstract " * (SAMPLE_BYTES // 10) + "\nER  - \n"
    path.write_bytes(filler.encode("utf-8") + "TY  - JOUR\nTI  - Smart “quote”\nER  - \n".encode("cp1252"))
    assert list(iter_records(path))[-1].title == "Smart “quote”"


def test_decode_file_returns_text_with_newlines_normalised(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(codecs.BOM_UTF8 + "a\r\nb\rc\n".encode("utf-8"))
    assert decode_file(path) == "a\nb\nc\n"


def test_odd_length_utf16_names_the_file(tmp_path):
    path = tmp_path / "cut.ris"
    path.write_bytes(codecs.BOM_UTF16_LE + RIS.encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match=r"cut\.ris, line \d+: cannot be read"):
        list(iter_records(path))


@pytest.mark.parametrize("name,content,message", [
    ("empty.ris", b"", "is empty"),
    ("blank.csv", b"  \n\n", "is empty"),
    ("image.ris", bytes(range(256)) * 4, "binary file"),
    ("old.xls", bytes.fromhex("d0cf11e0a1b11ae1") + bytes(512), "old-style Excel"),
    ("fake.xlsx", b"title,abstract\n", "not an Excel workbook"),
    ("notes.txt", b"Just some notes\nwith no structure\n", "unknown format"),
    ("refs.ris", b"Author: Smith\nTitle: Something\n", "does not look like ris"),
])
def test_unreadable_content_is_a_one_line_input_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        list(iter_records(path))
    assert name in str(caught.value) and "\n" not in str(caught.value)


def test_zip_archive_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("savedrecs.ris", RIS)
    with pytest.raises(InputError, match="ZIP archive"):
        detect_format(path)


def test_damaged_workbook(tmp_path):
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook")
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot be read as an Excel workbook"):
        list(iter_records(path))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope\.ris: no such file"):
        list(iter_records(tmp_path / "nope.ris"))
    with pytest.raises(InputError, match="is a directory"):
        list(iter_records(tmp_path))


def test_damaged_gzip_is_an_input_error(tmp_path):
    import gzip

    data = gzip.compress(("title,abstract\n" + "a,b\n" * 20000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.csv\.gz.*cannot be read"):
        list(iter_records(path))
