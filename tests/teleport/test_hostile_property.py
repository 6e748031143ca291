"""Property: whatever Teleport sends, the next good request is still posted, nothing raises
out of the watcher or the audit poller, and no dashboard page answers 500.

Hypothesis generates access requests, reviews and audit events with hostile strings (NUL,
control characters, 100k characters, markdown and mention payloads, ids that are not
ids) and sends them through the real Teleport simulator, the real watcher (over mTLS) and
the real audit poller into this run's database, PostgreSQL or SQLite. After each batch a
good request is created; it must be stored and posted to Mattermost within seconds.
(Invalid UTF-8 is not generated: proto3 string fields cannot carry it, protobuf refuses to
encode or decode it, so the wire does not allow it.)
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.reconcile import reconcile_request
from teleportbridge.audit_poller import poll_audit_once
from teleportbridge.models import AccessRequest, AuditCursor, RejectedEvent
from teleportbridge.teleport.client import TeleportClient
from tests.clock import StepClock
from tests.factories import make_user
from tests.teleport.conftest import direct_connector
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    "\x00",
    "\x1b[31mred\x1b[0m",
    "line\nforged=1 request_id=admin",
    "@channel @all @here",
    "[click](http://evil.example) ![x](http://evil.example/x.png)",
    "`code` ```fence",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil")',
    "\u202eevil\u2066",
    "x" * 100_000,
]
hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.lists(st.sampled_from(PAYLOADS), max_size=3).map("".join),
)
ids = st.one_of(
    st.builds(lambda: str(uuid.uuid4())),
    st.sampled_from(
        ["a/b", "../../admin/auth/user/", "x @channel [a](http://evil)", "a\nb", "%00"]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=80),
)
requests = st.fixed_dictionaries(
    {
        "request_id": ids,
        "user": hostile_text,
        "roles": st.lists(hostile_text, min_size=1, max_size=4),
        "reason": hostile_text,
        "suggested_reviewers": st.lists(hostile_text, max_size=3),
        "review": st.none() | st.tuples(hostile_text, hostile_text),
        "audit": st.none() | st.tuples(ids, hostile_text, hostile_text),
    }
)

COUNTS = {"requests": 0, "reviews": 0, "audit_events": 0, "stored": 0, "rejected": 0}


def test_no_hostile_input_stops_the_pipeline(
    teleport, mattermost, plugin_config, run_watcher, identity_file, client
):
    teleport.clock = StepClock()
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set, message="INIT + resync")
    conn, _ = direct_connector(teleport.address, identity_file)()
    teleport_client = TeleportClient(conn)
    client.force_login(make_user("prop-auditor"))

    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(batch=st.lists(requests, min_size=1, max_size=3))
    def check(batch):
        for spec in batch:
            COUNTS["requests"] += 1
            rid = spec["request_id"]
            if rid in {r.Metadata.Name for r in teleport.requests}:
                continue
            teleport.create_request(
                request_id=rid,
                user=spec["user"],
                roles=spec["roles"],
                reason=spec["reason"],
                suggested_reviewers=spec["suggested_reviewers"],
            )
            if spec["review"]:
                COUNTS["reviews"] += 1
                author, why = spec["review"]
                teleport.review(rid, author or "r", "APPROVED", reason=why, auto_resolve=False)
            if spec["audit"]:
                COUNTS["audit_events"] += 1
                other, reviewer, why = spec["audit"]
                teleport.emit_audit_event(
                    "access_request.review", other, reviewer=reviewer, reason=why
                )
        good = teleport.create_request(user="sentinel", reason="a good request")
        wait_until(
            lambda: AccessRequest.objects.filter(pk=good).exists(),
            timeout=15,
            message="the good request after a hostile batch",
        )
        for request_id in AccessRequest.objects.values_list("pk", flat=True):
            reconcile_request(request_id)  # raises nothing, whatever the request holds
        assert any(good in p["message"] for p in mattermost.root_posts())
        poll_audit_once(teleport_client, now=teleport.clock.now + dt.timedelta(seconds=1))
        assert AuditCursor.objects.get(pk=1).last_error == ""
        for url in ["/", "/requests/", "/requests/?q=%00", "/audit/", "/audit.csv", "/health/"]:
            assert client.get(url).status_code == 200, url
        for request_id in AccessRequest.objects.values_list("pk", flat=True)[:20]:
            assert client.get(f"/requests/{request_id}/").status_code == 200

    try:
        check()
    finally:
        teleport_client.close()
    assert wt.watcher.connections == 1  # never a reconnect loop
    COUNTS["stored"] = AccessRequest.objects.exclude(user="sentinel").count()
    COUNTS["rejected"] = sum(RejectedEvent.objects.values_list("count", flat=True))
    print(f"\nhostile inputs: {COUNTS}")  # the counts for the issue note
