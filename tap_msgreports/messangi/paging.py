"""Pages of one Messangi window: a second that holds more lines than one response returns.

Windows are split down to one second; a bulk campaign can still send more lines within one
second than a response holds. Such a window is read page by page, ``page=2, 3, ...`` (1-based,
api-notes 4.2 assumes it), until its ``pagination.total`` lines are read, and the caller keys
all of them together, so that a page boundary never changes a key.

Every page must be what the first one announced; anything else stops the run rather than
lose or repeat a line, with the window, the counts and the setting to try:

- a page equal to the one before: the API ignores the page parameter;
- an empty or short page before the total, or more lines than the total: its pages are not
  numbered as the tap assumes;
- a first page shorter than ``messangi_page_size``: the API caps pages lower, and how it
  counts later pages is unknown.

A total that changes from one page to the next (a line whose status moved into or out of a
status filter meanwhile) means the pages shifted: the window is read again from its first
page, a few times.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_msgreports.errors import SourceError

if t.TYPE_CHECKING:
    from collections.abc import Callable

#: Requests one window may take: more means a total no second can hold.
MAX_PAGES = 10_000
#: Reads of a window whose total keeps moving before the run gives up.
READS_WHILE_TOTAL_MOVES = 3

Item = dict[str, t.Any]


@dataclass(frozen=True)
class Page:
    """The items of one response and the total it announces."""

    items: list[Item]
    total: int

    @classmethod
    def of(cls, body: dict[str, t.Any]) -> Page:
        """The page of a checked body (``check_body`` made sure of both fields)."""
        return cls(body["items"], body["pagination"]["total"])


@dataclass(frozen=True)
class Paging:
    """How pages are asked for, and how to name a window and its settings in messages."""

    where: str
    param: str
    size: int | None


class _TotalMoved(Exception):  # noqa: N818 - a signal within this module, not an error
    def __init__(self, before: int, after: int) -> None:
        super().__init__(f"{before} then {after}")
        self.before, self.after = before, after


def read_pages(first: Page, fetch: Callable[[int], Page], paging: Paging) -> list[Item]:
    """Every item of the window, in the API's order: ``first``, then ``fetch(n)`` (page n)."""
    moved = _TotalMoved(first.total, first.total)
    for attempt in range(READS_WHILE_TOTAL_MOVES):
        page = first if attempt == 0 else fetch(1)
        try:
            return _pages_after(page, fetch, paging)
        except _TotalMoved as exc:
            moved = exc
    msg = (
        f"{paging.where}: the window's total kept changing while its pages were read "
        f"({moved}, {READS_WHILE_TOTAL_MOVES} reads): lines moved in or out of the filters; "
        "run again later"
    )
    raise SourceError(msg)


def _pages_after(first: Page, fetch: Callable[[int], Page], paging: Paging) -> list[Item]:
    per_page = _checked_first(first, paging)
    items, previous = list(first.items), first.items
    number = 1
    while len(items) < first.total:
        number += 1
        page = fetch(number)
        if page.total != first.total:
            raise _TotalMoved(first.total, page.total)
        if page.items == previous:
            msg = (
                f"{paging.where}: page {number} repeats page {number - 1} ({len(items)} of "
                f"{first.total} lines read, {per_page} per page): the API ignores the page "
                f"parameter {paging.param!r}; set messangi_page_param to the one it takes"
            )
            raise SourceError(msg)
        items += page.items
        if len(page.items) < per_page and len(items) < first.total:
            msg = (
                f"{paging.where}: page {number} holds {len(page.items)} lines, not "
                f"{per_page}, with {len(items)} of {first.total} read: the API does not number "
                f"pages as assumed; check messangi_page_param and messangi_page_size"
            )
            raise SourceError(msg)
    if len(items) > first.total:
        msg = (
            f"{paging.where}: {number} pages held {len(items)} lines, more than the total "
            f"{first.total}: the API does not number pages as assumed; check "
            "messangi_page_param and messangi_page_size"
        )
        raise SourceError(msg)
    return items


def _checked_first(first: Page, paging: Paging) -> int:
    """Lines per page: those of the first one, once it is known they can be paged."""
    count = len(first.items)
    if paging.size is not None and count < paging.size:
        msg = (
            f"{paging.where}: {count} of {first.total} lines in the first response, fewer "
            f"than messangi_page_size ({paging.size}): the API caps pages lower; set "
            f"messangi_page_size to {count} or less, or unset it"
        )
        raise SourceError(msg)
    if count == 0:
        msg = f"{paging.where}: the response holds none of its {first.total} lines"
        raise SourceError(msg)
    if -(-first.total // count) > MAX_PAGES:  # integers: a total of 10**400 is no float
        msg = (
            f"{paging.where}: {first.total} lines in one second at {count} per response "
            f"would take more than {MAX_PAGES} requests: is pagination.total right?"
        )
        raise SourceError(msg)
    return count
