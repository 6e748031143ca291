"""Web hardening of our own, for every page (dashboard and admin alike).

* `ContentSecurityPolicyMiddleware`: the Content-Security-Policy header on every response.
* `NulCharacterMiddleware`: NUL in the path is 404, in a header 400.
* Login throttling is django-axes (settings `AXES_*`); here are the three pieces it calls:
  the client address it counts (`client_ip`), the user name it counts
  (`login_username`) and the page a locked-out visitor gets (`locked_out`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from common import client_address

# django-axes stores the user name of every failed login in a varchar(255).
AXES_USERNAME_LENGTH = 255


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


class NulCharacterMiddleware:
    """A NUL character in the path is 404, in a header 400, on every page.

    PostgreSQL refuses NUL in a query and stores no text containing one, so a lookup
    with it (`/requests/%00/`, `/admin/…/%00/change/`) would raise and answer 500; as no
    such record can exist, 404 is the true answer. django-axes stores the User-Agent
    and Accept of every login: HTTP forbids NUL in a header (gunicorn refuses it too),
    so such a request is a bad one, not a login page failing with a database error.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise Http404("No such page")
        for name, value in request.META.items():
            if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                raise BadRequest("NUL character in a request header")
        return self.get_response(request)


def client_ip(request: HttpRequest) -> str | None:
    """The address login throttling counts failures for (AXES_CLIENT_IP_CALLABLE); the
    rule is common.client_address's, shared with the click endpoint."""
    return client_address.client_ip(request)


def login_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The user name login throttling counts failures for (AXES_USERNAME_CALLABLE).

    As typed, but without NUL and cut to the column django-axes stores it in: Django's
    login form has no length limit, and a 300-character name made the failure record
    (and so the login page) fail on PostgreSQL. Real user names are at most 150.
    """
    value = credentials.get("username") if credentials else request.POST.get("username")
    if value is None:
        return None
    return str(value).replace("\x00", "")[:AXES_USERNAME_LENGTH]


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """429 with the login page's look (AXES_LOCKOUT_CALLABLE): how long, and what to do."""
    context = {
        "failure_limit": settings.LOGIN_FAILURE_LIMIT,
        "minutes": settings.LOGIN_LOCKOUT_MINUTES,
    }
    return render(request, "registration/locked_out.html", context, status=429)
