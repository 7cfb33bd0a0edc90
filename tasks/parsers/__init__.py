"""Readers for the partner file formats of FORMATS.md.

Every reader yields Arrow record batches of strings: `row_number` (1-based,
counting data rows as a person reading the file would: header and title rows
are not counted, blank lines are skipped), one column per logical field, and
`raw`, the whole source row as a JSON object of header -> value.
"""

from tasks.parsers.partner_files import read_partner_file

__all__ = ["read_partner_file"]
