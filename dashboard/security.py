"""Web hardening of our own, for every page (dashboard and admin alike).

* `ContentSecurityPolicyMiddleware`: the Content-Security-Policy header on every response.
* `NulPathMiddleware`: a URL path with a NUL character is 404.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Send `settings.CONTENT_SECURITY_POLICY` unless a view set its own.

    The dashboard's templates have no inline script, no `style=` attribute and no event
    handler attribute, and Django's admin has none either, so the policy allows scripts,
    styles and images from this site only: markup injected through some future escaping
    bug could not run script or load anything from elsewhere. Keep it that way (the
    tests scan every template and load every page in Chromium watching for violations).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class NulPathMiddleware:
    """Answer 404 for a path containing NUL (`/requests/%00/`, `/admin/…/%00/change/`).

    No stored id can contain NUL on PostgreSQL, which also refuses NUL in a query: the
    lookup would raise and the page answer 500. With SQLite such an id could be stored
    today, but no page links to it (see `dashboard_tags.request_link`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise Http404("No such page")
        return self.get_response(request)
