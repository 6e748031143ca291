"""Admin pages of the follow-ups (issue 16): scheduled reminders, security alerts raised and
posted, requester look-ups. All read-only: the bridge alone writes them. Each list page
shows, at the top, the follow-up settings the TOML currently sets (they live in the file,
not the database)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin
from notifications import runtime
from notifications.models import Post, ReminderSchedule, RequesterContact, SecurityAlert
from teleportbridge.config import ConfigError


def settings_summary() -> str:
    """One line: what the TOML turns on (the token is never part of it)."""
    try:
        f = runtime.get_config().features
    except ConfigError as exc:
        return f"Follow-up settings unavailable: {exc}"
    rm, al = f.reminders, f.alerts
    parts = [
        f"notify_requester={'on' if f.requester.notify else 'off'}",
        f"notify_requester_on_post={'on' if f.requester.notify_on_post else 'off'}",
        f"requester_trait={f.requester.trait or '-'}",
        f"show_reviewers={'on' if f.show_reviewers else 'off'}",
        "reminders="
        + (
            f"after {rm.after}, every {rm.every or '-'}, max {rm.max}"
            if rm.after is not None
            else "off"
        ),
        "escalation="
        + (f"{', '.join(rm.escalate_to)} after {rm.escalate_after}" if rm.escalate_to else "off"),
        f"quiet_hours={rm.quiet_hours.start:%H:%M}-{rm.quiet_hours.end:%H:%M} {rm.timezone}"
        if rm.quiet_hours
        else "quiet_hours=off",
        "alerts=" + (", ".join(al.handles) if al.enabled else "off"),
        f"digest_at={al.digest_at:%H:%M} {al.timezone}" if al.digest_at else "digest=off",
        f"public_url={f.public_url or '-'}",
    ]
    return "Follow-up settings (TOML): " + "; ".join(parts)


class _ShowsSettings(ReadOnlyAdmin):
    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        messages.info(request, settings_summary())
        return super().changelist_view(request, extra_context)


def _request_link(request_id: str) -> str:
    if not request_id:
        return "—"
    url = reverse("dashboard:request", args=[request_id])
    return format_html('<a href="{}">{}</a>', url, request_id)


@admin.register(ReminderSchedule)
class ReminderScheduleAdmin(_ShowsSettings):
    list_display = (
        "request_link",
        "state",
        "reminders_sent",
        "next_due_at",
        "escalate_at",
        "escalated_at",
        "note",
    )
    list_filter = ("state",)
    search_fields = ("request__id", "note")
    raw_id_fields = ("request",)

    @admin.display(description="request")
    def request_link(self, obj: ReminderSchedule) -> str:
        return _request_link(obj.request_id)

    @admin.display(description="reminders scheduled")
    def reminders_sent(self, obj: ReminderSchedule) -> int:
        return obj.next_slot


class AlertPostInline(admin.TabularInline):
    model = Post
    fk_name = "alert"
    extra = 0
    can_delete = False
    fields = ("recipient", "channel_id", "status", "mattermost_id", "attempts", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SecurityAlert)
class SecurityAlertAdmin(_ShowsSettings):
    list_display = ("raised_at", "kind", "request_link", "ident", "posted", "detail")
    list_filter = ("kind",)
    search_fields = ("request_id", "ident", "detail")
    inlines = [AlertPostInline]

    @admin.display(description="request")
    def request_link(self, obj: SecurityAlert) -> str:
        return _request_link(obj.request_id)

    @admin.display(description="posted to")
    def posted(self, obj: SecurityAlert) -> str:
        sent = [p.recipient for p in obj.posts.all() if p.status == Post.Status.SENT]
        return ", ".join(sent) or ("pending" if not obj.posts_planned else "not yet")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("posts")


@admin.register(RequesterContact)
class RequesterContactAdmin(_ShowsSettings):
    list_display = ("request_link", "handle", "channel_id", "error", "looked_up_at")
    search_fields = ("request__id", "handle", "error")
    raw_id_fields = ("request",)

    @admin.display(description="request")
    def request_link(self, obj: RequesterContact) -> str:
        return _request_link(obj.request_id)
