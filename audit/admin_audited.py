"""Schedules (django-celery-beat), users and groups, re-registered with `AuditedModelAdmin`.

Their apps register plain admins; we replace each with a subclass that keeps every behaviour
and adds the audit trail (SOC 2 CC6.2/CC6.3 for users and groups, CC8.1 for schedules).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from audit.admin_mixins import AuditedModelAdmin
from audit.masking import SECRET_CHANGED
from audit.services import audit_event_record

User = get_user_model()


def _reregister(model, base_admin, **attrs):
    audited = type(f"Audited{base_admin.__name__}", (AuditedModelAdmin, base_admin), attrs)
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, audited)
    return audited


_reregister(PeriodicTask, beat_admin.PeriodicTaskAdmin)
_reregister(CrontabSchedule, beat_admin.CrontabScheduleAdmin)
_reregister(IntervalSchedule, beat_admin.IntervalScheduleAdmin)
_reregister(SolarSchedule, beat_admin.SolarScheduleAdmin)
_reregister(ClockedSchedule, beat_admin.ClockedScheduleAdmin)
_reregister(Group, GroupAdmin)


class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    audit_personal_fields = ("email", "first_name", "last_name")
    # last_login changes on every login and is in the auth.login events already.
    audit_exclude_fields = ("last_login",)

    def get_readonly_fields(self, request, obj=None):
        """Only a superuser grants raw permissions or superuser status here; everyone else
        gives roles on the Team screen (so an Administrator cannot make anyone a superuser)."""
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions", "groups"]
        return fields

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User._default_manager.filter(pk=id).first()
            if user is not None:
                audit_event_record(
                    action="user.password_changed",
                    obj=user,
                    request=request,
                    source="admin",
                    changes={"password": [None, SECRET_CHANGED]},
                )
        return response


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
