"""One click on Approve/Deny, from the raw callback body to the ephemeral answer.

Checks run in a fixed order and fail closed with one generic message, so a forger learns
nothing about which check stopped them (the ReviewAttempt row records it):
  1. the body parses, is small and has the expected fields;
  2. the context's kid is known and its MAC matches (constant time);
  3. it has not expired, and the action is approve or deny;
  4. its nonce row exists and binds this request, channel and post;
  5. the request is still PENDING and unexpired here;
  6. the signed trigger_id names this user, is fresh and unseen (when the server signs).
Only then: the feature gate, rate limits, who clicked, the Teleport user, and the one RPC.
Nothing here edits the post: the watcher sees Teleport's update and reconcile redraws it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.request_log import escape_controls, request_context
from notifications import runtime
from notifications.chatreview import buttons, signing, triggers, users
from notifications.chatreview import config as review_config
from notifications.chatreview.config import Rate, ReviewConfig
from notifications.chatreview.models import ButtonNonce, ReviewAttempt, ReviewFeatureState
from notifications.mattermost.errors import MattermostError
from teleportbridge.models import AccessRequest, RequestState
from teleportbridge.teleport.errors import TeleportError

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
GENERIC = "This button cannot be used. Open the request in Teleport to review it."
UNAVAILABLE = "Reviews from Mattermost are unavailable right now. Review in Teleport instead."
NOT_ALLOWED = "You are not allowed to review this request."
ALREADY_REVIEWED = "You already reviewed this request."
RESOLVED = "Already resolved or expired."
BUSY = "Teleport is busy, try again."
TOO_MANY = "Too many attempts. Wait a moment and try again."
REPLAYED = "You already submitted this review."
#: Auth's texts that mean "this bridge may not submit for users at all".
BLOCKING = ("cannot submit reviews on behalf of", "administrative action requires mfa")

Outcome = ReviewAttempt.Outcome
_BODY_FIELDS = ("user_id", "user_name", "channel_id", "post_id", "trigger_id")
_ID_FIELDS = ("user_id", "channel_id", "post_id")

_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _teleport_slots(n: int) -> threading.BoundedSemaphore:
    """Per-process cap on concurrent Teleport calls (lookups and submits)."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(n)
        return _slots


class _Stop(Exception):
    """End the click with `text`; the row says why."""

    def __init__(self, text: str, outcome: str, check: str = "") -> None:
        super().__init__(check)
        self.text, self.outcome, self.check = text, outcome, check


def _refuse(check: str) -> _Stop:
    return _Stop(GENERIC, Outcome.REFUSED, check)


#: Checks a forged body fails. Rows that failed one of them do not count towards the per-user
#: and per-request limits: anyone who can reach the endpoint could otherwise lock a reviewer
#: out by sending bodies that merely *claim* to be theirs.
UNVERIFIED = (
    "body_too_large",
    "body_not_json",
    "body_not_object",
    "body_field",
    "context_shape",
    "signature",
    "expired",
    "action",
    "nonce_binding",
    "trigger_id",
    "global_rate",
    "feature_off",
)


def _limited(rate: Rate, *, verified_only: bool = False, **filters: Any) -> bool:
    since = timezone.now() - timedelta(seconds=rate.seconds)
    rows = ReviewAttempt.objects.filter(at__gte=since, **filters)
    if verified_only:
        rows = rows.exclude(failed_check__in=UNVERIFIED)
    return rows.count() >= rate.count


