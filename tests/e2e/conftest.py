"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

`playwright install` downloads a browser and cannot work offline, so we point Playwright at the
system chromium and skip, with the reason, where it is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Sync Playwright runs an event loop in the test thread; Django would refuse ORM calls from it.
# https://github.com/microsoft/playwright-pytest/issues/29
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM:
        pytest.skip(
            "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def login_as(live_server, context):
    """Log a user in by session cookie instead of typing the password every time."""
    from django.test import Client

    def _login(user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"]
        context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
        return user

    return _login


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def screenshot(page, tmp_path):
    """Save what the admin sees, a part of the page (a locator) or the viewport, at a small
    size. Into the test's temporary folder by default, so `make test` leaves the tree as it
    was; `E2E_DOCS_SCREENSHOTS=1 make test` refreshes docs/screenshots/<name>.png instead."""
    page.set_viewport_size({"width": 1100, "height": 760})
    folder = DOCS_SCREENSHOTS if os.environ.get("E2E_DOCS_SCREENSHOTS") else tmp_path

    def _shot(name: str, locator=None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        (locator or page).screenshot(path=str(path))
        return path

    return _shot
