"""Format-level facts of FORMATS.md that are the same for every partner, in one place.

Partner-specific values (headers, file-name patterns, date formats, mailer ids) come from the
tenant file through `leadpipe.tenant`; this module holds only what the formats themselves
fix: the D1-D4 layouts, M32's fifteen pass-through columns, how a file-name pattern's digit
run spells a date, and the few partner habits FORMATS.md describes but the tenant file has
no key for.
"""

from __future__ import annotations

import re
from datetime import date

M32_EXTRA_COLUMNS = (
    "APN", "SALE PRICE", "SALE DATE", "TITLE COMPANY", "LENDER ADDRESS", "LENDER CITY",
    "LENDER STATE", "LENDER ZIP", "PROPERTY TYPE", "BEDROOMS", "BATHROOMS", "YEAR BUILT",
    "LIVING SQFT", "OWNER OCCUPIED", "DOC NUMBER",
)
"""The fifteen M32 columns the pipeline keeps but does not use."""

D1_COLUMNS = ("imb31", "delivery_date", "facility_zip", "op_code")
"""D1: CSV without a header; every row is a delivery; dates YYYYMMDD."""
D1_DATE = "%Y%m%d"

D2_SHEET = "Delivered"
D2_HEADERS = ("Tracking Code", "Delivery Date", "ZIP")
"""D2: header in row 1; the tracking code is stored as text, the date as an Excel date."""

D3_MEMBER = "DELIV_{day:%Y%m%d}.txt"
D3_FIELDS = (("bars", 1, 65), ("date", 66, 73), ("zip5", 74, 78), ("zip4", 79, 82),
             ("status", 83, 84))
"""D3 fixed-width fields: (name, first column, last column), 1-based and inclusive."""
D3_WIDTH = 84
D3_DATE = "%Y%m%d"
D3_STATUS = {"delivered": "DL", "undeliverable": "UD"}

D4_SHEET = "Sheet1"
D4_TITLE_ROW, D4_HEADER_ROW = 1, 3
"""D4: a title in row 1, row 2 blank, the header in row 3, data from row 4."""
D4_HEADERS = ("IMb Digits", "Date Delivered", "Status")
D4_DATE = "%m/%d/%Y"
D4_STATUS = {"delivered": "Delivered", "undeliverable": "Undeliverable"}

STATUS_FORMATS = frozenset({"D3", "D4"})
"""Delivery formats that carry a status; D1 and D2 list deliveries only."""
EVERY_OTHER_WEEKDAY_FORMATS = frozenset({"D3", "D4"})
"""FORMATS.md: the partners sending D3 and D4 batch their confirmations every other weekday."""

FILENAME_DATES = (
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{8}", "%Y%m%d"),
    (r"\d{6}", "%m%d%y"),
)
"""How a digit run in a partner's file-name pattern spells the file's date (FORMATS.md
section 1: YYYYMMDD, YYYY-MM-DD, MMDDYY)."""

NAME_FORMS = {"summit": "last_first", "harbor": "upper_natural"}
"""Borrower name form where FORMATS.md gives one other than "First M Last"; the tenant file
has no key for it (the parser must accept every form), so it is kept here."""
M32_NAME_FORM = "upper_natural"


def filename(pattern: str, day: date) -> str:
    """The file name a partner's pattern gives for `day`.

    Args:
        pattern: The tenant's file-name regular expression, e.g. `HARBOR_DLV_\\d{8}\\.csv`.
        day: The date the name carries.

    Returns:
        The name, checked to match the pattern in full.

    Raises:
        ValueError: The pattern has no date-shaped digit run this module knows.
    """
    for fragment, spelling in FILENAME_DATES:
        if fragment in pattern:
            head, tail = pattern.split(fragment, 1)
            name = _unescape(head) + day.strftime(spelling) + _unescape(tail)
            if re.fullmatch(pattern, name):
                return name
    raise ValueError(f"no date-shaped digit run in file-name pattern {pattern!r}")


def _unescape(regex: str) -> str:
    """The literal text of a regex fragment made of escaped or plain characters."""
    return re.sub(r"\\(.)", r"\1", regex)


def name_form(partner: str, mortgage_format: str) -> str:
    """`natural` (First M Last), `last_first` (LAST, FIRST M) or `upper_natural`."""
    if mortgage_format == "M32":
        return M32_NAME_FORM
    return NAME_FORMS.get(partner, "natural")
