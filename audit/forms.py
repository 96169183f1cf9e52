from __future__ import annotations

from django import forms

from audit.selectors import AuditFilters


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False, max_length=200, help_text="Username or component, any case"
    )
    action = forms.CharField(
        required=False,
        max_length=80,
        help_text="Pick from the list, or a family: auth.*",
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    object_type = forms.CharField(required=False, max_length=100, help_text="e.g. auth.user")
    object_id = forms.CharField(required=False, max_length=100)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive"
    )

    def filters(self) -> AuditFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return AuditFilters(
            actor=(data.get("actor") or "").strip(),
            action=(data.get("action") or "").strip(),
            object_type=(data.get("object_type") or "").strip().lower(),
            object_id=(data.get("object_id") or "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


def _address_field(label: str = "Email") -> forms.CharField:
    # Not an <input type=email> nor Django's EmailValidator: both refuse non-ASCII before the
    # @ (søren.kierkegaard@firma.dk), and even invalid addresses held in dead letters must be
    # erasable. Anything the product can hold is accepted: text@text, no spaces.
    return forms.CharField(
        max_length=254,
        label=label,
        widget=forms.TextInput(
            attrs={"inputmode": "email", "autocomplete": "off", "spellcheck": "false"}
        ),
    )


def _address_clean(value: str) -> str:
    value = (value or "").strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise forms.ValidationError("Enter the email address as stored: name@domain.")
    return value


class _EmailForm(forms.Form):
    # Sent by POST only: an email address in a query string ends up in proxy and server logs.
    email = _address_field()

    def clean_email(self) -> str:
        return _address_clean(self.cleaned_data["email"])


class ErasureForm(_EmailForm):
    email_again = _address_field("Email again")

    def clean_email_again(self) -> str:
        return _address_clean(self.cleaned_data["email_again"])

    confirm = forms.BooleanField(
        label="I understand this deletes the person's data in every store, cannot be undone, "
        "and suppresses the address from future imports."
    )

    def clean(self):
        data = super().clean()
        if data.get("email", "").strip().lower() != data.get("email_again", "").strip().lower():
            raise forms.ValidationError("The two email addresses differ.")
        return data


class AccessExportForm(_EmailForm):
    format = forms.ChoiceField(choices=[("json", "JSON"), ("csv", "CSV")], initial="json")
