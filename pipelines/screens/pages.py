"""Rendering inside the admin's layout: every screen gets the admin's context (site header,
sidebar, user links) plus what the current user may do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from pipelines.screens.access import screen_permissions

PAGE_SIZE = 50


def render_screen(
    request: HttpRequest, template: str, *, title: str, status: int = 200, **context: Any
) -> HttpResponse:
    return TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            **screen_permissions(user=request.user),
            "title": title,
            **context,
        },
        status=status,
    )


@dataclass(frozen=True)
class KeysetPage:
    """One page of a list walked by a unique key instead of OFFSET: the database seeks the key
    in its index and reads `size + 1` rows, however deep the page (OFFSET 50000 reads and
    throws away 50,000 rows). `older`/`newer` are the keys for the ?before= / ?after= links;
    `count` is the total only when it is known without a COUNT(*) (a run's counters)."""

    items: list[Any]
    older: Any = None
    newer: Any = None
    count: int | None = None
    newest_first: bool = True  # the links say newer/older, else previous/next

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _key(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def keyset_page(
    request: HttpRequest,
    items: QuerySet,
    *,
    key: str = "id",
    newest_first: bool = True,
    size: int = PAGE_SIZE,
    count: int | None = None,
) -> KeysetPage:
    """The page of `items` the request's ?before= / ?after= names, ordered by the unique
    `key` (newest first for ids; ascending for a run's record positions). "Older" always
    means further down the list, "newer" back up it."""
    down, up = ("-" + key, key) if newest_first else (key, "-" + key)
    past, before = (f"{key}__lt", f"{key}__gt") if newest_first else (f"{key}__gt", f"{key}__lt")
    after_key, before_key = _key(request, "after"), _key(request, "before")
    if after_key is not None:
        # Walk back up from `after`, then show the rows in the list's own order.
        rows = list(items.filter(**{before: after_key}).order_by(up)[: size + 1])
        shown = list(reversed(rows[:size]))
        newer = getattr(shown[0], key) if shown and len(rows) > size else None
        older = getattr(shown[-1], key) if shown else None
        return KeysetPage(shown, older=older, newer=newer, count=count, newest_first=newest_first)
    if before_key is not None:
        items = items.filter(**{past: before_key})
    rows = list(items.order_by(down)[: size + 1])
    shown = rows[:size]
    older = getattr(shown[-1], key) if len(rows) > size else None
    newer = getattr(shown[0], key) if shown and before_key is not None else None
    return KeysetPage(shown, older=older, newer=newer, count=count, newest_first=newest_first)


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for the paging links."""
    query = request.GET.copy()
    for name in ("page", "before", "after"):
        query.pop(name, None)
    return query.urlencode()
