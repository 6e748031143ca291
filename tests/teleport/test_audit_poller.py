"""The audit poller against the real Teleport simulator: paging, cursor, resume, faults."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from dashboard.correlation import AnomalyKind, find_anomalies
from simulators.teleport import API_DOMAIN, TeleportSimulator
from teleportbridge.audit_poller import AuditPoller, poll_audit_once
from teleportbridge.models import AuditCursor, AuditEvent
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.connection import Connection
from teleportbridge.teleport.proto import events_pb2
from tests.clock import T0, StepClock

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(teleport):
    teleport.clock = StepClock()
    return teleport


def connect(sim: TeleportSimulator) -> grpc.Channel:
    return grpc.secure_channel(
        sim.address,
        sim.pki.issue_client().channel_credentials(),
        options=[("grpc.ssl_target_name_override", API_DOMAIN)],
    )


class Recorder(grpc.UnaryUnaryClientInterceptor):
    """A real gRPC client interceptor that keeps each GetEventsRequest the poller sends."""

    def __init__(self) -> None:
        self.requests: list = []
        self.on_request = lambda n: None  # called with the 1-based number of each call

    def intercept_unary_unary(self, continuation, client_call_details, request):
        self.requests.append(request)
        self.on_request(len(self.requests))
        return continuation(client_call_details, request)


@pytest.fixture
def sent():
    return Recorder()


@pytest.fixture
def client(sim, sent):
    channel = connect(sim)
    yield TeleportClient(Connection(grpc.intercept_channel(channel, sent), path="direct"))
    channel.close()


def later(sim: TeleportSimulator) -> dt.datetime:
    """A poll time after every event emitted so far (EndDate is exclusive)."""
    return sim.clock.now + dt.timedelta(seconds=1)


def get_events_calls(sim: TeleportSimulator) -> int:
    return len(sim.calls_to("GetEvents"))


def test_stores_each_event_type_with_its_fields(sim, client):
    rid = sim.create_request(user="alice", roles=["prod-db"], reason="incident 7")
    sim.review(rid, "bob", "APPROVED", reason="ok")
    sim.emit_audit_event("access_request.update", rid, user="alice", state="APPROVED")
    sim.delete(rid, user="admin")
    sim.emit_audit_event("access_request.expire", "other")
    sim.emit_unknown_audit_event("access_request.search")  # not in our proto: skipped

    assert poll_audit_once(client, now=later(sim)) == 5

    review = AuditEvent.objects.get(event_type="access_request.review")
    assert (review.code, review.request_id, review.reviewer) == ("T5002I", rid, "bob")
    assert (review.proposed_state, review.state, review.reason) == ("APPROVED", "APPROVED", "ok")
    assert review.raw["Metadata"]["Code"] == "T5002I"
    create = AuditEvent.objects.get(event_type="access_request.create")
    assert (create.user, create.roles, create.reason) == ("alice", ["prod-db"], "incident 7")
    assert AuditEvent.objects.get(event_type="access_request.delete").user == "admin"
    assert AuditEvent.objects.get(event_type="access_request.expire").request_id == "other"


def test_sends_oldest_first_and_the_requested_types(sim, client, sent):
    now = later(sim)
    poll_audit_once(client, now=now, event_types=("access_request.review",))
    [request] = sent.requests
    assert request.Order == 0  # on the wire 0 = oldest first (ORDER QUIRK)
    assert list(request.EventTypes) == ["access_request.review"]
    assert request.Namespace == "default"
    assert request.EndDate.ToDatetime(tzinfo=dt.UTC) == now
    assert request.StartDate.ToDatetime(tzinfo=dt.UTC) == now - dt.timedelta(days=7)


def test_pages_are_chained_with_last_key(sim, client, sent):
    for i in range(5):
        sim.create_request(user=f"u{i}")
    poll_audit_once(client, now=later(sim), page_size=2)
    keys = [r.StartKey for r in sent.requests]
    assert keys[0] == "" and all(keys[1:]) and len(set(keys)) == 3
    assert {r.Limit for r in sent.requests} == {2}


def test_pages_through_everything_and_the_cursor_ends_on_the_newest(sim, client):
    ids = [sim.create_request(user=f"u{i}") for i in range(7)]
    now = later(sim)

    assert poll_audit_once(client, now=now, page_size=3) == 7

    assert get_events_calls(sim) == 3  # 3 + 3 + 1
    assert set(AuditEvent.objects.values_list("request_id", flat=True)) == set(ids)
    cursor = AuditCursor.objects.get(pk=1)
    newest = AuditEvent.objects.order_by("-time").first()
    assert cursor.last_time == newest.time
    assert cursor.last_ids_at_time == [newest.event_id]
    assert (cursor.events_stored, cursor.last_poll_at, cursor.last_error) == (7, now, "")


def test_an_exact_multiple_of_the_page_size_ends_with_an_empty_page(sim, client):
    for i in range(4):
        sim.create_request(user=f"u{i}")
    assert poll_audit_once(client, now=later(sim), page_size=2) == 4
    assert AuditEvent.objects.count() == 4


def test_resume_after_restart_reads_nothing_twice_and_skips_nothing(sim, client, pki):
    first = [sim.create_request(user=f"a{i}") for i in range(3)]
    assert poll_audit_once(client, now=later(sim), page_size=2) == 3

    # Auth restarts and, meanwhile, more happens: one event at exactly the cursor's time
    # (the inclusive start must not skip it) and two later ones.
    sim.stop()
    cursor_time = AuditCursor.objects.get(pk=1).last_time
    same_time = sim.emit_audit_event("access_request.update", first[0], time=cursor_time)
    sim.review(first[1], "bob", "APPROVED")
    sim.create_request(user="late")
    sim.start(port=sim.port)

    channel = connect(sim)  # a new process: a new channel, the cursor comes from the DB
    client2 = TeleportClient(Connection(channel, path="direct"))
    try:
        assert poll_audit_once(client2, now=later(sim), page_size=2) == 3
        assert poll_audit_once(client2, now=later(sim), page_size=2) == 0
    finally:
        channel.close()

    assert AuditEvent.objects.count() == 6
    assert AuditEvent.objects.filter(pk=same_time).exists()
    assert AuditCursor.objects.get(pk=1).events_stored == 6


def test_events_sharing_the_newest_timestamp_are_all_kept(sim, client):
    t = T0 + dt.timedelta(minutes=5)
    a = sim.emit_audit_event("access_request.review", "r1", reviewer="bob", time=t)
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=1)) == 1
    b = sim.emit_audit_event("access_request.review", "r2", reviewer="carol", time=t)
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=2)) == 1
    cursor = AuditCursor.objects.get(pk=1)
    assert cursor.last_time == t
    assert sorted(cursor.last_ids_at_time) == sorted([a, b])


def test_an_event_that_becomes_visible_late_is_still_read(sim, client):
    """Eventually consistent backends: an older event can appear after a newer one was read."""
    t = T0 + dt.timedelta(minutes=30)
    sim.emit_audit_event("access_request.review", "r1", reviewer="bob", time=t)
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=1)) == 1
    late = sim.emit_audit_event(
        "access_request.review", "r2", reviewer="carol", time=t - dt.timedelta(minutes=2)
    )
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=2)) == 1
    assert AuditEvent.objects.filter(pk=late).exists()
    assert AuditCursor.objects.get(pk=1).last_time == t  # never moves backwards
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=3)) == 0  # the window re-read


def test_an_event_without_a_time_neither_moves_the_cursor_nor_repeats(sim, client):
    """A time-less event is stored once (poll time shown) and does not push the cursor to
    the poll's wall clock, which would skip every event still to come before it."""
    t = T0 + dt.timedelta(minutes=30)
    sim.emit_audit_event("access_request.create", "r1", user="alice", time=t)
    timeless = events_pb2.OneOf()
    timeless.AccessRequestDelete.Metadata.Type = "access_request.delete"
    timeless.AccessRequestDelete.RequestID = "r1"
    sim.audit.add_item(timeless, "access_request.delete", t + dt.timedelta(seconds=1))
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=2)) == 2
    assert AuditCursor.objects.get(pk=1).last_time == t

    after = sim.emit_audit_event("access_request.review", "r1", reviewer="bob", time=t)
    assert poll_audit_once(client, now=t + dt.timedelta(seconds=3)) == 1
    assert AuditEvent.objects.filter(pk=after).exists()
    assert AuditEvent.objects.filter(event_type="access_request.delete").count() == 1


