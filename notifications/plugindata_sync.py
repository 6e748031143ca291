"""Plugin data I/O: read and write the Go plugin's entry "mattermost" in Teleport.

The byte format is plugindata_codec's; this module is the network side.

Reading lets us adopt posts the Go plugin made (switching to us re-posts nothing);
writing keeps the entry exactly as the Go plugin would, so switching back works too.
Writes are compare-and-set: we send what we read as `expect`, and on a concurrent
change (FAILED_PRECONDITION) re-read and try again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict

from notifications import plugindata_codec, runtime
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
KNOWN_MAX = 10_000

# The plugin data we last saw in Teleport, per request (raw map; {} = no entry), so that a
# write need not read first. Only a guess: every write is a compare-and-set, so a stale
# guess (another worker or the Go plugin wrote since) costs one CompareFailed and a
# re-read, never a lost update. Bounded LRU; the lock guards it against worker threads.
_known: OrderedDict[str, dict[str, str]] = OrderedDict()
_known_lock = threading.Lock()


def _remember(request_id: str, data: dict[str, str]) -> None:
    with _known_lock:
        _known[request_id] = dict(data)
        _known.move_to_end(request_id)
        while len(_known) > KNOWN_MAX:
            _known.popitem(last=False)


def _recall(request_id: str) -> dict[str, str] | None:
    with _known_lock:
        data = _known.get(request_id)
        return dict(data) if data is not None else None


def _forget(request_id: str) -> None:
    with _known_lock:
        _known.pop(request_id, None)


ROLE_TTL_SECONDS = 60.0
# Role -> (fetched at, logins or None for "no such role"): roles change rarely and a burst
# of requests for the same role would otherwise cost a GetRole each. A minute-old answer is
# fine for a record of what approval would grant. Guarded by _known_lock.
_roles: dict[str, tuple[float, list[str] | None]] = {}


def _role_logins(client, role: str) -> list[str] | None:
    """The role's logins, or None when Teleport has no such role (e.g. deleted since)."""
    now = time.monotonic()
    with _known_lock:
        hit = _roles.get(role)
    if hit is not None and now - hit[0] < ROLE_TTL_SECONDS:
        return None if hit[1] is None else list(hit[1])
    try:
        logins: list[str] | None = client.get_role_logins(role)
    except NotFound:
        logins = None
    with _known_lock:
        _roles[role] = (now, None if logins is None else list(logins))
    return logins


def forget_all() -> None:
    """Drop every cached guess (tests switch Teleport simulators between cases)."""
    with _known_lock:
        _known.clear()
        _roles.clear()


def _failed(exc: TeleportError, doing: str) -> None:
    """A Teleport call failed: a broken connection is dropped (the next call dials again),
    and the failure is one warning; the caller carries on without the data."""
    if exc.transient:
        runtime.drop_teleport()
    log.warning("Could not %s: %s", doing, exc)


def _merge(encoded: dict[str, str], current: dict[str, str]) -> tuple[dict, dict]:
    """(set, expect) for a CAS from `current` to our encoding."""
    if not current:
        return encoded, plugindata_codec.empty_expect()
    # Keep keys the Go plugin wrote that we do not manage (e.g. logins_by_role).
    merged = {**encoded}
    for key, value in current.items():
        if value and not encoded.get(key) and key not in plugindata_codec.ALWAYS_KEYS:
            merged[key] = value
    expect = dict(current)
    for key in merged:
        expect.setdefault(key, "")
    return merged, expect


def read(request_id: str) -> plugindata_codec.PluginData | None:
    """The Go plugin's record of this request, or None (none, or Teleport unreachable)."""
    client = runtime.teleport()
    if client is None:
        return None
    try:
        data = client.get_plugin_data(request_id, plugindata_codec.PLUGIN_NAME)
    except TeleportError as exc:
        _failed(exc, "read plugin data")
        return None
    _remember(request_id, data or {})
    return plugindata_codec.decode(data) if data else None


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
            logins = _role_logins(client, role)
        except PermissionDenied as exc:
            log.warning(
                "Missing permissions to get logins by role; add role [read] to the "
                "plugin's role: %s",
                exc,
            )
            return {}
        except TeleportError as exc:
            _failed(exc, "read logins by role")
            return {}
        if logins is not None:
            found[role] = logins
    return found


PostRow = tuple[str, str, str, int | None, str]  # kind, channel, mattermost id, review, status


