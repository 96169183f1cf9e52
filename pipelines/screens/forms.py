"""Forms of the screens: parsing and shape only. What a valid mapping or payload is, is
decided by the services (quality's transform checks, the portal's property list)."""

from __future__ import annotations

from typing import Any

from django import forms

from pipelines.models import RunStatus, RunTrigger
from pipelines.screens.selectors import DeadLetterFilters, workflows_for_screens
from pipelines.screens.transform_chains import ChainTextError, chain_from_text, chain_to_text


class WorkflowChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name or obj.slug} ({obj.slug})"


class ImportUploadForm(forms.Form):
    workflow = WorkflowChoiceField(
        queryset=workflows_for_screens().filter(enabled=True), empty_label=None
    )
    file = forms.FileField(
        label="CSV file",
        help_text="A Clay or Apollo export: UTF-8 (with or without BOM) "
        "or Windows cp1252; comma, semicolon, tab or pipe separated.",
    )
    check_destination = forms.BooleanField(
        required=False,
        label="Ask HubSpot which contacts already exist",
        help_text="Exact create/update counts, at one HubSpot call per 100 emails to send.",
    )


class ImportConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)


NOT_IN_FILE = ""
KEEP_UNSENT = ""


class ImportColumnsForm(forms.Form):
    """Which column of the file feeds each mapping rule, and where unmapped columns go."""

    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        sources: list[str],
        required: set[str],
        headers: list[str],
        matched: dict[str, str],
        unmapped: list[str],
        properties: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sources, self.unmapped = sources, unmapped
        header_choices = [(h, h) for h in headers]
        for index, source in enumerate(sources):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=source,
                choices=[(NOT_IN_FILE, "— not in this file"), *header_choices],
                required=source in required,
                initial=matched.get(source, NOT_IN_FILE),
                error_messages={
                    "required": f"{source} is required: pick the column that holds it."
                },
            )
        for index, header in enumerate(unmapped):
            self.fields[f"extra_{index}"] = forms.CharField(
                label=header,
                required=False,
                max_length=200,
                widget=forms.TextInput(
                    attrs={"list": "hubspot-properties", "placeholder": "keep, do not send"}
                ),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        picked = [data.get(f"col_{i}") for i in range(len(self.sources))]
        chosen = [h for h in picked if h]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError("Each column of the file can feed one mapping column only.")
        for index, header in enumerate(self.unmapped):
            if header in chosen and (data.get(f"extra_{index}") or "").strip():
                raise forms.ValidationError(
                    f"{header} already feeds a mapping column; send it to one place only."
                )
        return data

    def picks(self) -> dict[str, str]:
        return {s: self.cleaned_data.get(f"col_{i}") or "" for i, s in enumerate(self.sources)}

    def extras(self) -> dict[str, str]:
        return {
            header: (self.cleaned_data.get(f"extra_{i}") or "").strip()
            for i, header in enumerate(self.unmapped)
            if (self.cleaned_data.get(f"extra_{i}") or "").strip()
        }


class RunFilterForm(forms.Form):
    workflow = WorkflowChoiceField(
        queryset=workflows_for_screens(), required=False, empty_label="All workflows"
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *RunStatus.choices], required=False)
    trigger = forms.ChoiceField(choices=[("", "Any trigger"), *RunTrigger.choices], required=False)


