"""MQL routing: territories, their owners and rules, scoring rules, and every decision made.

Models hold single-row invariants only; the engine is in pipelines/routing/ (rules.py is
pure, services.py acts). Owner ids are HubSpot owner ids (docs/reference/hubspot.md#owners: the value of
``hubspot_owner_id`` is the owner's ``id``, not its ``userId``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from integrations.base_url import relative_path_validate
from pipelines.models.runs import NotificationStatus


class RoutingStrategy(models.TextChoices):
    FIXED = "fixed", "Fixed owner"
    ROUND_ROBIN = "round_robin", "Round robin"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin", "Weighted round robin"


class Owner(models.Model):
    """A HubSpot owner of one portal, synced from GET /crm/v3/owners (docs/reference/hubspot.md#owners) through that
    portal's connection. A row named in config before the first sync is a placeholder (no
    connection, ``synced_at`` empty) that the first sync listing it adopts; the sync marks the
    owners *its* portal archived or no longer lists as ``archived``, and routing skips them.
    Owners of another portal are never touched by a sync and never picked by routing."""

    hubspot_connection = models.ForeignKey(
        "integrations.Connection",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="owners",
        help_text="The HubSpot portal (its connection) this owner belongs to.",
    )
    hubspot_id = models.CharField(max_length=40)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    archived = models.BooleanField(
        default=False, help_text="Archived in HubSpot, or gone from its owners list."
    )
    active = models.BooleanField(
        default=True,
        help_text="Takes new leads. Untick for holidays; routing skips inactive owners.",
    )
    slack_user_id = models.CharField(
        max_length=40, blank=True, help_text="Slack member id (U…) for direct messages."
    )
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["first_name", "last_name", "hubspot_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["hubspot_connection", "hubspot_id"], name="owner_unique_per_portal"
            ),
            models.UniqueConstraint(
                fields=["hubspot_id"],
                condition=models.Q(hubspot_connection__isnull=True),
                name="owner_placeholder_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or f"owner {self.hubspot_id}"


class Territory(models.Model):
    name = models.CharField(max_length=100, unique=True)
    strategy = models.CharField(
        max_length=30, choices=RoutingStrategy.choices, default=RoutingStrategy.ROUND_ROBIN
    )
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return self.name


class TerritoryOwner(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="memberships")
    owner = models.ForeignKey(Owner, on_delete=models.PROTECT, related_name="memberships")
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order of the round; the first is the fixed owner."
    )
    weight = models.PositiveSmallIntegerField(
        default=1, help_text="Weighted round robin: share of leads."
    )
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many leads a day; empty = no cap."
    )

    class Meta:
        ordering = ["territory", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "owner"], name="pipelines_territory_owner_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gte=1), name="pipelines_territory_owner_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.territory} · {self.owner}"


class WhenOwned(models.TextChoices):
    KEEP = "keep", "Keep the current owner"
    REROUTE = "reroute", "Re-route to the owner the rules choose"


class RoutingConfig(models.Model):
    """How one routing workflow decides and acts."""

    workflow = models.OneToOneField(
        "pipelines.Workflow", on_delete=models.CASCADE, related_name="routing"
    )
    hubspot_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "hubspot"},  # a wrong kind is refused where it is chosen
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The portal whose contacts are routed; its client secret verifies webhooks.",
    )
    lifecycle_stage = models.CharField(max_length=80, default="marketingqualifiedlead")
    when_owned = models.CharField(
        max_length=10,
        choices=WhenOwned.choices,
        default=WhenOwned.KEEP,
        help_text="A contact that already has an owner in HubSpot: keep that owner, or hand it "
        "to the owner the rules choose. Route now asks each time.",
    )
    deal_threshold = models.PositiveSmallIntegerField(
        default=75, help_text="A score above this creates a deal."
    )
    deal_pipeline = models.CharField(max_length=80, default="default")
    deal_stage = models.CharField(max_length=80, default="appointmentscheduled")
    fallback_territory = models.ForeignKey(
        Territory,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Used when no rule matches, or when the scoring API is down.",
    )
    scoring_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "http"},  # a wrong kind is refused where it is chosen
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="An HTTP JSON connection to the internal scoring API. Empty: the scoring rules below.",
    )
    scoring_path = models.CharField(
        max_length=200,
        default="/score",
        validators=[relative_path_validate],
        help_text="A path on the scoring connection's base URL, such as /score (never a URL).",
    )
    score_field = models.CharField(
        max_length=100, default="score", help_text="Dotted path of the score in the answer."
    )
    territory_field = models.CharField(
        max_length=100,
        default="territory",
        blank=True,
        help_text="Dotted path of a territory name in the answer, if the API decides it.",
    )
    slack_connection = models.ForeignKey(
        "integrations.Connection",
        limit_choices_to={"provider": "slack"},  # a wrong kind is refused where it is chosen
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    slack_channel = models.CharField(
        max_length=80, blank=True, help_text="Empty: a DM to the owner's Slack user."
    )
    portal_id = models.CharField(
        max_length=20, blank=True, help_text="For HubSpot links in notifications."
    )

    class Meta:
        verbose_name = "routing configuration"

    def __str__(self) -> str:
        return f"Routing of {self.workflow.name or self.workflow.slug}"


class TerritoryRule(models.Model):
    """One ordered rule: when every condition holds, the lead goes to ``territory``."""

    config = models.ForeignKey(RoutingConfig, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=0)
    territory = models.ForeignKey(Territory, on_delete=models.PROTECT, related_name="rules")
    conditions = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"country": {"in": ["GB", "DE"]}}'
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["config", "position", "id"]

    def __str__(self) -> str:
        return f"rule {self.position} → {self.territory}"


class ScoringRule(models.Model):
    """Built-in scoring: ``points`` when every condition holds (same form as territory rules)."""

    config = models.ForeignKey(
        RoutingConfig, on_delete=models.CASCADE, related_name="scoring_rules"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    conditions = models.JSONField(default=dict, blank=True)
    points = models.SmallIntegerField()

    class Meta:
        ordering = ["config", "position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"


class StrategyState(models.Model):
    """The round of one territory. Locked (SELECT … FOR UPDATE) while an owner is chosen, so
    concurrent workers take turns instead of picking the same owner."""

    territory = models.OneToOneField(Territory, on_delete=models.CASCADE, related_name="state")
    counter = models.PositiveBigIntegerField(
        default=0, help_text="Leads assigned so far (round robin)."
    )
    # Weighted round robin: the smooth-WRR current weight per owner id.
    weights = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.territory_id}: {self.counter}"


class OwnerDailyCount(models.Model):
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="daily_counts")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "day"], name="pipelines_owner_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.day}: {self.count}"


class DecisionTrigger(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    ADMIN = "admin", "Route now (admin)"
    COMMAND = "command", "manage.py route"


class DecisionStatus(models.TextChoices):
    DECIDED = "decided", "Decided"
    ROUTED = "routed", "Routed"
    FAILED = "failed", "Failed"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"
    SKIPPED = "skipped", "Skipped (suppressed by a privacy request)"


class RoutingDecision(models.Model):
    """Why a lead went where it went. Written before anything is done in HubSpot, under a
    unique key: a retried delivery finds it and reuses what was done (the deal above all)."""

    config = models.ForeignKey(RoutingConfig, on_delete=models.CASCADE, related_name="decisions")
    dedupe_key = models.CharField(max_length=200, unique=True)
    trigger = models.CharField(max_length=20, choices=DecisionTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    inbound_event = models.ForeignKey(
        "pipelines.InboundEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    contact_id = models.CharField(max_length=40, db_index=True)
    company_id = models.CharField(max_length=40, blank=True)
    inputs = models.JSONField(
        default=dict, help_text="The contact's and company's properties as read."
    )
    score = models.IntegerField(null=True, blank=True)
    score_source = models.CharField(
        max_length=20, blank=True, help_text="api | rules | unavailable"
    )
    score_parts = models.JSONField(default=list, blank=True)
    rules = models.JSONField(default=list, blank=True, help_text="Every rule evaluated, with why.")
    territory = models.ForeignKey(
        Territory, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    territory_reason = models.CharField(max_length=300, blank=True)
    owner = models.ForeignKey(
        Owner, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    strategy = models.CharField(max_length=30, blank=True)
    strategy_state = models.JSONField(
        default=dict, blank=True, help_text="The round at the moment of choosing."
    )
    status = models.CharField(
        max_length=20, choices=DecisionStatus.choices, default=DecisionStatus.DECIDED
    )
    owner_updated = models.BooleanField(default=False)
    deal_id = models.CharField(max_length=40, blank=True)
    deal_attempted = models.BooleanField(default=False)
    notified = models.BooleanField(default=False)
    notification_status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, blank=True, default=""
    )
    notification_error = models.CharField(max_length=300, blank=True)
    errors = models.JSONField(default=list, blank=True)
    decision_ms = models.FloatField(
        null=True, blank=True, help_text="Time to decide, HubSpot calls excluded."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["config", "contact_id"], name="pipelines_decision_contact_idx")
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} → {self.owner or 'nobody'}"
