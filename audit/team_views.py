"""The Team screen: who has which role; invite a person; change a role (Administrators)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from audit.roles import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS
from audit.team import TeamError, user_invite, user_role, user_role_set

ROLE_CHOICES = [(role, role) for role in ROLE_PERMISSIONS]


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.CharField(
        max_length=254, widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"})
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, widget=forms.RadioSelect)


@require_http_methods(["GET", "POST"])
def team_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("auth.view_user")):
        raise PermissionDenied("auth.view_user required")
    can_invite, can_change = user.has_perm("auth.add_user"), user.has_perm("auth.change_user")
    form = InviteForm(request.POST if request.POST.get("action") == "invite" else None)
    link = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "invite":
            if not can_invite:
                raise PermissionDenied("auth.add_user required")
            if form.is_valid():
                try:
                    invited, path = user_invite(actor=user, **form.cleaned_data)
                except TeamError as error:
                    form.add_error(None, str(error))
                else:
                    link = request.build_absolute_uri(path)
                    messages.success(
                        request,
                        f"{invited.get_username()} was invited as {form.cleaned_data['role']}. "
                        "Send them the link below; it works once, for three days.",
                    )
                    form = InviteForm()
        elif action == "role":
            if not can_change:
                raise PermissionDenied("auth.change_user required")
            target = get_user_model().objects.filter(pk=request.POST.get("user")).first()
            try:
                if target is None:
                    raise TeamError("no such user")
                user_role_set(user=target, role=request.POST.get("role", ""), actor=user)
            except TeamError as error:
                messages.error(request, str(error)[:1].upper() + str(error)[1:] + ".")
            else:
                messages.success(request, f"{target.get_username()} is now {request.POST['role']}.")
            return redirect("team")
    people = [
        {"user": person, "role": user_role(user=person)}
        for person in get_user_model()
        .objects.filter(is_active=True)
        .prefetch_related("groups")
        .order_by("username")
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Team",
        "people": people,
        "roles": [(r, ROLE_DESCRIPTIONS.get(r, "")) for r in ROLE_PERMISSIONS],
        "form": form,
        "link": link,
        "can_invite": can_invite,
        "can_change": can_change,
    }
    return TemplateResponse(request, "audit/team.html", context)
