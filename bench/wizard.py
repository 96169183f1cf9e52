"""The import wizard driven over HTTP as an admin's browser drives it: log in, upload the
file (the wizard answers with its preview), confirm. Used by bench/end_to_end.py --via wizard
against the web server started as docs/operations.md says (gunicorn)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# docs/operations.md, "Processes": the web server's command line.
GUNICORN = ["-m", "gunicorn", "config.wsgi", "--worker-class", "gthread", "--workers", "2"]
GUNICORN += ["--threads", "8"]


def web_start(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, *GUNICORN, "--bind", f"127.0.0.1:{port}", "--timeout", "120"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped with its workers
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
            return process
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 60 s")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


class WizardImport:
    """One admin's session: ``preview`` uploads (the slow step a person waits through once),
    ``confirm`` starts the run and returns its id."""

    def __init__(self, base: str, *, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=300, follow_redirects=False)
        login = self.client.get("/admin/login/").text
        answer = self.client.post(
            "/admin/login/",
            data={"csrfmiddlewaretoken": _csrf(login), "username": username, "password": password},
            headers={"Referer": f"{base}/admin/login/"},
        )
        if answer.status_code != 302:
            raise RuntimeError(f"login refused ({answer.status_code})")
        self.base = base
        self.token = ""

    def preview(self, *, workflow_id: int, path: Path) -> float:
        started = time.monotonic()
        page = self.client.get("/admin/switchyard/import/").text
        with path.open("rb") as handle:
            answer = self.client.post(
                "/admin/switchyard/import/",
                data={"csrfmiddlewaretoken": _csrf(page), "workflow": str(workflow_id)},
                files={"file": (path.name, handle, "text/csv")},
                headers={"Referer": f"{self.base}/admin/switchyard/import/"},
            )
        found = re.search(r'name="token" value="([^"]+)"', answer.text)
        if answer.status_code != 200 or not found:
            raise RuntimeError(f"the wizard did not show its preview ({answer.status_code})")
        self.token, self._page = found.group(1), answer.text
        return time.monotonic() - started

    def confirm(self) -> int:
        answer = self.client.post(
            "/admin/switchyard/import/start/",
            data={"csrfmiddlewaretoken": _csrf(self._page), "token": self.token},
            headers={"Referer": f"{self.base}/admin/switchyard/import/"},
        )
        found = re.search(r"/runs/(\d+)/", answer.headers.get("location", ""))
        if answer.status_code != 302 or not found:
            raise RuntimeError(f"the wizard did not start the run ({answer.status_code})")
        return int(found.group(1))
