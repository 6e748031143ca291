"""The audit CSV export: every cell is text that no spreadsheet evaluates."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from dashboard.queries import AUDIT_CSV_HEADER
from tests.factories import make_audit_event, make_post, make_request, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client(client):
    client.force_login(make_user("auditor"))
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


FORMULAS = [
    "=1+2",
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\tx",
    "\rx",
    '=HYPERLINK("http://evil")',
    "\nx",
    "＝1+2",
]


@pytest.mark.parametrize("payload", FORMULAS)
def test_csv_neutralises_every_cell(auditor_client, payload):
    """Every column a person or Teleport can put text into: request id, reviewer, reason,
    proposed state, event id, user and roles."""
    req = make_request(id=payload + "r", user=payload + "u", roles=[payload + "role", "ok"])
    make_post(req)
    make_audit_event(
        req.pk,
        reviewer=payload + "rev",
        reason=payload + "why",
        proposed_state=payload[:16],  # the column's length
        event_id=payload + "ev",
    )
    (header, row) = csv_rows(auditor_client.get(reverse("dashboard:audit_csv")))
    assert header == AUDIT_CSV_HEADER
    cells = dict(zip(header, row, strict=True))
    for column, suffix in [
        ("request_id", "r"),
        ("request_user", "u"),
        ("reviewer", "rev"),
        ("reason", "why"),
        ("event_id", "ev"),
    ]:
        assert cells[column] == "'" + payload + suffix, column
    assert cells["proposed_state"] == "'" + payload[:16]
    assert cells["request_roles"] == "'" + payload + "role ok"
    for value in row:
        assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), row


def test_csv_keeps_ordinary_values_as_they_are(auditor_client):
    req = make_request(id="3f2a-uuid", user="alice", roles=["prod-db"])
    make_post(req)
    make_audit_event(req.pk, reviewer="bob", reason="it's fine", event_id="ev-1")
    (_, row) = csv_rows(auditor_client.get(reverse("dashboard:audit_csv")))
    cells = dict(zip(AUDIT_CSV_HEADER, row, strict=True))
    assert cells["request_id"] == "3f2a-uuid"
    assert cells["reason"] == "it's fine"
    assert cells["request_roles"] == "prod-db"
