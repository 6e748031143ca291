"""Admin for reviews from Mattermost: every click (read-only), the button nonces, the alert.

The feature's page states plainly what turning it on means (reviews skip the reviewer's MFA
and Device Trust); the one write is clearing the "cannot submit for users" alert.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from notifications.chatreview import buttons
from notifications.chatreview import config as review_config
from notifications.chatreview.models import ButtonNonce, ReviewAttempt, ReviewFeatureState

MFA_NOTICE = (
    "Reviews from Mattermost skip the reviewer's MFA and Device Trust: whoever controls a "
    "reviewer's Mattermost account can approve requests as that Teleport user."
)


@admin.register(ReviewAttempt)
class ReviewAttemptAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "request_id",
        "action",
        "mm_username",
        "teleport_user",
        "outcome",
        "failed_check",
        "grpc_code",
        "latency_ms",
    )
    list_filter = ("outcome", "action", "failed_check")
    search_fields = ("request_id", "mm_username", "mm_user_id", "teleport_user")
    exclude = ("claim_key", "trigger_client_id")


@admin.register(ButtonNonce)
class ButtonNonceAdmin(ReadOnlyAdmin):
    list_display = ("request", "channel_id", "kid", "expires_at", "created_at")
    search_fields = ("request__id", "channel_id")


@admin.register(ReviewFeatureState)
class ReviewFeatureStateAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "mfa_bypass_acknowledged", "blocked_at")
    readonly_fields = ("status", "mfa_bypass_acknowledged", "blocked_reason", "blocked_at")
    actions = ["clear_alert"]

    @admin.display(description="status")
    def status(self, obj: ReviewFeatureState) -> str:
        return buttons.feature_usable() or "buttons shown on pending requests"

    @admin.display(description="MFA / Device Trust")
    def mfa_bypass_acknowledged(self, obj: ReviewFeatureState) -> str:
        on = review_config.get() is not None
        return ("acknowledged (REVIEW_ACCEPT_MFA_BYPASS): " if on else "feature off. ") + MFA_NOTICE

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)  # only for the clear_alert action

    @admin.action(description="Clear the alert (show buttons again)", permissions=["change"])
    def clear_alert(self, request: HttpRequest, queryset: QuerySet[ReviewFeatureState]) -> None:
        queryset.update(blocked_reason="", blocked_at=None)
        messages.success(request, "Alert cleared; buttons return as requests are reconciled.")
