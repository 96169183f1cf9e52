"""Settings shared by every environment.

Defaults are for a laptop: SQLite, an embedded Celery broker, DEBUG on. They are safe only
locally; `config.settings.production` refuses to start without real values.
Every variable is documented in .env.example.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool, env_int, env_list, env_secret

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("SWITCHYARD_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

# A fixed key is acceptable only for local work; production.py insists on a real one.
# The repository's public development keys: production refuses them (production.py) and
# `check --deploy` reports them (config/checks.py).
DEVELOPMENT_SECRET_KEY = "local-only-not-secret-switchyard-development-key-0000000000"  # noqa: S105 - public on purpose
DEVELOPMENT_FIELD_ENCRYPTION_KEY = "bG9jYWwtb25seS1zd2l0Y2h5YXJkLWRldi1rZXktMDA="
SECRET_KEY = env_secret("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "monitoring.admin_site.SwitchyardAdminConfig",  # the operations home is the admin index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    "audit",
    "integrations",
    "quality",
    "pipelines",
    "monitoring",
    "enrichment",  # company enrichment (docs/enrichment.md)
    "events",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After authentication, so a refused request is recorded with its user (audit log).
    "audit.middleware.PermissionDeniedAuditMiddleware",
    # Last, so it sees the authenticated user and can answer a locked-out login itself.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # AxesStandaloneBackend must come first: it refuses logins for locked-out users/IPs.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite locally; PostgreSQL (DATABASE_URL=postgres://...) in production and CI.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'switchyard.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections save a connect per request; health checks make them survive a
    # PostgreSQL restart (without CONN_HEALTH_CHECKS the first request afterwards is a 500).
    # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL and a busy timeout let the demo's web server, worker and beat share one SQLite file.
    # IMMEDIATE: a transaction takes the write lock when it begins, so two worker processes
    # (staging two chunks of one import) queue on the timeout; a DEFERRED one that read first
    # fails at once with "database is locked" when the other committed meanwhile.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# --- Redis: broker, cache, shared rate limits ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ----------------------------------------------------------------------------------
# Without REDIS_URL the demo uses kombu's filesystem transport: no server, works across the
# web, worker and beat processes. `memory://` would only work inside one process.
CELERY_EMBEDDED_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None) or None

# --- Field encryption --------------------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (MultiFernet). Rotate by putting
# a new key first and running `manage.py rotate_keys`. Local default is for development only.
_raw_keys = env_secret("FIELD_ENCRYPTION_KEYS") or DEVELOPMENT_FIELD_ENCRYPTION_KEY
FIELD_ENCRYPTION_KEYS = [key.strip() for key in _raw_keys.split(",") if key.strip()]
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty; give at least one Fernet key")

# --- Auth, sessions --------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# ASVS 3.3.2 (L2): expire after 30 minutes of inactivity; every request renews the window.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True

# django-axes: lock out after repeated failed logins (username + IP), unlock after a cool-off.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# --- Audit and privacy --------------------------------------------------------------------------
# Key of the HMAC that hashes email addresses in the audit log and the suppression list of erased
# people. Set it once and never change it: erased people are recognised by this hash, so a new
# key would let them be imported again. Unset, it is derived from SECRET_KEY (which then must
# not be rotated either); production should set its own.
AUDIT_HASH_KEY = env_secret("AUDIT_HASH_KEY") or ""
# Days each kind of data is kept before the daily "Retention purge" deletes it. Floors that no
# setting lowers: audit_events 365 (SOC 2 evidence), privacy_requests 730 (CCPA: 24 months).
SWITCHYARD_RETENTION_DAYS = {
    "webhook_payloads": 30,
    "run_records": 180,
    "resolved_dead_letters": 90,
    "audit_events": 400,
    "privacy_requests": 730,
}

# --- I18N ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploads ----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploads above this size go to a temporary file instead of memory (CSV imports stream anyway).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1024)

ADMIN_URL = env.str("ADMIN_URL", default="admin/")
if not ADMIN_URL.endswith("/"):
    raise ImproperlyConfigured(f"ADMIN_URL={ADMIN_URL!r} must end with '/'")

# --- Email -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="switchyard@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[Switchyard] "
# Who gets operational alerts (a connection needing reconnecting, a failed scoring API...):
# "Name <email>" or plain addresses, comma-separated.
ADMINS = [
    (address.split("<")[0].strip() or address, address.split("<")[-1].rstrip(">").strip())
    for address in env_list("ALERT_EMAILS", [])
]

# Keys of the audit log's hash chain (audit/chain.py), comma-separated: the first signs, all
# verify; rotate by putting a new key first and keeping the old ones. Kept outside the
# database so nobody who can write the table can recompute the chain. Unset: derived from
# SECRET_KEY.
AUDIT_CHAIN_KEYS = [
    k.strip() for k in (env_secret("AUDIT_CHAIN_KEYS") or "").split(",") if k.strip()
]

# Unauthenticated failures (bad webhook tokens, failed logins, anonymous 403s) are audited
# once per source and window of this many seconds, with a count (audit/aggregate.py).
AUDIT_AGGREGATE_SECONDS = env_int("AUDIT_AGGREGATE_SECONDS", 300, minimum=1)

# Error emails to ADMINS are opt-in and at most this many an hour (config/logging.py).
ERROR_EMAILS = env_bool("ERROR_EMAILS", False)
ERROR_EMAILS_PER_HOUR = env_int("ERROR_EMAILS_PER_HOUR", 10, minimum=1)

# --- Outbound HTTP -----------------------------------------------------------------------------
# A base URL must be https and reach only public addresses (integrations/addresses.py),
# unless its exact origin is listed here. Local development allows the demo's stand-ins only
# (the ports scripts/demo.sh starts, 8765-8771), never 169.254.169.254 or the rest of the
# network. Comma-separated origins; production forces the list empty.
SWITCHYARD_SANDBOX_URL = env.str("SWITCHYARD_SANDBOX_URL", default="http://127.0.0.1:8765")
ALLOWED_PRIVATE_BASE_URLS = env_list(
    "ALLOWED_PRIVATE_BASE_URLS",
    [SWITCHYARD_SANDBOX_URL, *(f"http://127.0.0.1:{port}" for port in range(8765, 8772))]
    if DEBUG
    else [],
)

# Warehouse tables a workflow may write (integrations/warehouse/tables.py): the warehouse
# credential usually reaches more than Switchyard's own tables. Empty prefix list: any name.
WAREHOUSE_ALLOWED_SCHEMAS = env_list("WAREHOUSE_ALLOWED_SCHEMAS", ["public"])
WAREHOUSE_TABLE_PREFIXES = env_list("WAREHOUSE_TABLE_PREFIXES", ["sy_"])

# --- Pipelines ---------------------------------------------------------------------------------
# A worker holding a batch renews its lease before every HubSpot call; a batch whose lease
# expired belonged to a dead worker and is re-queued by the sweeper (every 30 s). Lease + sweep
# bound the recovery of a SIGKILLed worker (docs/reference/reliability.md#celery-delivery, F2).
PIPELINE_BATCH_LEASE_SECONDS = env_int("PIPELINE_BATCH_LEASE_SECONDS", 60, minimum=1)
# Task-level attempts of one batch (on top of the client's in-process retries) before its
# records become dead letters with category "retries_exhausted".
PIPELINE_BATCH_MAX_ATTEMPTS = env_int("PIPELINE_BATCH_MAX_ATTEMPTS", 5, minimum=1)
# Work is claimed from the database; a Celery message only wakes a worker up (docs/operations.md,
# "Work is claimed from the database"). A run whose workers have not claimed anything for this
# long while work is due gets a new wake-up from the sweeper (every 10 s): a live loader claims
# a batch every fraction of a second, a stager a chunk every second or two.
PIPELINE_WORKER_HEARTBEAT_SECONDS = env_int("PIPELINE_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
# Batch calls one load task keeps in flight (threads sharing the portal's limiter). Loading waits
# on HubSpot, so threads, not processes, are the unit of concurrency (measured in
# docs/operations.md). One load task works a run for at most a slice, then wakes itself again
# at the back of the queue, so several runs (portals) on few worker processes take turns.
PIPELINE_LOAD_THREADS = env_int("PIPELINE_LOAD_THREADS", 8, minimum=1)
PIPELINE_LOAD_SLICE_SECONDS = env_int("PIPELINE_LOAD_SLICE_SECONDS", 30, minimum=1)
# Load tasks woken per run when its batches are cut: one per worker process by default (a
# process's threads share one core's worth of Python: about 40 ms of CPU per batch measured,
# so two processes keep 19 batches/s of a portal's limit fed with room to spare).
PIPELINE_LOAD_TASKS_PER_RUN = env_int("PIPELINE_LOAD_TASKS_PER_RUN", 2, minimum=1)
# Worker pool processes when `celery -A config worker` is started without --concurrency: two
# per core (at least four). Staging is CPU work and holds a process while it runs; loading
# waits on HubSpot in threads and needs little CPU; with one process per core, the stagers of
# a big file took every process and loading could not start until the whole file was staged
# (docs/operations.md, "Staging and loading overlap"). A pool process costs ~150 MB.
CELERY_WORKER_CONCURRENCY = env_int(
    "CELERY_WORKER_CONCURRENCY", max(4, 2 * (os.cpu_count() or 1)), minimum=1
)
# Staging tasks woken per CSV run; each claims chunks until none is left.
PIPELINE_STAGE_TASKS_PER_RUN = env_int("PIPELINE_STAGE_TASKS_PER_RUN", 2, minimum=1)
# A run with work pending and nothing finished for this long is marked stalled ("sync stopped").
PIPELINE_RUN_STALLED_SECONDS = env_int("PIPELINE_RUN_STALLED_SECONDS", 300, minimum=10)
# Largest webhook body accepted (bytes); larger → 413. Below DATA_UPLOAD_MAX_MEMORY_SIZE.
PIPELINE_WEBHOOK_MAX_BYTES = env_int("PIPELINE_WEBHOOK_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
# Where links in notifications (Slack "see the run") point.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The WSGI app `demo_seed` runs its sample imports through, in-process: a dotted path, so the
# product never imports the sandbox by name (tests/test_layering.py).
SWITCHYARD_DEMO_HUBSPOT_APP = env.str(
    "SWITCHYARD_DEMO_HUBSPOT_APP", default="sandbox.hubspot.HubSpotSandbox"
)
# --- Company enrichment (docs/enrichment.md): the stand-ins the demo's connections point at.
SWITCHYARD_SANDBOX_APOLLO_URL = env.str(
    "SWITCHYARD_SANDBOX_APOLLO_URL", default="http://127.0.0.1:8767/api/v1"
)
SWITCHYARD_SANDBOX_BUILTWITH_URL = env.str(
    "SWITCHYARD_SANDBOX_BUILTWITH_URL", default="http://127.0.0.1:8768"
)
SWITCHYARD_SANDBOX_CLEARBIT_URL = env.str(
    "SWITCHYARD_SANDBOX_CLEARBIT_URL", default="http://127.0.0.1:8769"
)
# Longest in-process wait on a provider's Retry-After during enrichment; longer waits make
# the source fail for that company (a dead letter to reprocess) rather than hold a worker.
ENRICHMENT_MAX_RETRY_WAIT = env.float("ENRICHMENT_MAX_RETRY_WAIT", default=5.0)
# Clearbit's 202 "queued": how often a run asks again, and how long it waits between asks.
ENRICHMENT_PENDING_ATTEMPTS = env_int("ENRICHMENT_PENDING_ATTEMPTS", 3, minimum=1)
ENRICHMENT_PENDING_WAIT_SECONDS = env.float("ENRICHMENT_PENDING_WAIT_SECONDS", default=2.0)
# The Slack stand-in's root (sandbox/slack); the demo's Slack connection uses <root>/api.
SWITCHYARD_SANDBOX_SLACK_URL = env.str(
    "SWITCHYARD_SANDBOX_SLACK_URL", default="http://127.0.0.1:8766"
).rstrip("/")

# --- Monitoring ------------------------------------------------------------------------------
# Bearer token(s) a Prometheus scraper sends to /metrics (comma-separated: two while rotating).
# Empty: /metrics answers 404. Read from METRICS_TOKEN or the file named by METRICS_TOKEN_FILE.
METRICS_TOKENS = [t.strip() for t in (env_secret("METRICS_TOKEN") or "").split(",") if t.strip()]
# A connection an authentication alert watches that answered no call for this long gets one
# "test connection" per evaluation (every minute), so a revoked token is seen while idle. 0: off.
ALERT_AUTH_PROBE_SECONDS = env_int("ALERT_AUTH_PROBE_SECONDS", 60, minimum=0)
# --- Event hub (docs/events.md) ---------------------------------------------------------------
# Delay before each attempt of a delivery, seconds (Svix's schedule, about 27.6 h in all); each
# is jittered ±20 % and a Retry-After longer than it wins. A subscriber may set its own.
EVENTS_RETRY_SCHEDULE = [
    int(s)
    for s in env_list(
        "EVENTS_RETRY_SCHEDULE", ["0", "5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
# A delivery not delivered this long after its event becomes a dead letter.
EVENTS_DELIVERY_DEADLINE_SECONDS = env_int("EVENTS_DELIVERY_DEADLINE_SECONDS", 28 * 3600, minimum=1)
# Consecutive failed attempts that pause a subscriber (circuit breaker), and for how long
# before a single probe is let through.
EVENTS_BREAKER_FAILURES = env_int("EVENTS_BREAKER_FAILURES", 5, minimum=1)
EVENTS_BREAKER_COOLDOWN_SECONDS = env_int("EVENTS_BREAKER_COOLDOWN_SECONDS", 30, minimum=1)
# A claimed delivery whose worker died is put back after this lease.
EVENTS_LEASE_SECONDS = env_int("EVENTS_LEASE_SECONDS", 60, minimum=5)
# The Clay and generic HTTP stand-ins the demo points its connections at.
SWITCHYARD_SANDBOX_CLAY_URL = env.str(
    "SWITCHYARD_SANDBOX_CLAY_URL", default="http://127.0.0.1:8770"
)
SWITCHYARD_SANDBOX_HTTP_URL = env.str(
    "SWITCHYARD_SANDBOX_HTTP_URL", default="http://127.0.0.1:8771"
)

# --- Logging ---------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be 'text' or 'json'")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "config.logging.RedactingFilter"},
        "request_id": {"()": "config.logging.RequestIdFilter"},
        "forbidden_one_line": {"()": "config.logging.ForbiddenOneLineFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact", "forbidden_one_line"],
        },
        # Opt-in, rate-limited, redacted (config/logging.py: ErrorMailHandler).
        "error_mail": {
            "class": "config.logging.ErrorMailHandler",
            "level": "ERROR",
            "formatter": "text",
            "filters": ["request_id", "redact"],
        },
    },
    "root": {"handlers": ["console", "error_mail"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults (an unfiltered console, AdminEmailHandler) would otherwise stay
        # attached to these loggers and print or mail unredacted tracebacks: replace them with
        # nothing and let the records reach the root's redacting handlers.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # redis-py gives this logger its own unfiltered stdout handler unless the name already
        # exists (redis/utils.py, _set_info_logger): declaring it here keeps its records on the
        # root's redacting handlers.
        "push_response": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
