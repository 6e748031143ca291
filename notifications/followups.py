"""The follow-ups' step in a request's reconcile (issue 16), kept out of reconcile.py.

Called after the wanted root posts and replies are derived and before delivery, so the
DMs, reminders and escalation roots it creates go out in the same delivery pass. Every
feature is off unless the TOML turns it on; then this is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable

from notifications import reminders, requester, runtime
from notifications.followup_render import reviews_line
from notifications.models import NotificationPlan
from teleportbridge.models import AccessRequest, RequestState


def before_delivery(
    request: AccessRequest, plan: NotificationPlan, resync: Callable[[AccessRequest], object]
) -> bool:
    """Create the follow-up posts the request calls for now (`resync` re-derives replies
    for escalation root posts). True when the request's post rows may have changed here
    (a follow-up is on, or the request is over and unsent reminders are dropped)."""
    cfg = runtime.get_config()
    if reminders.sync_request(request, plan, cfg):
        resync(request)
    requester.ensure_dms(request, plan, cfg)
    opts = cfg.features
    return (
        request.state != RequestState.PENDING
        or opts.reminders.enabled
        or opts.requester.notify
        or opts.requester.notify_on_post
    )


def with_reviews(text: str, request: AccessRequest) -> str:
    """`[mattermost] show_reviewers`: the root text with a `**Reviews**:` line before the
    tail (link or tsh commands), or unchanged when the option is off or nobody reviewed."""
    if not runtime.get_config().features.show_reviewers:
        return text
    line = reviews_line((r.author, r.proposed_state) for r in request.reviews.order_by("position"))
    if not line:
        return text
    # The tail is the last such marker: a reason cannot end the post, so rfind is safe.
    for marker in ("\n**Link**: ", "\n**Approve**: "):
        at = text.rfind(marker)
        if at != -1:
            return text[: at + 1] + line + text[at + 1 :]
    return text + ("" if text.endswith("\n") else "\n") + line
