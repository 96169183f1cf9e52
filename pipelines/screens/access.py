"""Who may do what on the screens, in one place so the views, the admin index panel and the
permission-matrix tests agree.

Every view is wrapped in ``admin.site.admin_view`` (staff login, CSRF, never cached) and then
checks its own permission: being staff is not enough, and a missing permission is a 403,
never a hidden button alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

# Its own permission (Run.Meta), granted to RevOps admins and engineers by roles.py's
# "pipelines.import_*": uploading personal data is a separate decision from editing runs.
IMPORT_CSV = "pipelines.import_csv"
VIEW_RUNS = "pipelines.view_run"
VIEW_DEAD_LETTERS = "pipelines.view_deadletter"
EDIT_DEAD_LETTERS = "pipelines.change_deadletter"
REPROCESS_DEAD_LETTERS = "pipelines.reprocess_deadletter"
# Dead-letter payloads and input files hold names, emails and phone numbers.
EXPORT_PERSONAL_DATA = "audit.export_personal_data"
VIEW_MAPPINGS = "pipelines.view_fieldmappingversion"
EDIT_MAPPINGS = "pipelines.add_fieldmappingversion"


def screen(
    *, get: str, post: str | None = None
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a view: admin login first, then ``get`` for reading and ``post`` (default: the
    same) for any other method. POST without its permission is a 403 even if the form was
    never shown, because hiding a button protects nothing."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            needed = get if request.method in ("GET", "HEAD") else (post or get)
            if not request.user.has_perm(needed):
                raise PermissionDenied(f"{needed} required")
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def screen_permissions(*, user: Any) -> dict[str, bool]:
    """What the templates need to decide which buttons to show."""
    return {
        "can_import": user.has_perm(IMPORT_CSV),
        "can_view_runs": user.has_perm(VIEW_RUNS),
        "can_view_dead_letters": user.has_perm(VIEW_DEAD_LETTERS),
        "can_edit_dead_letters": user.has_perm(EDIT_DEAD_LETTERS)
        and user.has_perm(REPROCESS_DEAD_LETTERS),
        "can_export_personal_data": user.has_perm(EXPORT_PERSONAL_DATA),
        "can_view_mappings": user.has_perm(VIEW_MAPPINGS),
        "can_edit_mappings": user.has_perm(EDIT_MAPPINGS),
    }
