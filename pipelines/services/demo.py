"""Demo data for `manage.py demo_seed`: connections pointed at the sandbox, the
clay-to-hubspot workflow, and a few finished runs with dead letters to review.

Idempotent: connections and the workflow are created if missing (never overwritten, so an
admin's edits survive a re-seed), runs only when the workflow has none. The runs are loaded
through an in-process sandbox (httpx.WSGITransport), so seeding needs no server running.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.utils.module_loading import import_string

from integrations.models import AuthType, Connection, Environment, Provider
from pipelines.models import DeadLetter, Run, Workflow
from pipelines.samples import CLAY_CONTACTS_MAPPING
from pipelines.services.dead_letters import dead_letter_ignore
from pipelines.services.mappings import field_mapping_version_create
from pipelines.services.runs import run_execute_inline
from pipelines.services.staging import run_create_csv

SAMPLE_CSV = Path(settings.BASE_DIR) / "docs" / "samples" / "clay-contacts.csv"
# Demo-only values, printed in docs/pipelines.md on purpose: they reach the local sandbox only.
DEMO_HUBSPOT_TOKEN = "pat-demo-00000000-0000-0000-0000-sandbox00000"  # noqa: S105
DEMO_CLAY_SECRET = "clay-demo-secret-paste-into-clay-headers"  # noqa: S105
DEMO_SLACK_TOKEN = "xoxb-demo-sandbox-bot-token"  # noqa: S105 - the Slack stand-in accepts any
DEMO_SLACK_CONNECTION = "slack-sandbox"
DEMO_RUNS_CHANNEL = "#revops-runs"

RULES = CLAY_CONTACTS_MAPPING


def _connection(name: str, **fields: Any) -> tuple[Connection, bool]:
    from integrations.services import connection_save

    existing = Connection.objects.filter(name=name).first()
    if existing is not None:
        return existing, False
    token = fields.pop("token")
    connection = connection_save(
        connection=Connection(name=name, **fields),
        secrets={"token": token},
        actor_label="command:demo_seed",
    )
    return connection, True


def demo_slack_connection() -> tuple[Connection, bool]:
    """The bot connection to the Slack stand-in (sandbox/slack): run summaries and routing
    notifications post there, readable at its root page."""
    return _connection(
        DEMO_SLACK_CONNECTION,
        provider=Provider.SLACK,
        auth_type=AuthType.BEARER,
        environment=Environment.DEVELOPMENT,
        base_url=f"{settings.SWITCHYARD_SANDBOX_SLACK_URL}/api",
        token=DEMO_SLACK_TOKEN,
    )


def demo_pipelines_seed(*, actor: Any = None) -> list[str]:
    """Returns what was created (empty on a second run)."""
    created: list[str] = []
    slack, new = demo_slack_connection()
    created += [f"connection {DEMO_SLACK_CONNECTION}"] if new else []
    hubspot, new = _connection(
        "hubspot-main",
        provider=Provider.HUBSPOT,
        auth_type=AuthType.PRIVATE_APP,
        environment=Environment.DEVELOPMENT,
        base_url=settings.SWITCHYARD_SANDBOX_URL,
        token=DEMO_HUBSPOT_TOKEN,
    )
    created += ["connection hubspot-main"] if new else []
    clay, new = _connection(
        "clay-inbound",
        provider=Provider.CLAY,
        auth_type=AuthType.HEADER_TOKEN,
        environment=Environment.DEVELOPMENT,
        token=DEMO_CLAY_SECRET,
        options={"header": "X-Switchyard-Token"},
    )
    created += ["connection clay-inbound"] if new else []
    workflow, new = Workflow.objects.get_or_create(
        slug="clay-to-hubspot",
        defaults={
            "name": "Clay → HubSpot contacts",
            "source_connection": clay,
            "destination_connection": hubspot,
        },
    )
    if new:
        field_mapping_version_create(
            workflow=workflow, rules=RULES, actor=actor, actor_label="command:demo_seed"
        )
        created.append("workflow clay-to-hubspot")
    if not Run.objects.filter(workflow=workflow).exists():
        created += _demo_runs(workflow, actor)
    elif forgotten := demo_sync_state_align(workflow=workflow):
        created.append(
            f"fresh sync state (the HubSpot sandbox restarted empty: the next imports create "
            f"its {forgotten} contacts again)"
        )
    if new:
        # Linked after the seeded runs, so only runs made during the demo post their summary.
        Workflow.objects.filter(pk=workflow.pk).update(
            slack_connection=slack, slack_channel=DEMO_RUNS_CHANNEL
        )
    return created


# --- demo runs and the sandbox they ran against --------------------------------------------
# The demo's history is loaded through the real pipeline into the HubSpot sandbox the demo
# connections point at (the live process `make demo` starts), so Switchyard's sync state and
# the sandbox agree. The history uses other people than the sample file ("+earlier" addresses),
# so importing docs/samples/clay-contacts.csv afterwards visibly creates contacts.
HISTORY_ROWS = 20


class _LiveSandbox:
    """The sandbox process at SWITCHYARD_SANDBOX_URL, driven over HTTP (its /__sandbox__/
    control API), exactly as the demo connection reaches it."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=5)

    def configure(self, **changes: Any) -> None:
        body = {k: sorted(v) if isinstance(v, set) else v for k, v in changes.items()}
        self.http.post("/__sandbox__/config", json=body).raise_for_status()

    def contacts(self) -> int:
        state = self.http.get("/__sandbox__/state").raise_for_status().json()
        return int((state.get("objects") or {}).get("contacts", 0))

    def close(self) -> None:
        self.http.close()


