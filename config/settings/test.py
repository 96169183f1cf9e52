"""Test settings: the base settings, with speed-ups that change no behaviour under test."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests that need the real broker or a real worker run their own Celery app against REDIS_URL;
# everything else calls services directly, as Celery's testing guide recommends.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests reach stand-ins at made-up hosts (sandbox.test) through in-process transports and
# resolve nothing; the address rules have their own tests, which set this list themselves.
ALLOWED_PRIVATE_BASE_URLS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run inside one transaction per test: other threads could not see its rows, so the
# loader claims from this thread. Its threads are tested on PostgreSQL with committed data
# (tests/pipelines/test_concurrent_loader.py). Worker processes a test or a bench starts set
# PIPELINE_LOAD_THREADS themselves.
PIPELINE_LOAD_THREADS = int(os.environ.get("PIPELINE_LOAD_THREADS", "1"))
