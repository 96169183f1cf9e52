"""Forms of the event-hub pages. Nobody types JSON: a subscriber's settings are plain fields
per kind, a payload is edited field by field (its leaves flattened to dotted names)."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from events.models import Subscriber, SubscriberKind
from events.payloads import REQUIRED_OPTIONS, flatten, typed_value, unflatten

OPTION_FIELDS = {
    "channel": ("Slack channel", "e.g. #sales"),
    "text": ("Message", "Event fields in braces: Deal {dealname} won: {amount}"),
    "path": ("Path", "Appended to the connection's base URL, e.g. /invoices"),
    "subject": ("Task subject", "e.g. Onboard {dealname}"),
    "body": ("Body", "Event fields in braces"),
    "property": ("HubSpot property", "Internal name, e.g. hs_lead_status"),
    "value": ("New value", "Event fields in braces"),
    "record_type": ("Record type", "HubSpot object to create, e.g. tickets"),
    "table": ("Warehouse table", "e.g. deal_events"),
}


def _option(name: str) -> forms.CharField:
    label, help_text = OPTION_FIELDS[name]
    return forms.CharField(label=label, help_text=help_text, required=False)


class SubscriberForm(forms.ModelForm):
    """The kind's settings as ordinary fields, stored in ``options``."""

    channel = _option("channel")
    text = _option("text")
    path = _option("path")
    subject = _option("subject")
    body = _option("body")
    property = _option("property")
    value = _option("value")
    record_type = _option("record_type")
    table = _option("table")

    class Meta:
        model = Subscriber
        fields = ("name", "kind", "connection", "ordered")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = (self.instance.options or {}) if self.instance.pk else {}
        for name in OPTION_FIELDS:
            self.fields[name].initial = options.get(name, "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind in SubscriberKind.values:
            for name in REQUIRED_OPTIONS[kind]:
                if not data.get(name):
                    self.add_error(name, f"A {SubscriberKind(kind).label} needs this.")
        return data

    def save(self, commit: bool = True) -> Subscriber:
        subscriber = super().save(commit=False)
        kept = {k: v for k, v in (subscriber.options or {}).items() if k not in OPTION_FIELDS}
        chosen = {k: self.cleaned_data[k] for k in OPTION_FIELDS if self.cleaned_data.get(k)}
        subscriber.options = {**kept, **chosen}
        if commit:
            subscriber.save()
        return subscriber


class PayloadForm(forms.Form):
    """One text field per leaf of the payload (``body.data.amount``), plus any field the
    receiver asked for that is missing (``add_name`` / ``add_value``)."""

    add_name = forms.CharField(
        required=False, label="Add a field", help_text="e.g. body.data.amount"
    )
    add_value = forms.CharField(required=False, label="Its value")

    def __init__(self, *args: Any, payload: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaves = flatten(payload)
        for name, value in self.leaves.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            self.fields[f"f:{name}"] = forms.CharField(
                label=name, required=False, initial="" if shown is None else str(shown)
            )

    def payload(self) -> dict[str, Any]:
        values = {
            name: typed_value(self.cleaned_data.get(f"f:{name}", ""), original)
            for name, original in self.leaves.items()
        }
        if self.cleaned_data.get("add_name"):
            values[self.cleaned_data["add_name"].strip()] = self.cleaned_data.get("add_value", "")
        return unflatten(values)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why cancel?")


def masked_json(value: Any) -> str:
    """For the timeline: secrets and personal data masked, callback tokens too."""
    import re

    from audit.masking import mask_structure

    text = json.dumps(mask_structure(value), indent=2, ensure_ascii=False, default=str)
    return re.sub(r"/callback/[0-9a-f]{16,}/", "/callback/••••/", text)
