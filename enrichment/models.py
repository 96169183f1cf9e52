"""What an enrichment workflow remembers: its settings and sources, versioned field and score
rules, each run's figures, the provider answer cache, and what it last wrote per company."""

from __future__ import annotations

from django.db import models


class SelectMode(models.TextChoices):
    CREATED = "created", "Companies created since the last run"
    CREATED_OR_MODIFIED = "created_or_modified", "Companies created or modified since the last run"
    ON_DEMAND = "on_demand", "Only the companies or domains I give"


class SourceName(models.TextChoices):
    APOLLO = "apollo", "Apollo organization enrichment"
    BUILTWITH = "builtwith", "BuiltWith technologies"
    CLEARBIT = "clearbit", "Clearbit company (legacy keys)"


class EnrichmentSettings(models.Model):
    """The enrichment-specific part of a ``company_enrichment`` workflow."""

    workflow = models.OneToOneField(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="enrichment"
    )
    select_mode = models.CharField(
        max_length=30, choices=SelectMode.choices, default=SelectMode.CREATED
    )
    cache_ttl_hours = models.PositiveIntegerField(
        default=24, help_text="How long a provider's answer is reused (24-48 h recommended)."
    )
    cron = models.CharField(max_length=100, default="0 6 * * *")
    timezone = models.CharField(max_length=64, default="UTC")
    notify_min_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Announce companies scoring at least this in Slack."
    )
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="createdate of the newest company of the last good run."
    )
    # Decision-makers at target accounts (Apollo people search → HubSpot contacts).
    people_enabled = models.BooleanField(default=False)
    people_min_score = models.PositiveSmallIntegerField(default=75)
    people_titles = models.JSONField(default=list, blank=True)
    people_seniorities = models.JSONField(default=list, blank=True)
    people_per_company = models.PositiveSmallIntegerField(default=3)
    people_reveal_emails = models.BooleanField(default=False)
    people_monthly_credits = models.PositiveIntegerField(default=0)
    people_contact_workflow = models.ForeignKey(
        "pipelines.Workflow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The contact workflow people go through (validation, dedupe, dead letters).",
    )

    class Meta:
        verbose_name_plural = "enrichment settings"

    def __str__(self) -> str:
        return f"enrichment of {self.workflow_id}"


class EnrichmentSource(models.Model):
    """One provider feeding a workflow, through one connection, within its own budgets."""

    workflow = models.ForeignKey(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="enrichment_sources"
    )
    name = models.CharField(max_length=20, choices=SourceName.choices)
    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.PROTECT, related_name="+"
    )
    daily_call_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most calls per day (empty: the provider's limits only)."
    )
    monthly_credit_budget = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["workflow", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="enrichment_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} via {self.connection_id}"


class EnrichmentRules(models.Model):
    """An immutable version of a workflow's field precedence and score rules. Editing makes
    a new version, so every run says which rules produced its values and scores.

    ``fields``: ``[{"to", "from": ["apollo.industry", ...], "transforms": [...], "overwrite"}]``;
    ``score``: ``{"property", "version", "rules": [{"field", "op", "value", "points"}]}``."""

    workflow = models.ForeignKey(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="enrichment_rules"
    )
    version = models.PositiveIntegerField()
    fields = models.JSONField(default=list)
    score = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True)
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-version"]
        verbose_name_plural = "enrichment rules"
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "version"], name="enrichment_rules_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} rules v{self.version}"


class EnrichmentRun(models.Model):
    """A run's enrichment figures, next to the generic Run counters."""

    run = models.OneToOneField("pipelines.Run", on_delete=models.CASCADE, related_name="enrichment")
    rules = models.ForeignKey(EnrichmentRules, on_delete=models.PROTECT, related_name="runs")
    request = models.JSONField(
        default=dict, help_text="since, company_ids, domains, dry_run, refresh, sources."
    )
    cursor_from = models.DateTimeField(null=True, blank=True)
    cursor_to = models.DateTimeField(null=True, blank=True)
    expected_total = models.PositiveIntegerField(null=True, blank=True)
    received_total = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    provider_calls = models.PositiveIntegerField(default=0)
    credits_spent = models.PositiveIntegerField(default=0)
    hubspot_writes = models.PositiveIntegerField(default=0)
    companies_created = models.PositiveIntegerField(default=0)
    announced = models.PositiveIntegerField(default=0)
    people_created = models.PositiveIntegerField(default=0)
    sources = models.JSONField(default=dict, help_text="Per source: calls, hits, failures.")
    notes = models.JSONField(default=list, help_text="What the admin should know about the run.")

    def __str__(self) -> str:
        return f"enrichment of run {self.run_id}"


class ProviderAnswer(models.Model):
    """A provider's answer for one normalized domain, reused until ``expires_at``. "Nothing
    known" is cached too (``found`` false): asking again would pay again."""

    provider = models.CharField(max_length=20, choices=SourceName.choices)
    domain = models.CharField(max_length=255)
    found = models.BooleanField(default=True)
    payload = models.JSONField(default=dict)
    fetched_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "domain"], name="enrichment_answer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.domain}"


class EnrichedCompany(models.Model):
    """What this workflow last wrote to one HubSpot company: lets a run write only what
    changed, and tell its own earlier value from a rep's edit."""

    workflow = models.ForeignKey("pipelines.Workflow", on_delete=models.CASCADE, related_name="+")
    company_id = models.CharField(max_length=40)
    domain = models.CharField(max_length=255, blank=True)
    written = models.JSONField(default=dict)
    score = models.SmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "enriched companies"
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "company_id"], name="enrichment_company_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}:{self.company_id}"


class SourceUsage(models.Model):
    """Calls and credits spent per connection per day, for budgets shared by every run."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)
    credits = models.PositiveIntegerField(default=0)
    people_credits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "day"], name="enrichment_usage_unique")
        ]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.day}"
