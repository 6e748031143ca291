"""Plugin data interop with the official Go plugin (entry "mattermost" in Teleport).

Reading lets us adopt posts the Go plugin made (switching to us re-posts nothing);
writing keeps the entry exactly as the Go plugin would, so switching back works too.
Writes are compare-and-set: we send what we read as `expect`, and on a concurrent
change (FAILED_PRECONDITION) re-read and try again.
"""

from __future__ import annotations

import json
import logging

from notifications import plugindata, runtime
from notifications.models import NotificationPlan, Post
from teleportbridge.models import AccessRequest
from teleportbridge.models.requests import RESOLVED_STATES
from teleportbridge.teleport.errors import (
    CompareFailed,
    NotFound,
    PermissionDenied,
    TeleportError,
)

log = logging.getLogger(__name__)

CAS_TRIES = 5


def read(request_id: str) -> plugindata.PluginData | None:
    """The Go plugin's record of this request, or None (none, or Teleport unreachable)."""
    client = runtime.teleport()
    if client is None:
        return None
    try:
        data = client.get_plugin_data(request_id, plugindata.PLUGIN_NAME)
    except TeleportError as exc:
        if exc.transient:
            runtime.drop_teleport()
        log.warning("Could not read plugin data: %s", exc)
        return None
    return plugindata.decode(data) if data else None


def logins_by_role(request: AccessRequest) -> dict[str, list[str]]:
    """What approving would grant, per requested role (GetRole), as the Go plugin records it.

    Informational only, so it never holds up a notification: without role [read] the Go
    plugin warns and carries on, and so do we; a role deleted meanwhile is left out; an
    unreachable Teleport gives {} (the posts matter more than this detail).
    """
    client = runtime.teleport()
    if client is None:
        return {}
    found: dict[str, list[str]] = {}
    for role in request.roles:
        try:
            found[role] = client.get_role_logins(role)
        except PermissionDenied as exc:
            log.warning(
                "Missing permissions to get logins by role; add role [read] to the "
                "plugin's role: %s",
                exc,
            )
            return {}
        except NotFound:
            continue
        except TeleportError as exc:
            if exc.transient:
                runtime.drop_teleport()
            log.warning("Could not read logins by role: %s", exc)
            return {}
    return found


def desired(request: AccessRequest, plan: NotificationPlan) -> plugindata.PluginData | None:
    """What the Go plugin would have stored for this request, given our posts."""
    roots = list(
        Post.objects.filter(request=request, kind=Post.Kind.ROOT)
        .exclude(mattermost_id="")
        .order_by("created_at")
    )
    if not roots:
        return None
    replied = 0
    for review in request.reviews.order_by("position"):
        replies = Post.objects.filter(review=review, kind=Post.Kind.REPLY)
        if replies.exists() and not replies.exclude(status=Post.Status.SENT).exists():
            replied += 1
        else:
            break
    resolved = request.state in RESOLVED_STATES
    return plugindata.PluginData(
        user=request.user,
        roles=list(request.roles),
        resources=list(request.resources),
        request_reason=request.reason,
        reviews_count=replied,
        resolution=str(request.state) if resolved else "",
        resolve_reason=request.resolve_reason if resolved else "",
        max_duration=request.max_duration,
        system_annotations=dict(request.system_annotations),
        suggested_reviewers=list(request.suggested_reviewers),
        logins_by_role=dict(plan.logins_by_role),
        messages=[(p.channel_id, p.mattermost_id) for p in roots],
    )


def write(request: AccessRequest, plan: NotificationPlan) -> bool:
    """Bring the Teleport entry up to date (CAS); True when it is current."""
    pd = desired(request, plan)
    if pd is None:
        return True
    encoded = plugindata.encode(pd)
    fingerprint = json.dumps(encoded, sort_keys=True)
    if plan.plugin_data_written == fingerprint:
        return True
    client = runtime.teleport()
    if client is None:
        return False
    for _ in range(CAS_TRIES):
        try:
            current = client.get_plugin_data(request.pk, plugindata.PLUGIN_NAME)
            if current:
                # Keep keys the Go plugin wrote that we do not manage (e.g. logins_by_role).
                merged = {**encoded}
                for key, value in current.items():
                    if value and not encoded.get(key) and key not in plugindata.ALWAYS_KEYS:
                        merged[key] = value
                expect = dict(current)
                for key in merged:
                    expect.setdefault(key, "")
            else:
                merged, expect = encoded, plugindata.empty_expect()
            client.update_plugin_data(request.pk, plugindata.PLUGIN_NAME, merged, expect)
        except CompareFailed:
            continue  # someone (the Go plugin?) wrote meanwhile: re-read and merge again
        except TeleportError as exc:
            if exc.transient:
                runtime.drop_teleport()
            log.warning("Could not write plugin data: %s", exc)
            return False
        NotificationPlan.objects.filter(pk=plan.pk).update(plugin_data_written=fingerprint)
        plan.plugin_data_written = fingerprint
        return True
    log.warning("Plugin data kept changing under us; will try again on the next update")
    return False
