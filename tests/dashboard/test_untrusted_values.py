"""Values from outside (query strings, URL paths, ids and text stored from Teleport) never
make a dashboard page answer 500, link anywhere else, or run in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from dashboard.queries import AUDIT_CSV_HEADER
from tests.factories import make_audit_event, make_post, make_request, make_review, make_user

pytestmark = pytest.mark.django_db
UNSAFE_IDS = ["../../admin/auth/user/", "a/b", "x y", "q?x=1", "h#frag", "%2e%2e", ".."]


@pytest.fixture
def auditor_client(client):
    client.force_login(make_user("auditor"))
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("requests", {"q": "\x00"}),
        ("requests", {"q": "a\x00b", "state": "\x00", "notification": "\x00"}),
        ("requests", {"from": "\x00", "to": "2026-01-0\x00", "page": "\x00"}),
        ("audit", {"q": "\x00"}),
        ("audit", {"q": "bob\x00", "status": "\x00", "page": "\x00"}),
        ("audit_csv", {"q": "\x00", "status": "\x00"}),
    ],
)
def test_nul_in_the_query_string_is_an_ordinary_query(auditor_client, name, params):
    make_request(id="req-1", user="bob")
    make_audit_event("req-1", reviewer="bob")
    response = auditor_client.get(reverse(f"dashboard:{name}"), params)
    assert response.status_code == 200
    if name == "audit_csv":
        assert csv_rows(response)[0] == AUDIT_CSV_HEADER


def test_nul_in_the_request_path_is_404(auditor_client):
    make_request(id="req-1")
    assert auditor_client.get("/requests/%00/").status_code == 404
    assert auditor_client.get("/requests/req-1%00/").status_code == 404
    assert auditor_client.get("/requests/req-1/").status_code == 200


def test_nul_in_an_admin_path_is_404(client):
    make_request(id="req-1")
    client.force_login(make_user("root", auditor=False, is_staff=True, is_superuser=True))
    assert client.get("/admin/teleportbridge/accessrequest/%00/change/").status_code == 404
    assert client.get("/admin/teleportbridge/accessrequest/req-1/change/").status_code == 200


@pytest.mark.parametrize("bad_id", UNSAFE_IDS)
def test_unsafe_ids_are_shown_but_never_linked(auditor_client, bad_id):
    """Ids that do not fit a URL path segment (a `/`, a dot segment, a query or fragment
    delimiter) show as text on every page; the ordinary ids beside them stay links."""
    good = make_request(id="req-good", state="APPROVED")
    bad = make_request(id=bad_id, state="APPROVED")
    make_post(good, status="failed", last_error="boom")
    make_post(bad, status="failed", last_error="boom")
    for req in (good, bad):
        make_review(req)
        make_audit_event(req.pk, reviewer="bob")
    make_audit_event(bad_id + "-ghost", reviewer="mallory")  # a review we never saw

    for name in ("overview", "requests", "audit"):
        response = auditor_client.get(reverse(f"dashboard:{name}"))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'href="/requests/req-good/"' in body, name
        assert "/requests/" + bad_id not in body, name  # no link, escaped or not
        assert 'href="/admin/auth' not in body and 'href="../' not in body, name
        assert f"<code>{bad_id}</code>" in body, name
    rows = csv_rows(auditor_client.get(reverse("dashboard:audit_csv")))
    assert bad_id in {r[AUDIT_CSV_HEADER.index("request_id")] for r in rows}


def test_unsafe_ids_in_the_search_box_are_plain_text(auditor_client):
    make_request(id="a/b", user="zed")
    body = auditor_client.get(reverse("dashboard:requests"), {"q": "a/b"}).content.decode()
    assert "<code>a/b</code>" in body and "1 request" in body


@pytest.mark.parametrize("header", ["HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_ANYTHING"])
def test_nul_in_a_header_is_400(auditor_client, header):
    """HTTP forbids it; the login page used to store it (django-axes) and answer 500."""
    overview, login = reverse("dashboard:overview"), reverse("login")
    assert auditor_client.get(overview, **{header: "a\x00b"}).status_code == 400
    credentials = {"username": "auditor", "password": "nope"}
    assert auditor_client.post(login, credentials, **{header: "\x00"}).status_code == 400
    assert auditor_client.get(overview, **{header: "ab"}).status_code == 200


def test_an_audit_event_without_a_request_id_is_shown_not_linked(auditor_client):
    """AuditEvent.request_id may be blank: the overview's anomaly list could not link it."""
    make_audit_event("", reviewer="mallory")
    for name in ("overview", "audit"):
        response = auditor_client.get(reverse(f"dashboard:{name}"))
        assert response.status_code == 200, name
        assert 'href="/requests//"' not in response.content.decode()