def test_first_poll_looks_back_seven_days_only(sim, client):
    now = T0 + dt.timedelta(days=10)
    sim.emit_audit_event("access_request.create", "ancient", time=now - dt.timedelta(days=8))
    sim.emit_audit_event("access_request.create", "recent", time=now - dt.timedelta(days=6))
    assert poll_audit_once(client, now=now) == 1
    assert list(AuditEvent.objects.values_list("request_id", flat=True)) == ["recent"]


def test_a_failure_is_recorded_in_one_line_and_keeps_the_cursor(sim, client):
    for i in range(3):
        sim.create_request(user=f"u{i}")
    assert poll_audit_once(client, now=later(sim)) == 3
    before = AuditCursor.objects.get(pk=1)

    sim.create_request(user="while-denied")
    sim.deny("list", "event")
    now = later(sim)
    assert poll_audit_once(client, now=now) == 0
    cursor = AuditCursor.objects.get(pk=1)
    assert cursor.last_error.startswith("GetEvents: permission denied")
    assert "\n" not in cursor.last_error
    assert (cursor.last_time, cursor.last_ids_at_time) == (
        before.last_time,
        before.last_ids_at_time,
    )
    assert cursor.last_poll_at == now

    sim.allow("list", "event")
    assert poll_audit_once(client, now=later(sim)) == 1
    assert AuditCursor.objects.get(pk=1).last_error == ""


