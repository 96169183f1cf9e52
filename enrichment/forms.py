"""Browser forms for an enrichment workflow: settings, field precedence and score rules, all
as plain fields and pickers (no JSON)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from enrichment.models import SelectMode
from enrichment.rules import OPERATORS, TRANSFORMS

SOURCE_FIELDS = {
    "apollo": [
        "estimated_num_employees",
        "industry",
        "annual_revenue",
        "country",
        "city",
        "founded_year",
        "technology_names",
        "linkedin_url",
    ],
    "builtwith": ["technologies", "categories", "spend"],
    "clearbit": [
        "metrics.employees",
        "category.industry",
        "metrics.annualRevenue",
        "geo.country",
        "geo.city",
        "foundedYear",
        "tech",
    ],
}
SOURCE_CHOICES = [("", "—")] + [
    (f"{source}.{name}", f"{source}: {name}")
    for source, names in SOURCE_FIELDS.items()
    for name in names
]


class SettingsForm(forms.Form):
    select_mode = forms.ChoiceField(label="Which companies", choices=SelectMode.choices)
    cache_ttl_hours = forms.IntegerField(
        label="Reuse answers for (hours)", min_value=0, max_value=2160
    )
    hour = forms.IntegerField(label="Daily at hour", min_value=0, max_value=23)
    minute = forms.IntegerField(label="minute", min_value=0, max_value=59)
    timezone = forms.CharField(label="Time zone", max_length=64)
    notify_min_score = forms.IntegerField(
        label="Announce in Slack from score", min_value=0, max_value=100, required=False
    )
    slack_channel = forms.CharField(label="Slack channel", max_length=80, required=False)

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError("Use a time zone name such as America/New_York") from None
        return value


class FieldRuleForm(forms.Form):
    to = forms.CharField(label="HubSpot property", max_length=100)
    first = forms.ChoiceField(label="1st source", choices=SOURCE_CHOICES)
    second = forms.ChoiceField(label="then", choices=SOURCE_CHOICES, required=False)
    third = forms.ChoiceField(label="then", choices=SOURCE_CHOICES, required=False)
    transform = forms.ChoiceField(
        label="Normalize as",
        choices=[("", "automatic")] + [(t, t.replace("_", " ")) for t in TRANSFORMS],
        required=False,
    )
    overwrite = forms.BooleanField(label="Overwrite values people entered", required=False)

    def rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        sources = [data[k] for k in ("first", "second", "third") if data.get(k)]
        rule: dict[str, Any] = {"to": data["to"].strip(), "from": sources}
        if data.get("transform"):
            rule["transforms"] = [data["transform"]]
        if data.get("overwrite"):
            rule["overwrite"] = True
        return rule


class ScoreRuleForm(forms.Form):
    field = forms.CharField(label="Property", max_length=100)
    op = forms.ChoiceField(label="Condition", choices=list(OPERATORS.items()))
    value = forms.CharField(label="Value", max_length=300, required=False)
    low = forms.FloatField(label="from", required=False)
    high = forms.FloatField(label="to", required=False)
    points = forms.IntegerField(label="Points", min_value=-100, max_value=100)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        op = data.get("op")
        if op == "between" and (data.get("low") is None or data.get("high") is None):
            raise forms.ValidationError("'is between' needs a from and a to")
        if op in ("gte", "lte") and data.get("low") is None:
            raise forms.ValidationError("Put the number in 'from'")
        if op in ("eq", "in", "contains") and not (data.get("value") or "").strip():
            raise forms.ValidationError("This condition needs a value")
        return data

    def rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        rule: dict[str, Any] = {"field": data["field"].strip(), "op": data["op"]}
        number = lambda v: int(v) if float(v).is_integer() else v  # noqa: E731
        if data["op"] == "between":
            rule["value"] = [number(data["low"]), number(data["high"])]
        elif data["op"] in ("gte", "lte"):
            rule["value"] = number(data["low"])
        elif data["op"] == "in":
            rule["value"] = [v.strip() for v in data["value"].split(",") if v.strip()]
        elif data["op"] != "present":
            rule["value"] = data["value"].strip()
        rule["points"] = data["points"]
        return rule


FieldRuleFormSet = forms.formset_factory(FieldRuleForm, extra=1, can_delete=True)
ScoreRuleFormSet = forms.formset_factory(ScoreRuleForm, extra=1, can_delete=True)


def field_initial(rule: dict[str, Any]) -> dict[str, Any]:
    sources = list(rule.get("from") or []) + ["", "", ""]
    return {
        "to": rule["to"],
        "first": sources[0],
        "second": sources[1],
        "third": sources[2],
        "transform": (rule.get("transforms") or [""])[0],
        "overwrite": bool(rule.get("overwrite")),
    }


def score_initial(rule: dict[str, Any]) -> dict[str, Any]:
    value = rule.get("value")
    out = {"field": rule["field"], "op": rule["op"], "points": rule["points"]}
    if rule["op"] == "between":
        out.update(low=value[0], high=value[1])
    elif rule["op"] in ("gte", "lte"):
        out["low"] = value
    elif isinstance(value, list):
        out["value"] = ", ".join(map(str, value))
    elif value is not None:
        out["value"] = value
    return out
