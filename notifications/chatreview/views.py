"""The endpoint Mattermost POSTs button clicks to (web process only; see bridge/urls.py).

404 while the feature is off or misconfigured. Otherwise always HTTP 200 with an
`ephemeral_text` only: Mattermost shows "Action failed to execute" for anything else, and an
`update` would race the reconcile that owns the post. CSRF-exempt because Mattermost's
server cannot hold a CSRF token; the signed context is the proof instead.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from notifications.chatreview import config as review_config

MAX_BODY = 16 * 1024  # click.MAX_BODY: a callback body is a few hundred bytes


def _source_ip(request: HttpRequest) -> str:
    candidates = [request.META.get("REMOTE_ADDR", "")]
    if settings.TRUSTED_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        candidates.insert(0, forwarded.rsplit(",", 1)[-1].strip())
    for value in candidates:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return ""


@csrf_exempt
def action(request: HttpRequest) -> HttpResponse:
    if review_config.get() is None:
        raise Http404
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    # Imported on first use: it brings gRPC and the clients, which every other page of
    # the web process (and its start-up) can do without.
    from notifications.chatreview import click

    text = click.handle(request.body[: MAX_BODY + 1], _source_ip(request))
    return JsonResponse({"ephemeral_text": text})
