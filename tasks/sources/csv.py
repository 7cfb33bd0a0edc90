"""Campaign CSVs and CSV uploads: any header the tenant's synonyms recognise, streamed by Arrow.

The header is read first (byte-order mark dropped, trimmed and case-insensitive
matching), then Arrow's streaming reader parses the file block by block with
every column as bytes, so a value in cp1252 cannot fail the file: each column is
validated as UTF-8 in one Arrow call, and only a column that fails is decoded
value by value (see `text.decode_text`; `tasks.parsers.text.to_utf8` repairs a
whole file in memory, which a streaming reader cannot hold). CRLF line ends and
quoted newlines are accepted. Rows count as a person reading the file would: the
header is not counted, blank lines and rows with every field empty are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from tasks.sources.columns import Synonyms
from tasks.sources.errors import SourceError
from tasks.sources.schema import BATCH_ROWS, SourceKind
from tasks.sources.shape import BatchShape
from tasks.sources.text import decode_bytes, decode_text

BLOCK_BYTES = 4 << 20
"""Bytes Arrow parses per block: large enough that per-batch costs vanish."""
HEADER_BYTES = 1 << 20
"""The header must end within this many bytes of the start of the file."""


def read_header(path: Path) -> list[str]:
    """The column names on the first non-blank line of a CSV file.

    Raises:
        SourceError: the file has no header line.
    """
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    head = head.removeprefix(codecs.BOM_UTF8)
    for row in csv.reader(io.StringIO(decode_bytes(head), newline="")):
        if row:  # Arrow skips empty lines too, so both agree on which line is the header
            return row
    raise SourceError(f"{path}: no header line (the file is empty)")


class CsvSource:
    """A CSV file whose header names person fields in the tenant's spellings.

    `source_key` and `row_number` are the data-row number from 1.
    """

    def __init__(self, path: str | Path, synonyms: Synonyms, *,
                 kind: SourceKind = "legacy_csv") -> None:
        """Read the header and match it to the logical fields.

        Raises:
            SourceError: no header, or no column that could identify a person.
        """
        self.path = Path(path)
        self.name = str(self.path)
        self.kind: SourceKind = kind
        self.header = read_header(self.path)
        self.shape = BatchShape(self.name, self.header, synonyms)

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the rows; see `base.Source.batches`."""
        return self.shape.numbered(self._runs(), start_after or 0, batch_rows)

    def estimate(self) -> int | None:
        """Rows extrapolated from the line lengths of the first megabyte."""
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            sample = handle.read(HEADER_BYTES)
        lines = sample.count(b"\n")
        if lines <= 1:
            return max(lines - 1, 0) if len(sample) == size else None
        return max(round(size * lines / len(sample)) - 1, 0)

    def _reader(self) -> pacsv.CSVStreamingReader:
        names = [f"c{i}" for i in range(len(self.header))]
        return pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.binary()), null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True),
        )

    def _runs(self) -> Iterator[list[pa.Array]]:
        """The data rows block by block as string columns, blank rows left out."""
        header_seen = False
        try:
            for block in self._reader():
                if not header_seen:
                    block, header_seen = block.slice(1), True
                columns = list(block.columns)
                if min(column.null_count for column in columns) > 0:
                    filled = np.zeros(block.num_rows, dtype=bool)
                    for column in columns:
                        filled |= column.is_valid().to_numpy(zero_copy_only=False)
                    if not filled.all():
                        mask = pa.array(filled)
                        columns = [column.filter(mask) for column in columns]
                yield [decode_text(column) for column in columns]
        except pa.ArrowInvalid as error:
            raise SourceError(f"{self.name}: {error}") from None