class DeadLetterFilterForm(forms.Form):
    workflow = WorkflowChoiceField(
        queryset=workflows_for_screens(), required=False, empty_label="All workflows"
    )
    run = forms.IntegerField(required=False, min_value=1, label="Run")
    # Free text behind a select: an unknown category must match nothing, not be dropped as
    # invalid (which would show every letter under a filter that says otherwise).
    category = forms.CharField(required=False, max_length=60, widget=forms.Select)
    status = forms.ChoiceField(
        choices=[("open", "Open"), ("resolved", "Resolved"), ("all", "All")], required=False
    )
    created_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "email or error text", "size": 24}),
    )
    reason = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    kind = forms.ChoiceField(required=False, label="Kind")

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        from pipelines.dead_letter_kinds import LETTER_KINDS
        from pipelines.dead_letter_reasons import category_label

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            ("", "Records and deliveries"),
            ("records", "Pipeline records"),
            *[(stage, f"{kind.noun.capitalize()}s") for stage, kind in LETTER_KINDS.items()],
        ]
        self.fields["category"].widget.choices = [
            ("", "Any category"),
            *[(c, category_label(c)) for c in categories],
        ]

    def filters(self) -> DeadLetterFilters:
        """The filter asked for; a malformed field (a date that is not one) is left out."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})  # unbound: no filter at all
        data = {name: cleaned.get(name) for name in self.fields}
        return DeadLetterFilters(
            workflow_id=data["workflow"].pk if data["workflow"] else None,
            run_id=data["run"],
            category=data["category"] or "",
            status=data["status"] or "open",
            created_from=data["created_from"],
            created_to=data["created_to"],
            search=(data["q"] or "").strip(),
            reason=data["reason"] or "",
            kind=data["kind"] or "",
        )


class DeadLetterPayloadForm(forms.Form):
    """One text box per property. A box left empty leaves the property out of the payload.

    ``allow_new`` adds a name/value pair for a field the payload lacks (a delivery letter:
    the receiver asked for ``body.data.amount``); a list shows as comma-separated values."""

    note = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        properties: list[str],
        payload: dict[str, Any],
        allow_new: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.property_names = properties
        for name in properties:
            value = payload.get(name)
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            self.fields[f"p_{name}"] = forms.CharField(
                required=False,
                label=name,
                initial="" if shown is None else str(shown),
                widget=forms.TextInput(attrs={"size": 40}),
            )
        if allow_new:
            self.fields["new_name"] = forms.CharField(
                required=False,
                max_length=200,
                label="Add a field",
                help_text="A name the payload lacks, dotted for a nested one: body.data.amount",
            )
            self.fields["new_value"] = forms.CharField(required=False, label="Its value")

    def payload(self) -> dict[str, str]:
        values = {
            name: self.cleaned_data[f"p_{name}"].strip()
            for name in self.property_names
            if self.cleaned_data.get(f"p_{name}", "").strip()
        }
        new_name = (self.cleaned_data.get("new_name") or "").strip()
        if new_name:
            values[new_name] = (self.cleaned_data.get("new_value") or "").strip()
        return values


class DeadLetterIgnoreForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why ignore it?")


class DeadLetterBulkForm(forms.Form):
    ACTIONS = [
        ("reprocess", "Reprocess selected"),
        ("ignore", "Ignore selected"),
        ("reprocess_all", "Reprocess all open letters matching the filter"),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    reason = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be posted; the services act on the open letters among them only.
        self.fields["ids"].choices = [
            (v, v) for v in (self.data.getlist("ids") if self.data else [])
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action in ("reprocess", "ignore") and not data.get("ids"):
            raise forms.ValidationError("Select at least one dead letter.")
        if action == "ignore" and not (data.get("reason") or "").strip():
            raise forms.ValidationError("Say why these dead letters are ignored.")
        return data


class MappingRuleForm(forms.Form):
    source = forms.CharField(max_length=200, label="Source column")
    target = forms.CharField(
        max_length=200,
        label="HubSpot property",
        widget=forms.TextInput(attrs={"list": "hubspot-properties", "size": 28}),
    )
    transforms = forms.CharField(
        required=False,
        label="Transforms",
        widget=forms.TextInput(attrs={"size": 50, "class": "sy-transforms"}),
        help_text="Names separated by commas; a value in brackets: "
        "strip, default(Unknown), map_values(Hot → OPEN; Cold → UNQUALIFIED)",
    )
    required = forms.BooleanField(required=False)
    # Other headers that feed this rule, picked in the import wizard; kept across edits.
    aliases = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_aliases(self) -> list[str]:
        return [a for a in self.cleaned_data["aliases"].split("\n") if a.strip()]

    def clean_transforms(self) -> list[Any]:
        try:
            return chain_from_text(self.cleaned_data["transforms"])
        except ChainTextError as exc:
            raise forms.ValidationError(f"{exc}.") from None

    def rule(self) -> dict[str, Any]:
        data = self.cleaned_data
        rule = {
            "from": data["source"],
            "to": data["target"],
            "transforms": data["transforms"],
            "required": data["required"],
        }
        if data.get("aliases"):
            rule["aliases"] = data["aliases"]
        return rule


class BaseMappingRuleFormSet(forms.BaseFormSet):
    def rules(self) -> list[dict[str, Any]]:
        return [
            form.rule()
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("source")
        ]


MappingRuleFormSet = forms.formset_factory(
    MappingRuleForm, formset=BaseMappingRuleFormSet, extra=1, can_delete=True
)


def mapping_rule_initial(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored rules → the editor's rows; a plain chain of names is shown as "strip, lower"."""
    rows = []
    for rule in rules:
        text = chain_to_text(rule.get("transforms") or [])
        rows.append(
            {
                "source": rule.get("from", ""),
                "target": rule.get("to", ""),
                "transforms": text,
                "required": bool(rule.get("required")),
                "aliases": "\n".join(rule.get("aliases") or []),
            }
        )
    return rows


class MappingNoteForm(forms.Form):
    note = forms.CharField(
        max_length=300,
        required=False,
        label="What changed and why",
        widget=forms.TextInput(attrs={"size": 80}),
    )
