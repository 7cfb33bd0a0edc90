"""Data hygiene: batch functions over Arrow arrays, one module per kind of value.

Each function takes a pyarrow array of raw strings and returns a table of the
cleaned parts plus an `error` column (null when clean), so a caller can report a
malformed value as a WARN row and keep the raw value. Library parsers run once
per distinct value (`distinct.map_distinct`); the common shapes take a
vectorized fast path proven equal to the library path in the tests.
"""

from tasks.hygiene.emails import clean_emails
from tasks.hygiene.names import parse_names
from tasks.hygiene.phones import clean_phones
from tasks.hygiene.zips import clean_zips

__all__ = ["clean_emails", "clean_phones", "clean_zips", "parse_names"]
