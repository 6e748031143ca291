"""The address of the client behind an HTTP request, as far as it can be trusted.

Shared by the login throttling (dashboard.security) and the Approve/Deny click endpoint
(notifications.chatreview): both count per address, so both must read it the same way.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, unless TRUSTED_PROXY is on: then the last X-Forwarded-For entry, the
    address the proxy itself saw (a proxy appends it; what comes before it is whatever
    the client sent). Without TRUSTED_PROXY the header is ignored, or a client could
    make each request come from a new address. Anything that is not an IP address is
    None: django-axes stores the value in an inet column.
    """
    candidates = [request.META.get("REMOTE_ADDR", "")]
    if settings.TRUSTED_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        candidates.insert(0, forwarded.rsplit(",", 1)[-1].strip())
    for value in candidates:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return None