def post_rows(request_ids: list[str]) -> dict[str, list[PostRow]]:
    """What desired() needs of the posts of several requests, in one read, oldest first."""
    out: dict[str, list[PostRow]] = {rid: [] for rid in request_ids}
    rows = (
        Post.objects.filter(request_id__in=request_ids)
        .order_by("created_at", "pk")
        .values_list("request_id", "kind", "channel_id", "mattermost_id", "review_id", "status")
    )
    for request_id, kind, channel_id, mattermost_id, review_id, status in rows:
        out[request_id].append((kind, channel_id, mattermost_id, review_id, status))
    return out


def desired(
    request: AccessRequest, plan: NotificationPlan, rows: list[PostRow] | None = None
) -> plugindata_codec.PluginData | None:
    """What the Go plugin would have stored for this request, given our posts.

    `rows`: the request's posts as post_rows() read them for a group, after the group's
    delivery results were written; else read here.
    """
    # One read of the request's posts, fresh (another worker may have delivered some
    # since ours were loaded), instead of two queries per review; tuples, not models.
    if rows is None:
        rows = post_rows([request.pk])[request.pk]
    roots = [(c, m) for k, c, m, _, _ in rows if k == Post.Kind.ROOT and m]
    if not roots:
        return None
    unsent: dict[int, bool] = {}  # review id -> any of its replies not sent yet
    for kind, _, _, review_id, status in rows:
        if kind == Post.Kind.REPLY and review_id is not None:
            unsent[review_id] = unsent.get(review_id, False) or status != Post.Status.SENT
    replied = 0
    if unsent:  # no reply rows: no review counts as replied, no need to list them
        for review_id in request.reviews.order_by("position").values_list("pk", flat=True):
            if review_id in unsent and not unsent[review_id]:
                replied += 1
            else:
                break
    resolved = request.state in RESOLVED_STATES
    return plugindata_codec.PluginData(
        user=request.user,
        roles=list(request.roles),
        # Friendly names as the Go plugin writes them (resolved when planned).
        resources=list(plan.resources) or list(request.resources),
        request_reason=request.reason,
        reviews_count=replied,
        resolution=str(request.state) if resolved else "",
        resolve_reason=request.resolve_reason if resolved else "",
        max_duration=request.max_duration,
        system_annotations=dict(request.system_annotations),
        suggested_reviewers=list(request.suggested_reviewers),
        logins_by_role=dict(plan.logins_by_role),
        messages=[plugindata_codec.Message(c, m) for c, m in roots],
    )


def write(
    request: AccessRequest,
    plan: NotificationPlan,
    *,
    written: list[NotificationPlan] | None = None,
    rows: list[PostRow] | None = None,
) -> bool:
    """Bring the Teleport entry up to date (CAS); True when it is current.

    The plan remembers what was written (`plugin_data_written`, so the next reconcile
    skips an unchanged entry): at once, or, given `written`, by adding the plan to it for
    the caller to save with others (record_written).
    """
    pd = desired(request, plan, rows)
    if pd is None:
        return True
    encoded = plugindata_codec.encode(pd)
    fingerprint = json.dumps(encoded, sort_keys=True)
    if plan.plugin_data_written == fingerprint:
        return True
    client = runtime.teleport()
    if client is None:
        return False
    guess = _recall(request.pk)
    for _ in range(CAS_TRIES):
        try:
            if guess is not None:
                current, guess = guess, None
            else:
                current = client.get_plugin_data(request.pk, plugindata_codec.PLUGIN_NAME) or {}
            merged, expect = _merge(encoded, current)
            client.update_plugin_data(request.pk, plugindata_codec.PLUGIN_NAME, merged, expect)
        except CompareFailed:
            # Someone (another worker, the Go plugin) wrote meanwhile: re-read and merge.
            _forget(request.pk)
            continue
        except TeleportError as exc:
            _forget(request.pk)
            _failed(exc, "write plugin data")
            return False
        # What Teleport now holds: our set applied to what it had ("" deletes a key).
        _remember(request.pk, {k: v for k, v in {**current, **merged}.items() if v})
        plan.plugin_data_written = fingerprint
        if written is None:
            NotificationPlan.objects.filter(pk=plan.pk).update(plugin_data_written=fingerprint)
        else:
            written.append(plan)
        return True
    log.warning("Plugin data kept changing under us; will try again on the next update")
    return False


def record_written(plans: list[NotificationPlan]) -> None:
    """Save the `plugin_data_written` of plans write() collected: one UPDATE for all.

    Only a shortcut is lost if this never happens (a crash): the next reconcile finds the
    fingerprint unchanged from before, writes the same entry to Teleport again (a CAS that
    changes nothing) and records it then."""
    if plans:
        NotificationPlan.objects.bulk_update(plans, ["plugin_data_written"])
