"""Requested resources (RequestedResourceIDs) as the Go plugins name them, with their labels.

Upstream (accessrequest.GetResourceDetails) looks up nodes, apps and user groups with
ListResources, using the plugin's search-as and preview-as roles, and names each resource
`kind/FriendlyName` when Teleport has a friendly name (a node's hostname, an Okta resource's
description), else `/cluster/kind/name[/sub]`. These names go to plugin data `resources` and,
with `[mattermost] show_resources`, into the root post. The labels found feed the rule
variables resource_labels_union/intersection.

Differences, on purpose: a refusal (the plugin's role lacks `<kind>: [list, read]`, the seed's
troubleshooting case) does not fail the request as it does upstream: it is logged once naming
the missing rule, the path form is used, and the request is still posted. Only nodes and user
groups are looked up here (the proto subset declares those members of ListResources' answer);
apps, databases and Kubernetes clusters keep their path form and have no labels.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping

from notifications import runtime
from teleportbridge.models import AccessRequest
from teleportbridge.teleport.errors import PermissionDenied, TeleportError

log = logging.getLogger(__name__)

LOOKED_UP_KINDS = ("node", "user_group")

# Refusals already logged by this process, by kind: "named once", not once per request.
_denied_logged: set[str] = set()
_denied_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class RequestedResources:
    names: list[str]  # one per requested resource, in request order
    labels: tuple[Mapping[str, str], ...]  # labels of every resource found
    error: str = ""  # why some could not be looked up ("" when all went well)


def _split(path: str) -> tuple[str, str, str, str] | None:
    parts = path.split("/")
    if len(parts) < 4 or parts[0] != "":
        return None
    return parts[1], parts[2], parts[3], "/".join(parts[4:])


def resolve(request: AccessRequest) -> RequestedResources:
    """Friendly names and labels for a request's resources; never raises."""
    paths = list(request.resources)
    if not paths:
        return RequestedResources([], ())
    wanted: dict[str, set[str]] = {}
    for path in paths:
        parsed = _split(path)
        if parsed and parsed[1] in LOOKED_UP_KINDS:
            wanted.setdefault(parsed[1], set()).add(parsed[2])
    found: dict[tuple[str, str], tuple[str, Mapping[str, str]]] = {}
    errors: list[str] = []
    client = runtime.teleport() if wanted else None
    for kind, kind_names in sorted(wanted.items()):
        if client is None:
            break
        try:
            for info in client.list_resources_by_name(kind, sorted(kind_names)):
                found[(kind, info.name)] = (info.friendly_name, info.labels)
        except PermissionDenied as exc:
            errors.append(str(exc))
            with _denied_lock:
                first = kind not in _denied_logged
                _denied_logged.add(kind)
            if first:
                log.warning(
                    "Cannot look up requested %s resources (their names stay in path form; "
                    "the request is still posted). Grant the plugin's role `%s: [list, read]`: %s",
                    kind,
                    kind,
                    exc,
                )
        except TeleportError as exc:
            errors.append(str(exc))
            log.warning("Cannot look up requested %s resources: %s", kind, exc)
    names = []
    for path in paths:
        parsed = _split(path)
        hit = found.get((parsed[1], parsed[2])) if parsed else None
        if hit and hit[0] and parsed and not parsed[3]:
            names.append(f"{parsed[1]}/{hit[0]}")
        else:
            names.append(path)
    return RequestedResources(
        names, tuple(labels for _, labels in found.values()), "; ".join(errors)
    )
