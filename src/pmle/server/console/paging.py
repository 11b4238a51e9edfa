"""Paging of the console's long tables: which slice a page shows and its neighbours' links."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from pmle.server.console.router import Ctx

PER_PAGE = 50


def bounds(total: int, page_no: int, per_page: int = PER_PAGE) -> dict[str, Any]:
    """The pager of a list: the page shown (clamped), the number of pages, the slice bounds."""
    count = max(1, math.ceil(total / per_page))
    current = max(1, min(page_no, count))
    start = (current - 1) * per_page
    return {
        "page": current,
        "pages": count,
        "start": start,
        "stop": min(total, start + per_page),
        "end": current * per_page,
        "total": total,
    }


def page_url(c: Ctx, number: int, *, always: bool = False) -> str:
    """This page's URL with its query, at page `number` (page 1 without `?page=` unless
    `always`)."""
    query = {k: v for k, v in c.query.items() if k not in {"page", "notice"}}
    if number > 1 or always:
        query["page"] = str(number)
    return c.path + (f"?{urlencode(query)}" if query else "")


def linked(c: Ctx, total: int, per_page: int = PER_PAGE) -> dict[str, Any]:
    """The page asked for (`?page=N`, clamped) with its slice bounds and neighbour links."""
    b = bounds(total, c.int_arg("page", 1, lo=1), per_page)
    n, pages = b["page"], b["pages"]
    return {
        **b,
        "prev": page_url(c, n - 1, always=True) if n > 1 else None,
        "next": page_url(c, n + 1, always=True) if n < pages else None,
    }


def open_ended(c: Ctx, number: int, has_next: bool) -> dict[str, Any]:
    """A pager when the total is not counted: the page number and the prev / next links."""
    return {
        "page": number,
        "prev": page_url(c, number - 1) if number > 1 else None,
        "next": page_url(c, number + 1) if has_next else None,
    }
