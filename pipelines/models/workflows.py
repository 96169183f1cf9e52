"""What moves where: a workflow (source → destination) and its versioned field mapping."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from integrations.warehouse.tables import warehouse_table_validate


class WorkflowType(models.TextChoices):
    CLAY_HUBSPOT_CONTACTS = "clay_hubspot_contacts", "Clay → HubSpot contacts"
    MQL_ROUTING = "mql_routing", "HubSpot MQL routing"
    COMPANY_ENRICHMENT = "company_enrichment", "HubSpot company enrichment"


class Workflow(models.Model):
    """One sync. Connections are PROTECTed: deleting a connection a workflow uses must fail
    loudly rather than silently orphan the workflow."""

    slug = models.SlugField(
        max_length=80, unique=True, help_text="Used in the Clay webhook URL and config files."
    )
    name = models.CharField(max_length=200, blank=True)
    type = models.CharField(
        max_length=40, choices=WorkflowType.choices, default=WorkflowType.CLAY_HUBSPOT_CONTACTS
    )
    source_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "clay"},  # a wrong kind is refused where it is chosen
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where records come from (a Clay inbound connection).",
    )
    destination_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "hubspot"},  # a wrong kind is refused where it is chosen
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The HubSpot portal records are written to.",
    )
    destination_object = models.CharField(max_length=40, default="contacts")
    match_on = models.CharField(
        max_length=80, default="email", help_text="The property records are matched (upserted) on."
    )
    warehouse_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "warehouse"},  # a wrong kind is refused where it is chosen
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    warehouse_table = models.CharField(
        max_length=200,
        blank=True,
        validators=[warehouse_table_validate],
        help_text="A table in an allowed schema whose name starts with an allowed prefix (sy_…).",
    )
    slack_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "slack"},  # a wrong kind is refused where it is chosen
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    slack_channel = models.CharField(max_length=80, blank=True)
    mx_check = models.BooleanField(
        default=False,
        help_text="Also check that each email's domain accepts mail (DNS lookup, cached). Slower; off by default.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class FieldMappingVersion(models.Model):
    """An immutable version of a workflow's mapping. Editing creates a new version, so every
    run can say exactly which rules produced its records (Run.mapping_version).

    ``rules`` is a list of ``{"from": column, "to": property, "transforms": [...], "required": bool}``.
    """

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="mapping_versions"
    )
    version = models.PositiveIntegerField()
    rules = models.JSONField(default=list)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "version"], name="pipelines_mapping_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.version}"
