"""`manage.py check --deploy`: the repository's public development keys are never deployed.

production.py already refuses to start with them; this check also catches settings modules
that do not inherit from it (a hand-written one, a staging copy of base.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def development_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        errors.append(
            Error(
                "SECRET_KEY is the repository's public development key.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to at least 50 random characters.",
                id="switchyard.E001",
            )
        )
    if settings.DEVELOPMENT_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "FIELD_ENCRYPTION_KEYS holds the repository's public development key.",
                hint="Generate a Fernet key, put it first, then run manage.py rotate_keys.",
                id="switchyard.E002",
            )
        )
    return errors
