"""Tell the requester (`[mattermost] notify_requester`): one DM when the request is resolved,
and optionally one when it is first posted.

Who the requester is in Mattermost is looked up once per request and stored
(`RequesterContact`): the Teleport user name when it is an email address, else the Teleport
user trait `requester_trait` (read with the plugin's credentials, GetUser) holding an email or
a Mattermost user name. A requester who cannot be found is recorded as "not reachable" with
the reason (shown on the timeline) and nothing is sent.

The DMs are `Post` rows of kind DM, keyed `<request>:requester:<event>` (one per request and
event), created here and delivered by `delivery.deliver_request` like every other post.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.request_log import escape_controls
from notifications import followup_render, runtime
from notifications.mattermost.errors import PermanentError, TransientError
from notifications.models import NotificationPlan, Post, RequesterContact
from notifications.recipient_handles import is_email
from notifications.recipients import resolve
from notifications.render import request_link
from teleportbridge.config import Config
from teleportbridge.models import AccessRequest, RequestState, WatcherState
from teleportbridge.teleport.errors import NotFound, PermissionDenied, TeleportError

log = logging.getLogger(__name__)

# How long a DM waits before its requester is looked up again (Teleport or Mattermost down).
LOOKUP_RETRY = timedelta(seconds=30)

RESOLVED = (RequestState.APPROVED, RequestState.DENIED, RequestState.PROMOTED, RequestState.EXPIRED)


def dm_key(request_id: str, event: str) -> str:
    # Idempotency key: one DM per (request, event); also Mattermost's pending_post_id.
    return f"{request_id}:requester:{event}"


class _NotYet(Exception):
    """The lookup hit a transient error: try again at the next reconcile."""


def _channel_for_username(username: str) -> str:
    client = runtime.mattermost()
    user = client.get_user_by_username(username)
    bot = client.get_me()
    return str(client.create_direct_channel(bot["id"], user["id"])["id"])


def _lookup(request: AccessRequest, trait: str) -> tuple[str, str, str]:
    """(handle, channel id, error); raises _NotYet on a transient failure."""
    handle = request.user
    try:
        if not is_email(handle):
            client = runtime.teleport()
            if client is None:
                raise _NotYet("Teleport unreachable")
            try:
                traits = client.get_user_traits(request.user)
            except (NotFound, PermissionDenied) as exc:
                return "", "", f"requester not reachable: cannot read the Teleport user ({exc})"
            values = [v.strip() for v in traits.get(trait, []) if v.strip()] if trait else []
            if not values:
                return (
                    "",
                    "",
                    (
                        "requester not reachable: the Teleport user name is not an email and "
                        f'has no "{trait}" trait'
                    ),
                )
            handle = values[0]
        if is_email(handle):
            return handle, resolve(handle), ""
        return handle, _channel_for_username(handle.removeprefix("@")), ""
    except PermanentError as exc:
        return handle, "", f"requester not reachable: {exc}"
    except (TransientError, TeleportError) as exc:
        raise _NotYet(str(exc)) from None


def contact_for(request: AccessRequest, cfg: Config) -> RequesterContact | None:
    """The stored lookup, made now if there is none; None when it must be retried later."""
    found = RequesterContact.objects.filter(pk=request.pk).first()
    if found is not None:
        return found
    try:
        handle, channel_id, error = _lookup(request, cfg.features.requester.trait)
    except _NotYet as exc:
        log.warning("Cannot look the requester up yet (will retry): %s", exc)
        return None
    if error:
        log.warning("%s", escape_controls(error))
    try:
        with transaction.atomic():
            return RequesterContact.objects.create(
                request=request, handle=handle[:255], channel_id=channel_id, error=error
            )
    except IntegrityError:  # another worker stored it first; its answer stands
        return RequesterContact.objects.get(pk=request.pk)


def _resolved_text(request: AccessRequest, plan: NotificationPlan) -> str:
    state = str(request.state)
    by = [
        r.author
        for r in request.reviews.order_by("position")
        if r.proposed_state == state and r.author
    ]
    logins: list[str] = []
    for role in request.roles:
        for login in (plan.logins_by_role or {}).get(role, []):
            if login not in logins:
                logins.append(login)
    addr = WatcherState.get().proxy_public_addr
    return followup_render.requester_resolved(
        request_id=request.pk,
        state=state,
        roles=list(request.roles),
        resolved_by=by,
        reason=request.resolve_reason,
        logins=logins,
        link=request_link(addr, request.pk) if addr else None,
    )


def ensure_dms(request: AccessRequest, plan: NotificationPlan, cfg: Config) -> int:
    """Create (or complete) the requester's DM rows this request now calls for.

    The row is stored first, without a channel and not due for LOOKUP_RETRY, and gets its
    channel once the requester is found: a look-up that fails for a while (Teleport or
    Mattermost down) leaves a row the sweeper brings back to this reconcile, so the DM is
    never lost. A requester who cannot be reached drops the row (the contact says why).
    Returns how many rows became sendable."""
    opts = cfg.features.requester
    if not (opts.notify or opts.notify_on_post) or plan.status != NotificationPlan.Status.PLANNED:
        return 0
    wanted: list[str] = []
    if opts.notify_on_post and request.state == RequestState.PENDING:
        wanted.append("posted")
    if opts.notify and request.state in RESOLVED:
        wanted.append("resolved")
    keys = {dm_key(request.pk, e): e for e in wanted}
    done = set(
        Post.objects.filter(key__in=list(keys)).exclude(channel_id="").values_list("key", flat=True)
    )
    todo = [e for k, e in keys.items() if k not in done]
    if not todo:
        return 0
    for event in todo:
        # get_or_create on the unique key: two workers reconciling at once make one row.
        Post.objects.get_or_create(
            key=dm_key(request.pk, event),
            defaults={
                "request": request,
                "kind": Post.Kind.DM,
                "recipient": "(requester)",
                "channel_id": "",
                "status": Post.Status.RETRYING,
                "next_attempt_at": timezone.now() + LOOKUP_RETRY,
                "text_wanted": _text(request, plan, event),
            },
        )
    contact = contact_for(request, cfg)
    waiting = Post.objects.filter(key__in=[dm_key(request.pk, e) for e in todo], channel_id="")
    if contact is None:  # try again later (the sweeper brings the row back)
        waiting.update(status=Post.Status.RETRYING, next_attempt_at=timezone.now() + LOOKUP_RETRY)
        return 0
    if not contact.reachable:
        waiting.delete()
        return 0
    # Guarded on channel_id="": a concurrent worker that completed the row first wins.
    return waiting.update(
        channel_id=contact.channel_id,
        recipient=contact.handle[:255],
        status=Post.Status.PENDING,
        next_attempt_at=None,
    )


def _text(request: AccessRequest, plan: NotificationPlan, event: str) -> str:
    if event == "posted":
        channels = Post.objects.filter(request=request, kind=Post.Kind.ROOT).count()
        return followup_render.requester_posted(request.pk, list(request.roles), channels)
    return _resolved_text(request, plan)
