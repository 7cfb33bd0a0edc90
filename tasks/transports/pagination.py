"""The cursor paginator shared by every HTTP client that pages by a cursor.

Microsoft Graph puts the next page's whole URL in `@odata.nextLink`; Pipedrive
puts a cursor in `additional_data.next_cursor`. Both are the same loop: fetch a
page, yield its records, follow the cursor until there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tasks.transports.errors import TerminalTransportError

Page = Mapping[str, Any]


def _dig(page: Page, path: tuple[str, ...]) -> Any:
    value: Any = page
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True)
class CursorPaginator:
    """Pages that each say where the next one is.

    Attributes:
        cursor_path: keys leading to the next cursor in a page; absent or
            empty means the last page.
        records_path: keys leading to the page's list of records.
        max_pages: a bound, so that a server that never stops cannot hang a run.
    """

    cursor_path: tuple[str, ...]
    records_path: tuple[str, ...]
    max_pages: int = 10_000

    def records(self, fetch: Callable[[str | None], Page]) -> Iterator[Any]:
        """Every record of every page.

        Args:
            fetch: gets a page: the first for None, else the one a cursor names.

        Raises:
            TerminalTransportError: a cursor repeats, or there are more than
                `max_pages` pages.
        """
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(self.max_pages):
            page = fetch(cursor)
            yield from _dig(page, self.records_path) or ()
            cursor = _dig(page, self.cursor_path) or None
            if cursor is None:
                return
            if cursor in seen:
                raise TerminalTransportError(f"server repeated the page cursor {cursor!r}")
            seen.add(cursor)
        raise TerminalTransportError(f"more than {self.max_pages} pages")


GRAPH_PAGES = CursorPaginator(cursor_path=("@odata.nextLink",), records_path=("value",))
PIPEDRIVE_PAGES = CursorPaginator(
    cursor_path=("additional_data", "next_cursor"), records_path=("data",)
)