def test_a_failure_on_a_later_page_keeps_the_pages_already_stored(sim, client, sent):
    for i in range(5):
        sim.create_request(user=f"u{i}")
    # Fault injected through the simulator right after the first page went out.
    sent.on_request = lambda n: n == 2 and sim.deny("list", "event")
    assert poll_audit_once(client, now=later(sim), page_size=2) == 2
    cursor = AuditCursor.objects.get(pk=1)
    assert "permission denied" in cursor.last_error
    assert cursor.last_time == AuditEvent.objects.order_by("-time").first().time

    sim.allow("list", "event")
    sent.on_request = lambda n: None
    assert poll_audit_once(client, now=later(sim), page_size=2) == 3
    assert AuditEvent.objects.count() == AuditCursor.objects.get(pk=1).events_stored == 5


def test_an_unreachable_server_is_an_error_not_an_exception(sim, client):
    sim.stop()
    assert poll_audit_once(client, now=later(sim), timeout=2) == 0
    assert "unreachable" in AuditCursor.objects.get(pk=1).last_error


def test_rereading_after_losing_the_cursor_stores_nothing_twice(sim, client):
    for i in range(3):
        sim.create_request(user=f"u{i}")
    assert poll_audit_once(client, now=later(sim)) == 3
    AuditCursor.objects.all().delete()
    assert poll_audit_once(client, now=later(sim)) == 0
    assert AuditEvent.objects.count() == 3


def test_polled_reviews_feed_the_correlation(sim, client):
    rid = sim.create_request(user="alice", roles=["prod-db"])
    sim.review(rid, "mallory", "APPROVED")
    poll_audit_once(client, now=later(sim))
    [anomaly] = find_anomalies(now=later(sim))
    assert (anomaly.kind, anomaly.request_id) == (AnomalyKind.REVIEW_WITHOUT_NOTIFICATION, rid)


@pytest.fixture
def real_time(sim):
    """AuditPoller polls up to the real now: events must be in the real past, not at T0."""
    sim.clock = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)


class Ticks:
    """A monotonic clock the test moves by hand (AuditPoller's `clock`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_role_without_event_read_is_said_once_and_asked_hourly(sim, real_time, client, caplog):
    sim.create_request(user="before-the-grant")
    sim.deny("list", "event")
    ticks = Ticks()
    poller = AuditPoller(denied_interval=3600, clock=ticks)
    # What the start-up probe finds with the preset access-plugin role.
    assert client.can_read_events() is False
    calls = get_events_calls(sim)
    poller.permission(granted=False)
    assert AuditCursor.objects.get(pk=1).permission_missing

    for _ in range(3):  # the loop's rounds within the hour ask nothing
        ticks.now += 30
        assert poller.step(client) is None
    assert get_events_calls(sim) == calls

    ticks.now += 3600  # still denied an hour later: asked once, still quiet
    assert poller.step(client) == 0
    assert get_events_calls(sim) == calls + 1
    ticks.now += 30
    assert poller.step(client) is None
    cursor = AuditCursor.objects.get(pk=1)
    assert (cursor.permission_missing, cursor.failed_polls) == (True, 1)
    # What the dashboard shows: the rule to add, not "the preset role has them".
    assert "Add the rule `event: [list, read]`" in cursor.last_error
    assert "has them" not in cursor.last_error

    sim.allow("list", "event")
    assert client.can_read_events() is True
    ticks.now += 3600
    assert poller.step(client) == 1
    ticks.now += 30
    assert poller.step(client) == 0  # every round again
    assert not AuditCursor.objects.get(pk=1).permission_missing
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "`event: [list, read]`" in warnings[0].getMessage()
    assert "The audit log is readable now" in caplog.text


def test_a_permission_lost_while_running_switches_to_hourly(sim, real_time, client, caplog):
    ticks = Ticks()
    poller = AuditPoller(denied_interval=3600, clock=ticks)
    poller.permission(granted=True)
    assert poller.step(client) == 0
    sim.deny("list", "event")
    ticks.now += 30
    assert poller.step(client) == 0
    assert poller.denied and AuditCursor.objects.get(pk=1).permission_missing
    calls = get_events_calls(sim)
    ticks.now += 30
    assert poller.step(client) is None
    assert get_events_calls(sim) == calls
    assert sum("event: [list, read]" in r.getMessage() for r in caplog.records) == 1
