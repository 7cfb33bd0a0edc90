"""Bytes to clean UTF-8 text: byte-order mark dropped, stray latin-1 lines repaired.

Partners' CSVs are UTF-8 but sometimes carry a line typed on an old system in
latin-1 (cp1252). Such a line is decoded as cp1252 instead of failing the file,
and its line number is reported so the row can carry a warning.
"""

from __future__ import annotations

import codecs


def to_utf8(data: bytes) -> tuple[bytes, list[int]]:
    """UTF-8 bytes of a text file, and the 1-based line numbers that were not UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data, []
    lines = data.split(b"\n")
    repaired = []
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            lines[number - 1] = line.decode("cp1252", errors="replace").encode("utf-8")
            repaired.append(number)
    return b"\n".join(lines), repaired
