"""Property: whatever text Teleport, requesters and reviewers put into the stored rows, and
whatever a visitor types into the query string, no dashboard page answers 500, no link
leads anywhere but a request's own page, and no CSV cell is a formula."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dashboard.queries import AUDIT_CSV_HEADER, FORMULA_PREFIXES
from dashboard.templatetags.dashboard_tags import is_linkable_id
from teleportbridge.models import AccessRequest, AuditEvent
from tests.factories import make_attempt, make_audit_event, make_post, make_request, make_user

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "../../admin/auth/user/",
    "a/b",
    "..",
    "=1+2",
    '=HYPERLINK("http://evil")',
    "@channel",
    "x @channel [a](http://evil)",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "%00",
    "\x00",
    "a\r\nb",
    "\u202eevil",
    "x" * 300,
]
# Any character UTF-8 can carry (controls and NUL included), or a known payload.
hostile = st.one_of(st.text(st.characters(codec="utf-8"), max_size=80), st.sampled_from(PAYLOADS))
LINK = re.compile(r'href="/requests/([^"]+)"')  # a request's page, not the list


def storable(value: str, max_length: int) -> str:
    """What the column can hold. PostgreSQL refuses NUL in text and JSON (ingest strips
    it); SQLite keeps it, so there the pages also render stored NULs."""
    if connection.vendor == "postgresql":
        value = value.replace("\x00", "")
    return value[:max_length]


@pytest.fixture
def auditor_client(client):
    client.force_login(make_user("auditor"))
    return client


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI does not flip
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request_id=hostile, text=hostile, other_id=hostile, query=hostile)
def test_no_page_answers_500_whatever_was_stored(auditor_client, request_id, text, other_id, query):
    AuditEvent.objects.all().delete()
    AccessRequest.objects.all().delete()  # posts, attempts and reviews go with it
    rid = storable(request_id, 64) or "-"
    req = make_request(
        id=rid,
        user=storable(text, 255),
        roles=[storable(text, 100), "ok"],
        reason=storable(text, 10_000),
        state="APPROVED",
    )
    post = make_post(req, status="failed", recipient=storable(text, 255))
    make_attempt(post, ok=False, error=storable(text, 1000))
    make_audit_event(rid, reviewer=storable(text, 255), reason=storable(text, 1000))
    make_audit_event(storable(other_id, 64), reviewer=storable(text, 255))

    pages = [
        (reverse("dashboard:overview"), {}),
        (reverse("dashboard:requests"), {}),
        (reverse("dashboard:requests"), {"q": query, "state": query, "from": query}),
        (reverse("dashboard:audit"), {}),
        (reverse("dashboard:audit"), {"q": query, "status": query}),
        (reverse("dashboard:health"), {}),
    ]
    for url, params in pages:
        response = auditor_client.get(url, params)
        assert response.status_code == 200, (url, params)
        for link in LINK.findall(response.content.decode()):
            assert is_linkable_id(link.removesuffix("/")), link

    detail = auditor_client.get("/requests/" + quote(rid, safe="") + "/")
    assert detail.status_code in (200, 404)
    if is_linkable_id(rid):
        assert auditor_client.get(reverse("dashboard:request", args=[rid])).status_code == 200

    response = auditor_client.get(reverse("dashboard:audit_csv"), {"q": query})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == AUDIT_CSV_HEADER
    for row in rows[1:]:
        assert len(row) == len(AUDIT_CSV_HEADER)
        assert not any(cell.startswith(FORMULA_PREFIXES) for cell in row), row
