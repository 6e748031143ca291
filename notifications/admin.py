"""Admin for the outbox. Recipients are edited here; posts and delivery attempts are the
history and stay read-only, with a "retry now" action as the one sanctioned write.

The Mattermost token is never stored in the database, and error texts shown here pass
through `redact` in case a library echoed an Authorization header into an exception.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from common.admin import ReadOnlyAdmin
from notifications.mattermost.redaction import redact
from notifications.models import ChannelLookup, DeliveryAttempt, Post, Recipient


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ("handle", "role_pattern", "enabled", "last_lookup_at", "lookup_error")
    list_filter = ("enabled",)
    search_fields = ("handle", "role_pattern", "note")
    readonly_fields = ("last_lookup_at", "lookup_error", "created_at", "updated_at")
    actions = ["send_test", "enable", "disable"]

    @admin.display(description="last lookup error")
    def lookup_error(self, obj: Recipient) -> str:
        return redact(obj.last_lookup_error)

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        # Imported here so the admin loads even before the delivery pipeline exists.
        from notifications.tasks import send_test_message

        for recipient in queryset:
            try:
                result = send_test_message(recipient.pk)
            except Exception as exc:  # show any failure to the admin rather than a 500
                self.message_user(request, f"{recipient}: {redact(str(exc))}", level=messages.ERROR)
            else:
                self.message_user(request, f"{recipient}: {redact(str(result))}")

    @admin.action(description="Enable selected recipients", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        n = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {n} recipient(s).")

    @admin.action(description="Disable selected recipients", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        n = queryset.update(enabled=False)
        self.message_user(request, f"Disabled {n} recipient(s).")


class FailedFilter(admin.SimpleListFilter):
    """Posts that need a human: FAILED (permanent) or still RETRYING."""

    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("failed", "Failed"), ("retrying", "Retrying"), ("unfinished", "Not sent yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        if self.value() == "failed":
            return queryset.filter(status=Post.Status.FAILED)
        if self.value() == "retrying":
            return queryset.filter(status=Post.Status.RETRYING)
        if self.value() == "unfinished":
            return queryset.exclude(status=Post.Status.SENT)
        return queryset


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("at", "method", "endpoint", "status_code", "ok", "error_class", "error_text")
    readonly_fields = fields
    ordering = ("at",)

    @admin.display(description="error")
    def error_text(self, obj: DeliveryAttempt) -> str:
        return redact(obj.error)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "request_link",
        "recipient",
        "status",
        "mattermost_id",
        "attempts",
        "next_attempt_at",
        "error_text",
    )
    list_filter = (FailedFilter, "status", "kind")
    search_fields = ("request__id", "recipient", "mattermost_id", "channel_id", "key")
    list_select_related = ("request",)
    raw_id_fields = ("request", "review", "root", "alert")
    exclude = ("last_error",)
    readonly_fields = ("error_text",)
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # The model is view-only in the admin, so "retry" is its own (change) permission.
        return request.user.has_perm("notifications.change_post")

    @admin.display(description="request")
    def request_link(self, obj: Post) -> str:
        if not obj.request_id:
            return "—"
        url = reverse("dashboard:request", args=[obj.request_id])
        return format_html('<a href="{}">{}</a>', url, obj.request_id)

    @admin.display(description="last error")
    def error_text(self, obj: Post) -> str:
        return redact(obj.last_error)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        from notifications.tasks import retry_posts

        ids = list(queryset.exclude(status=Post.Status.SENT).values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "Nothing to retry: every selected post is sent.")
            return
        n = retry_posts(ids)
        self.message_user(request, f"Queued {n} post(s) for an immediate retry.")


class OkFilter(admin.SimpleListFilter):
    title = "result"
    parameter_name = "result"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("failed", "Failed"), ("ok", "OK")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("failed", "ok"):
            return queryset.filter(ok=self.value() == "ok")
        return queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("at", "request_id", "method", "endpoint", "status_code", "ok", "error_text")
    list_filter = (OkFilter, "method", "error_class", ("at", admin.DateFieldListFilter))
    search_fields = ("request_id", "endpoint", "error")
    raw_id_fields = ("post",)
    exclude = ("error",)
    readonly_fields = ("error_text",)
    date_hierarchy = "at"

    @admin.display(description="error")
    def error_text(self, obj: DeliveryAttempt) -> str:
        return redact(obj.error)


@admin.register(ChannelLookup)
class ChannelLookupAdmin(ReadOnlyAdmin):
    list_display = ("handle", "channel_id", "error", "checked_at")
    search_fields = ("handle", "channel_id")


# The follow-ups' pages (issue 16), in their own module.
from notifications import followup_admin  # noqa: E402, F401
