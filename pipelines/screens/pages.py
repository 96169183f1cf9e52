"""Rendering inside the admin's layout: every screen gets the admin's context (site header,
sidebar, user links) plus what the current user may do."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Page, Paginator
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


class _CountedPaginator(Paginator):
    """A paginator told its count (from a run's counters) instead of running COUNT(*)."""

    def __init__(self, items: QuerySet, size: int, *, count: int) -> None:
        super().__init__(items, size)
        self.__dict__["count"] = count  # fills the cached_property


def page_of(
    request: HttpRequest, items: QuerySet, *, size: int = PAGE_SIZE, count: int | None = None
) -> Page:
    paginator = (
        Paginator(items, size) if count is None else _CountedPaginator(items, size, count=count)
    )
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