def _live_sandbox() -> _LiveSandbox | None:
    """The sandbox process, if one answers; None (seed in-process) otherwise."""
    sandbox = _LiveSandbox(settings.SWITCHYARD_SANDBOX_URL)
    try:
        sandbox.contacts()
    except (httpx.HTTPError, ValueError):
        sandbox.close()
        return None
    return sandbox


def demo_sync_state_align(*, workflow: Workflow) -> int:
    """The sandbox keeps contacts in memory, so after a restart it is empty while the demo's
    sync state still says which contacts it holds; imports would then skip them as
    "unchanged" and create nothing. Forget that sync state when the live sandbox holds no
    contacts, so both are reset together. Returns how many entries were forgotten."""
    from pipelines.models import SyncedContact

    sandbox = _live_sandbox()
    if sandbox is None:
        return 0
    try:
        if sandbox.contacts():
            return 0
    finally:
        sandbox.close()
    forgotten, _ = SyncedContact.objects.filter(workflow=workflow).delete()
    return forgotten


def _history_files() -> list[tuple[str, bytes]]:
    """An earlier export (other people than the sample's), the same again (all "unchanged"),
    and a later one with some rows broken at the source and the rest changed."""
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [r.replace("@", "+earlier@", 1) for r in lines[1 : HISTORY_ROWS + 1]]
    earlier = "\n".join([header, *rows]).encode()
    broken = [
        r.replace("+earlier@", "+earlier(at)", 1)
        if i % 9 == 0
        else r.replace("VP Marketing", "SVP Marketing")
        for i, r in enumerate(rows)
    ]
    return [
        ("clay-february.csv", earlier),
        ("clay-february-again.csv", earlier),
        ("clay-march.csv", "\n".join([header, *broken]).encode()),
    ]


def _demo_runs(workflow: Workflow, actor: Any) -> list[str]:
    """Three imports so every review screen has data: the third runs while the HubSpot app
    lacks its write scope, so it leaves validation and "missing_scope" dead letters to
    reprocess (one of them ignored)."""
    from integrations import registry

    live = _live_sandbox()
    sandbox: Any = live or import_string(settings.SWITCHYARD_DEMO_HUBSPOT_APP)(seed=7)
    previous = registry.TRANSPORT_OVERRIDE
    if live is None:  # no sandbox process (a shell, a test): seed through one in-process
        registry.TRANSPORT_OVERRIDE = httpx.WSGITransport(app=sandbox)
    try:
        for number, (name, data) in enumerate(_history_files(), start=1):
            if number == 3:
                sandbox.configure(missing_scopes={"crm.objects.contacts.write"})
            run = run_create_csv(
                workflow=workflow,
                file=io.BytesIO(data),
                filename=name,
                actor=actor,
                actor_label="command:demo_seed",
                dispatch=False,
            )
            run = run_execute_inline(run_id=run.pk)
        letter = DeadLetter.objects.filter(run=run).order_by("id").first()
        if letter is not None:
            dead_letter_ignore(
                dead_letter_ids=[letter.pk], reason="demo: test contact", actor=actor
            )
    finally:
        sandbox.configure(missing_scopes=set())
        registry.TRANSPORT_OVERRIDE = previous
        if live is not None:
            live.close()
    return [f"{Run.objects.filter(workflow=workflow).count()} demo runs"]
