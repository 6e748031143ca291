"""Admin for Teleport-side records. All read-only: Teleport is the source of truth and
the watcher/poller are the only writers; the admin is for looking things up."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin
from teleportbridge.models import (
    AccessMonitoringRule,
    AccessRequest,
    AuditCursor,
    AuditEvent,
    RejectedEvent,
    Review,
    WatcherState,
)


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    can_delete = False
    fields = ("position", "author", "proposed_state", "reason", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "roles_display", "state", "created_at", "resolved_at", "timeline")
    list_filter = ("state", ("created_at", admin.DateFieldListFilter))
    search_fields = ("id", "user", "roles_text")
    date_hierarchy = "created_at"
    inlines = [ReviewInline]
    exclude = ("fingerprint",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessRequest]:
        # JSON role lists are searched as text, so "prod" finds ["prod-db", "dev"].
        return super().get_queryset(request).annotate(roles_text=Cast("roles", CharField()))

    @admin.display(description="roles")
    def roles_display(self, obj: AccessRequest) -> str:
        return ", ".join(obj.roles)

    @admin.display(description="dashboard")
    def timeline(self, obj: AccessRequest) -> str:
        return format_html('<a href="{}">timeline</a>', reverse("dashboard:request", args=[obj.pk]))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("time", "event_type", "code", "request_id", "user", "reviewer", "state")
    list_filter = ("event_type", "code", ("time", admin.DateFieldListFilter))
    search_fields = ("event_id", "request_id", "user", "reviewer")
    date_hierarchy = "time"


@admin.register(AccessMonitoringRule)
class AccessMonitoringRuleAdmin(ReadOnlyAdmin):
    """The "rules" list: what each rule routes, and whether it can be used (issue 13)."""

    list_display = (
        "name",
        "notification_name",
        "condition",
        "recipients",
        "last_matched_at",
        "problem",
        "updated_at",
    )
    search_fields = ("name", "condition")

    @admin.display(description="last error")
    def problem(self, rule: AccessMonitoringRule) -> str:
        if rule.condition_error:
            return f"condition: {rule.condition_error}"
        return rule.last_error


@admin.register(WatcherState)
class WatcherStateAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "cluster_name", "last_event_at", "heartbeat_at", "reconnects")


@admin.register(AuditCursor)
class AuditCursorAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "last_poll_at", "events_stored", "last_error")


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    """Quarantined records: what Teleport sent that could not be stored, and why."""

    list_display = ("last_seen_at", "kind", "object_id", "reason", "count")
    list_filter = ("kind", "reason")
    search_fields = ("object_id", "reason", "error")
    readonly_fields = ("kind", "object_id", "reason", "error", "raw", "count", "first_seen_at")
