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


def demo_pipelines_seed(*, actor: Any = None) -> list[str]:
    """Returns what was created (empty on a second run)."""
    created: list[str] = []
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
    return created


def _demo_runs(workflow: Workflow, actor: Any) -> list[str]:
    """Two imports of the sample file (the second is all "unchanged"), and a third whose
    records all became dead letters, one of them ignored, so every review screen has data."""
    from integrations import registry

    sandbox = import_string(settings.SWITCHYARD_DEMO_HUBSPOT_APP)(seed=7)
    previous = registry.TRANSPORT_OVERRIDE
    registry.TRANSPORT_OVERRIDE = httpx.WSGITransport(app=sandbox)
    try:
        data = SAMPLE_CSV.read_bytes()
        for name in ("clay-contacts.csv", "clay-contacts-again.csv"):
            run = run_create_csv(
                workflow=workflow,
                file=io.BytesIO(data),
                filename=name,
                actor=actor,
                actor_label="command:demo_seed",
                dispatch=False,
            )
            run_execute_inline(run_id=run.pk)
        # A third file: some rows broken at the source, the rest changed, and the HubSpot app
        # missing its write scope: validation and "missing_scope" dead letters to reprocess.
        sandbox.configure(missing_scopes={"crm.objects.contacts.write"})
        lines = data.decode().splitlines()
        header, rows = lines[0], lines[1:]
        broken = [header] + [
            r.replace("@", "(at)", 1) if i % 9 == 0 else r.replace("VP Marketing", "SVP Marketing")
            for i, r in enumerate(rows[:20])
        ]
        run = run_create_csv(
            workflow=workflow,
            file=io.BytesIO("\n".join(broken).encode()),
            filename="clay-march.csv",
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
        registry.TRANSPORT_OVERRIDE = previous
    return [f"{Run.objects.filter(workflow=workflow).count()} demo runs"]
