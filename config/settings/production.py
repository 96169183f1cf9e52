"""Production: everything that `manage.py check --deploy` asks for, and no local fallbacks.

Missing or malformed values stop the process at import time with a message naming the
variable, rather than serving with an unsafe default.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_secret
from config.settings.base import *  # noqa: F403
from config.settings.base import (
    ALLOWED_HOSTS,
    DATABASES,
    DEVELOPMENT_FIELD_ENCRYPTION_KEY,
    DEVELOPMENT_SECRET_KEY,
    FIELD_ENCRYPTION_KEYS,
    MIDDLEWARE,
    REDIS_URL,
)

DEBUG = False
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) must be set to at least 50 random characters"
    )
if not env_secret("FIELD_ENCRYPTION_KEYS"):
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS (or FIELD_ENCRYPTION_KEYS_FILE) must be set in production"
    )
if SECRET_KEY == DEVELOPMENT_SECRET_KEY or SECRET_KEY.startswith("local-only-"):
    raise ImproperlyConfigured(
        "SECRET_KEY is the repository's public development key: generate your own "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )
if DEVELOPMENT_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS holds the repository's public development key: generate your own "
        "(docs/connections.md, key rotation) and re-encrypt with `manage.py rotate_keys`"
    )
if not ALLOWED_HOSTS or ALLOWED_HOSTS == ["localhost", "127.0.0.1", "[::1]", "testserver"]:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the hosts Switchyard is served on")
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production")
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL must be set in production (broker, cache, shared rate limits)"
    )

# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=1)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Local fakes are never reachable from production connections.
ALLOWED_PRIVATE_BASE_URLS: list[str] = []

# WhiteNoise serves the collected static files straight after SecurityMiddleware.
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOG_FORMAT = "json"
LOGGING["handlers"]["console"]["formatter"] = "json"  # noqa: F405
