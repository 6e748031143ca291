"""The endpoint Mattermost POSTs button clicks to (web process only; see bridge/urls.py).

404 while the feature is off or misconfigured. Otherwise always HTTP 200 with an
`ephemeral_text` only: Mattermost shows "Action failed to execute" for anything else, and an
`update` would race the reconcile that owns the post. CSRF-exempt because Mattermost's
server cannot hold a CSRF token; the signed context is the proof instead.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from common.client_address import client_ip
from notifications.chatreview import config as review_config

MAX_BODY = 16 * 1024  # click.MAX_BODY: a callback body is a few hundred bytes


def _source_ip(request: HttpRequest) -> str:
    return client_ip(request) or ""


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
