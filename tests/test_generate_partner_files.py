"""The column-wise partner file writers: read back with independent readers, files of many
chunks equal what a row-by-row writer would make."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

import openpyxl
import pyarrow as pa
import pytest
from python_calamine import CalamineWorkbook

from sampledata import formats, partner_files


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows a chunk, so that five rows cross chunk boundaries."""
    monkeypatch.setattr(partner_files, "CHUNK_ROWS", 2)


def test_column_letters_run_past_z():
    assert [partner_files.column_letter(i) for i in (0, 25, 26, 31, 701, 702)] == \
        ["A", "Z", "AA", "AF", "ZZ", "AAA"]


def test_xlsx_cells_keep_their_types_across_chunks(tmp_path, small_chunks):
    path = tmp_path / "book.xlsx"
    columns = [
        pa.array(["plain", "A & B <c>", None, " padded ", "last"]),
        pa.array([1, 250_000, None, 3, 4]),
        pa.array([1.5, 2.0, 3.25, None, 1e20]),
        pa.array([date(2024, 1, 8), None, date(1999, 12, 31), date(2026, 11, 16),
                  date(1970, 1, 1)], pa.date32()),
        (pa.array(["02134", None, "10001-1234", None, None]),
         pa.array([None, 90210, None, 1234, None], pa.int64())),
    ]
    partner_files.xlsx_file(path, "Sheet1", ["TEXT", "INT", "FLOAT", "DATE", "ZIP"], columns,
                            datetime(2024, 1, 8, 5, 30), title="A title")
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    assert rows[0][0] == "A title" and all(v is None for v in rows[1])
    assert rows[2] == ("TEXT", "INT", "FLOAT", "DATE", "ZIP")
    assert rows[3:] == [
        ("plain", 1, 1.5, datetime(2024, 1, 8), "02134"),
        ("A & B <c>", 250_000, 2, None, 90210),
        (None, None, 3.25, datetime(1999, 12, 31), "10001-1234"),
        (" padded ", 3, None, datetime(2026, 11, 16), 1234),
        ("last", 4, 1e20, datetime(1970, 1, 1), None),
    ]
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Sheet1").to_python()
    assert sheet[4][:2] == ["A & B <c>", 250_000]
    assert sheet[3][3] == date(2024, 1, 8)


def test_an_empty_sheet_has_its_header(tmp_path):
    path = tmp_path / "empty.xlsx"
    partner_files.xlsx_file(path, formats.D2_SHEET, formats.D2_HEADERS,
                            [pa.array([], pa.string()), pa.array([], pa.date32()),
                             pa.array([], pa.string())], datetime(2024, 1, 8))
    book = openpyxl.load_workbook(path, read_only=True)
    assert list(book[formats.D2_SHEET].iter_rows(values_only=True)) == [formats.D2_HEADERS]
    book.close()


def test_xlsx_bytes_depend_only_on_the_cells(tmp_path):
    made = []
    for name in ("a.xlsx", "b.xlsx"):
        partner_files.xlsx_file(tmp_path / name, "S", ["H"], [pa.array(["x"])],
                                datetime(2024, 1, 8))
        made.append((tmp_path / name).read_bytes())
    assert made[0] == made[1]


def _reference_csv(header, rows, quoting, ending, latin1):
    out = bytearray()
    for number, line in enumerate(([header] if header else []) + rows):
        text = io.StringIO()
        csv.writer(text, quoting=quoting, lineterminator=ending).writerow(line)
        row = number - (1 if header else 0)
        out += text.getvalue().encode("latin-1" if row in latin1 else "utf-8")
    return bytes(out)


@pytest.mark.parametrize("quote_all", [False, True])
def test_csv_latin1_rows_across_chunks_equal_a_row_by_row_writer(tmp_path, small_chunks,
                                                                 quote_all):
    rows = [["José", "a,b"], ["Ana", None], ["Peña", "x"], ["Müller", 'say "hi"'],
            ["Zoë", ""], ["Bo", "y"]]
    path = tmp_path / "f.csv"
    partner_files.csv_file(path, ["Name", "Note"], list(zip(*rows, strict=True)),
                           quote_all=quote_all, crlf=True, bom=True, latin1_rows=[0, 2, 3])
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    expected = _reference_csv(["Name", "Note"], [["" if v is None else v for v in r]
                                                 for r in rows], quoting, "\r\n", {0, 2, 3})
    assert path.read_bytes() == partner_files.BOM + expected


def test_d3_lines_are_fixed_width_and_zipped(tmp_path):
    bars = "ATDF" * 16 + "A"
    lines = partner_files.d3_lines(
        pa.array([bars, bars[:-1]]), pa.array([date(2024, 1, 9), date(2024, 1, 10)]),
        pa.array(["02134", "90210"]), pa.array(["0001", None]),
        pa.array(["delivered", "undeliverable"]))
    assert lines.to_pylist() == [bars + "20240109" + "02134" + "0001" + "DL",
                                 bars[:-1] + " " + "20240110" + "90210" + "    " + "UD"]
    path = tmp_path / "d.zip"
    partner_files.d3_zip(path, date(2024, 1, 10), lines, crlf=True)
    archive = zipfile.ZipFile(path)
    assert archive.namelist() == ["DELIV_20240110.txt"]
    assert archive.read("DELIV_20240110.txt").decode("ascii").split("\r\n") == \
        [*lines.to_pylist(), ""]
