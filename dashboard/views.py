"""Dashboard pages: read-only, login required, for users with the auditor permission.

Access rule (one place, `auditor_required`): the user must be logged in and hold
`teleportbridge.view_accessrequest`. Superusers have it; the `auditor` group created by
`manage.py createauditor` (or by hand in the admin) grants it together with the other
view permissions. A logged-in user without it gets 403, an anonymous one the login page.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dashboard import queries
from dashboard.correlation import ReviewStatus
from dashboard.facts import facts_for
from notifications.models import ReviewFeatureState
from teleportbridge.models import RequestState

AUDITOR_PERMISSION = "teleportbridge.view_accessrequest"
PAGE_SIZE = 50


def auditor_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Login first (redirect), then the permission (403): the order matters for anonymous
    visitors, who must land on the login page rather than a bare 403."""
    return login_required(
        permission_required(AUDITOR_PERMISSION, raise_exception=True)(require_safe(view))
    )


def _param(request: HttpRequest, name: str) -> str:
    """A query parameter without NUL characters: PostgreSQL refuses NUL in a query (the
    page would answer 500) and stores no text containing one, so a search with the NUL
    removed is the ordinary search the visitor can get."""
    return request.GET.get(name, "").replace("\x00", "")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@auditor_required
def overview(request: HttpRequest) -> HttpResponse:
    rejected_total, rejected = queries.recent_rejections(5)
    ctx = {
        "o": queries.overview(),
        "nav": "overview",
        "audit_permission_missing": queries.audit_permission_missing(),
        "rejected_total": rejected_total,
        "rejected": rejected,
        "review_blocked": ReviewFeatureState.blocked(),
    }
    return render(request, "dashboard/overview.html", ctx)


@auditor_required
def request_list(request: HttpRequest) -> HttpResponse:
    g = request.GET
    q, state = _param(request, "q").strip(), _param(request, "state")
    notification = _param(request, "notification")
    found = queries.search_requests(
        q=q,
        state=state,
        notification=notification,
        created_from=_date(_param(request, "from")),
        created_to=_date(_param(request, "to")),
    )
    page = Paginator(found, PAGE_SIZE).get_page(g.get("page"))
    for row in page:
        cast(Any, row).facts = facts_for(row)  # for the template; the model has no such field
    params = g.copy()
    params.pop("page", None)
    ctx = {
        "nav": "requests",
        "page": page,
        "f": {
            "q": q,
            "state": state,
            "notification": notification,
            "from": _param(request, "from"),
            "to": _param(request, "to"),
        },
        "states": [s for s in RequestState if s.value != "NONE"],
        "notification_choices": [
            ("sent", "Root post sent"),
            ("not_sent", "No root post sent"),
            ("failed", "Has failed posts"),
        ],
        "query_string": params.urlencode(),
    }
    return render(request, "dashboard/requests.html", ctx)


@auditor_required
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    detail = queries.request_detail(request_id)  # NUL never gets here: NulCharacterMiddleware
    if detail is None:
        raise Http404("No such access request")
    return render(request, "dashboard/request_detail.html", {"d": detail, "nav": "requests"})


def _audit_filters(request: HttpRequest) -> dict[str, str]:
    return {"status": _param(request, "status"), "q": _param(request, "q").strip()}


@auditor_required
def audit(request: HttpRequest) -> HttpResponse:
    filters = _audit_filters(request)
    rows = queries.audit_reviews(**filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "nav": "audit",
        "page": page,
        "f": filters,
        "statuses": list(ReviewStatus),
        "query_string": params.urlencode(),
        "total": len(rows),
        "audit_permission_missing": queries.audit_permission_missing(),
    }
    return render(request, "dashboard/audit.html", ctx)


class _Echo:
    def write(self, value: str) -> str:
        return value


@auditor_required
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The audit page's rows (same filters, no paging) as CSV for a spreadsheet or a SIEM."""
    rows = queries.audit_csv_rows(queries.audit_reviews(**_audit_filters(request)))
    writer = csv.writer(_Echo())
    lines = (writer.writerow(r) for r in [queries.AUDIT_CSV_HEADER, *rows])
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access-request-reviews.csv"'
    return response


@auditor_required
def health(request: HttpRequest) -> HttpResponse:
    h = queries.health()
    rejected_total, rejected = queries.recent_rejections(10)
    ctx = {
        "h": h,
        "nav": "health",
        "audit_permission_missing": h.numbers.audit_permission_missing,
        "rejected_total": rejected_total,
        "rejected": rejected,
        "review_blocked": h.chat.blocked if h.chat else "",
    }
    return render(request, "dashboard/health.html", ctx)