def _parse(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    if len(body) > MAX_BODY:
        raise _refuse("body_too_large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: 16 KiB of "[[[[" is not JSON to us
        raise _refuse("body_not_json") from None
    if not isinstance(data, dict):
        raise _refuse("body_not_object")
    for name in _BODY_FIELDS:
        if not isinstance(data.get(name, ""), str) or len(data.get(name, "")) > 512:
            raise _refuse("body_field")
    for name in _ID_FIELDS:  # Mattermost ids are 26 characters; the columns hold 64
        if len(data.get(name, "")) > 64:
            raise _refuse("body_field")
    ctx = data.get("context")
    if not isinstance(ctx, dict) or not signing.well_formed(ctx):
        raise _refuse("context_shape")
    return data, ctx


def _verify(cfg: ReviewConfig, data: dict[str, Any], ctx: dict[str, Any], row) -> Any:
    """Checks 2 to 6; returns the verified trigger (or True when none can be checked)."""
    if not signing.mac_ok(cfg.keys, ctx):
        raise _refuse("signature")
    row.request_id, row.action = ctx["rid"], ctx["act"]
    if ctx["exp"] <= int(timezone.now().timestamp()):
        raise _refuse("expired")
    if ctx["act"] not in signing.ACTIONS:
        raise _refuse("action")
    nonce = ButtonNonce.objects.select_related("post").filter(nonce=ctx["n"]).first()
    if (
        nonce is None
        or nonce.request_id != ctx["rid"]
        or nonce.channel_id != ctx["ch"]
        or data.get("channel_id") != ctx["ch"]
        or not nonce.post.mattermost_id
        or data.get("post_id") != nonce.post.mattermost_id
    ):
        raise _refuse("nonce_binding")
    request = AccessRequest.objects.filter(pk=ctx["rid"]).first()
    if (
        request is None
        or request.state != RequestState.PENDING
        or (request.expires_at is not None and request.expires_at <= timezone.now())
    ):
        raise _Stop(RESOLVED, Outcome.REFUSED, "request_not_pending")
    if request.request_kind == buttons.LONG_TERM:
        raise _refuse("long_term")  # Auth accepts a short-term approval of one (teleport#69297)
    if not cfg.verify_trigger_id:
        return True
    found = triggers.verify(runtime.mattermost(), str(data.get("trigger_id") or ""), row.mm_user_id)
    if found is None:
        raise _refuse("trigger_id")
    return found


def _block(reason: str) -> None:
    """Hide every button: raise the alert and redraw each request that shows buttons."""
    from notifications.models import Post
    from notifications.tasks import enqueue_reconcile

    if not ReviewFeatureState.block(reason):
        return
    log.error("Reviews from Mattermost are blocked, hiding every button: %s", reason)
    ids = Post.objects.exclude(buttons_wanted="").values_list("request_id", flat=True).distinct()
    for request_id in ids:
        if request_id:
            enqueue_reconcile(request_id, why="review buttons blocked")


def _answer(exc: TeleportError) -> _Stop:
    code, details = exc.grpc_code, exc.grpc_details
    low = details.lower()
    if any(text in low for text in BLOCKING):
        _block(details)
        return _Stop(UNAVAILABLE, Outcome.REJECTED)
    if code == "PERMISSION_DENIED" and "has already reviewed" in low:
        return _Stop(ALREADY_REVIEWED, Outcome.REJECTED)
    if code == "NOT_FOUND" or "the access request has been already" in low:
        return _Stop(RESOLVED, Outcome.REJECTED)
    if code == "PERMISSION_DENIED":
        return _Stop(NOT_ALLOWED, Outcome.REJECTED)
    if exc.transient or code in ("FAILED_PRECONDITION", "UNAVAILABLE", "DEADLINE_EXCEEDED", ""):
        return _Stop(BUSY, Outcome.ERROR)
    return _Stop(NOT_ALLOWED if code == "INVALID_ARGUMENT" else BUSY, Outcome.ERROR)


def _claim(row: ReviewAttempt, ctx: dict[str, Any], trigger: Any) -> None:
    """Insert the row with its idempotency keys: the first click wins, a repeat is a replay."""
    row.claim_key = f"{ctx['n']}|{row.mm_user_id}|{ctx['act']}"
    row.trigger_client_id = trigger.client_id if isinstance(trigger, triggers.Trigger) else None
    row.outcome = Outcome.ERROR  # until Teleport answers: a crash leaves an honest row
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        row.pk = None
        row.claim_key = row.trigger_client_id = None
        raise _Stop(REPLAYED, Outcome.REPLAY, "replay") from None


def _process(cfg: ReviewConfig, body: bytes, row: ReviewAttempt) -> str:
    data, ctx = _parse(body)
    row.mm_user_id = data.get("user_id", "")[:64]
    row.mm_username = data.get("user_name", "")[:255]
    row.channel_id = data.get("channel_id", "")[:64]
    row.post_id = data.get("post_id", "")[:64]
    trigger = _verify(cfg, data, ctx, row)
    # After verification and counting verified clicks only: forged POSTs cost a MAC each
    # but cannot use up the global budget and lock every reviewer out.
    if _limited(cfg.global_rate, verified_only=True):
        raise _Stop(TOO_MANY, Outcome.RATE_LIMITED, "global_rate")
    if buttons.feature_usable():
        raise _Stop(UNAVAILABLE, Outcome.REFUSED, "feature_gate")
    if _limited(cfg.per_user, verified_only=True, mm_user_id=row.mm_user_id):
        raise _Stop(TOO_MANY, Outcome.RATE_LIMITED, "user_rate")
    if _limited(cfg.per_request, verified_only=True, request_id=row.request_id):
        raise _Stop(TOO_MANY, Outcome.RATE_LIMITED, "request_rate")
    slots = _teleport_slots(cfg.max_concurrent)
    if not slots.acquire(blocking=False):
        raise _Stop(TOO_MANY, Outcome.RATE_LIMITED, "concurrency")
    try:
        return _review(cfg, ctx, row, trigger)
    finally:
        slots.release()


def _review(cfg: ReviewConfig, ctx: dict[str, Any], row: ReviewAttempt, trigger: Any) -> str:
    teleport = runtime.teleport()
    if teleport is None:
        raise _Stop(BUSY, Outcome.ERROR, "teleport_unreachable")
    try:
        mm_user = users.mattermost_user(runtime.mattermost(), row.mm_user_id)
        # The name Mattermost itself gives for the verified id, not the body's claim.
        row.mm_username = str(mm_user.get("username") or row.mm_username)[:255]
        mapping = users.teleport_user(cfg, teleport, mm_user, timeout=cfg.timeout)
    except users.Refused as exc:
        raise _Stop(NOT_ALLOWED, Outcome.REFUSED, exc.check) from None
    except (TeleportError, MattermostError):
        raise _Stop(BUSY, Outcome.ERROR, "user_lookup") from None
    row.teleport_user, row.mapping_method = mapping.teleport_user, mapping.method
    _claim(row, ctx, trigger)
    approve = ctx["act"] == "approve"
    try:
        teleport.submit_review_for(
            row.request_id,
            mapping.teleport_user,
            approve,
            reason=f"via Mattermost (@{row.mm_username})" if row.mm_username else "",
            timeout=cfg.timeout,
        )
    except TeleportError as exc:
        row.grpc_code, row.grpc_message = exc.grpc_code or "DEADLINE_EXCEEDED", exc.grpc_details
        stop = _answer(exc)
        if stop.text not in (ALREADY_REVIEWED, RESOLVED):
            # Nothing was submitted (busy, blocked, not allowed): release the idempotency
            # key so a click after the cause is fixed is tried, not called a repeat.
            row.claim_key = None
        if stop.text == NOT_ALLOWED:
            users.forget(row.mm_user_id)
        raise stop from None
    row.outcome, row.grpc_code = Outcome.SUBMITTED, "OK"
    what = "approval" if approve else "denial"
    return (
        f"Your {what} of {row.request_id} was submitted as {mapping.teleport_user}; "
        "the request stays pending until its rules are met."
    )


def handle(body: bytes, source_ip: str) -> str:
    """Process one callback; always returns the ephemeral text (never raises for input)."""
    started = time.monotonic()
    row = ReviewAttempt(source_ip=source_ip[:64])
    cfg = review_config.get()
    try:
        if cfg is None:
            raise _refuse("feature_off")
        text = _process(cfg, body, row)
    except _Stop as stop:
        text, row.outcome, row.failed_check = stop.text, stop.outcome, stop.check
    except Exception:
        # A bug must not skip the click's row (R15) nor answer anything but the generic
        # text; the trace goes to the log, never to the clicker.
        log.exception("Review click failed unexpectedly")
        row.claim_key = row.trigger_client_id = None
        text, row.outcome, row.failed_check = GENERIC, Outcome.ERROR, "internal_error"
    row.latency_ms = int((time.monotonic() - started) * 1000)
    row.save()
    with request_context(row.request_id or "-"):
        log.info(
            "Review click %s by %s: %s%s",
            row.action or "?",
            escape_controls(row.mm_username or row.mm_user_id or "?"),
            row.outcome,
            f" ({row.failed_check})" if row.failed_check else "",
        )
    return text
