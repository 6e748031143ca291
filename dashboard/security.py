"""Web hardening of our own, for every page (dashboard and admin alike).

* `NulPathMiddleware`: a URL path with a NUL character is 404.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse


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
