"""A view that fails the way a malformed warehouse DSN once did, for the error-report tests."""

import psycopg
from django.urls import path


def boom(request):
    dsn = "postgres://warehouse:hunter2-dsn-secret@db.internal:notaport/analytics"
    raise psycopg.ProgrammingError(f"invalid connection option in {dsn}")


urlpatterns = [path("boom/", boom)]
