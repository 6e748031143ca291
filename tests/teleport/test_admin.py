"""Django admin for the Teleport side: every record is read-only and searchable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from teleportbridge.models import AccessRequest, AuditEvent
from tests.factories import (
    make_audit_event,
    make_post,
    make_request,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model",
    [
        "teleportbridge/accessrequest",
        "teleportbridge/auditevent",
        "teleportbridge/auditcursor",
        "teleportbridge/watcherstate",
        "teleportbridge/accessmonitoringrule",
        "teleportbridge/rejectedevent",
    ],
)
def test_every_changelist_renders(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200


def test_access_requests_search_by_id_user_and_role_and_filter_by_state(admin_client):
    make_request(id="aaa-1", user="alice", roles=["prod-db"], state="PENDING")
    make_request(id="bbb-2", user="bob", roles=["staging"], state="APPROVED")
    url = reverse("admin:teleportbridge_accessrequest_changelist")
    for params, present, absent in [
        ({"q": "aaa"}, "aaa-1", "bbb-2"),
        ({"q": "bob"}, "bbb-2", "aaa-1"),
        ({"q": "prod"}, "aaa-1", "bbb-2"),
        ({"state__exact": "APPROVED"}, "bbb-2", "aaa-1"),
    ]:
        body = admin_client.get(url, params).content.decode()
        assert present in body and absent not in body, params


def test_history_is_read_only(admin_client):
    req = make_request(id="ro-1")
    post = make_post(req)
    make_audit_event("ro-1", event_id="ev-1")
    assert admin_client.get(reverse("admin:notifications_post_add")).status_code == 403
    assert admin_client.get(reverse("admin:teleportbridge_auditevent_add")).status_code == 403
    change = admin_client.get(reverse("admin:notifications_post_change", args=[post.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    admin_client.post(reverse("admin:teleportbridge_accessrequest_change", args=["ro-1"]), {})
    delete = reverse("admin:teleportbridge_auditevent_delete", args=["ev-1"])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessRequest.objects.filter(pk="ro-1").exists()
    assert AuditEvent.objects.filter(pk="ev-1").exists()
