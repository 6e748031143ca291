"""The watcher against the real simulator over mTLS: INIT, resync, reconnect, idempotency."""

from __future__ import annotations

import contextlib

import pytest
from django.db import OperationalError, connection, transaction

from common.backoff import Backoff
from teleportbridge import sync
from teleportbridge.models import (
    AccessMonitoringRule,
    AccessRequest,
    RequestState,
    Review,
    WatcherState,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def stored(request_id: str) -> AccessRequest | None:
    return AccessRequest.objects.filter(pk=request_id).first()


def test_init_then_resync_of_existing_requests(teleport, run_watcher):
    before = teleport.create_request(user="alice", roles=["editor"], reason="deploy")
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set, message="INIT + resync")
    req = stored(before)
    assert req is not None and req.user == "alice" and req.roles == ["editor"]
    assert req.state == RequestState.PENDING and req.reason == "deploy"
    state = WatcherState.get()
    assert state.connected and state.cluster_name == "sim.example.com"
    # Watch asked for both kinds with partial success, like the plugin.
    kinds = [k.Kind for k in teleport.watch_requests[0].Kinds]
    assert kinds == ["access_request", "access_monitoring_rule"]
    assert teleport.watch_requests[0].AllowPartialSuccess


def test_live_events_reviews_resolution_and_delete(teleport, run_watcher):
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set)
    rid = teleport.create_request(user="bob", roles=["db"], suggested_reviewers=["c@x.io"])
    wait_until(lambda: stored(rid), message="PUT stored")
    teleport.review(rid, "carol", "APPROVED", reason="ok")
    wait_until(lambda: stored(rid).state == RequestState.APPROVED, message="approved")
    review = Review.objects.get(request_id=rid)
    assert (review.author, review.proposed_state, review.reason) == ("carol", "APPROVED", "ok")
    teleport.delete(rid)
    wait_until(lambda: stored(rid).deleted_at is not None, message="DELETE recorded")
    # Stamped for the health page (at most once a second, so not after every event).
    assert WatcherState.get().last_event_at is not None
    # Deleting a resolved request keeps its resolution; the row is kept.
    assert stored(rid).state == RequestState.APPROVED


def test_delete_of_pending_request_means_expired(teleport, run_watcher):
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set)
    rid = teleport.create_request()
    wait_until(lambda: stored(rid))
    teleport.delete(rid)
    wait_until(lambda: stored(rid).state == RequestState.EXPIRED)


def test_events_while_disconnected_are_resynced(teleport, run_watcher):
    pending = teleport.create_request(user="a")
    to_approve = teleport.create_request(user="b")
    to_delete = teleport.create_request(user="c")
    wt = run_watcher(backoff=Backoff(base=0.05, cap=0.2))
    wait_until(wt.watcher.ready.is_set)
    port = teleport.port
    teleport.stop()
    wait_until(lambda: not wt.watcher.ready.is_set(), message="disconnect noticed")
    # While we are away: new, approved and deleted requests (no events reach us).
    new = teleport.create_request(user="d")
    teleport.approve(to_approve, reason="fine")
    teleport.delete(to_delete)
    teleport.start(port)
    # The resync stores changes one by one; "ready" is set only once all of it is applied,
    # so wait for that rather than for any single row (a row-by-row wait raced the delete).
    wait_until(
        lambda: wt.watcher.connections >= 2 and wt.watcher.ready.is_set(),
        timeout=20,
        message="resync after reconnect",
    )
    assert stored(new) is not None
    assert stored(to_approve).state == RequestState.APPROVED
    assert stored(to_approve).resolve_reason == "fine"
    assert stored(to_delete).state == RequestState.EXPIRED
    assert stored(pending).state == RequestState.PENDING
    assert wt.watcher.connections >= 2


def test_reconnect_after_server_drops_stream(teleport, run_watcher):
    wt = run_watcher(backoff=Backoff(base=0.05, cap=0.2))
    wait_until(wt.watcher.ready.is_set)
    assert teleport.drop_streams() == 1
    wait_until(lambda: wt.watcher.connections >= 2 and wt.watcher.ready.is_set(), timeout=15)
    rid = teleport.create_request(user="after-drop")
    wait_until(lambda: stored(rid), message="events flow after reconnect")
    assert WatcherState.get().reconnects >= 1


def test_init_timeout_is_a_reconnect(teleport, run_watcher):
    teleport.pause_init = True
    wt = run_watcher(init_timeout=0.3, backoff=Backoff(base=0.05, cap=0.1))
    wait_until(lambda: "initialization timed out" in WatcherState.get().last_error, timeout=10)
    teleport.pause_init = False
    wait_until(wt.watcher.ready.is_set, timeout=15)


def test_access_monitoring_rules_loaded_and_followed(teleport, run_watcher):
    teleport.put_rule(
        "dba", recipients=["eng/dba"], condition='access_request.spec.roles.contains("db")'
    )
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set)
    assert AccessMonitoringRule.objects.get(name="dba").recipients == ["eng/dba"]
    teleport.put_rule("web", recipients=["eng/web"])
    wait_until(lambda: AccessMonitoringRule.objects.filter(name="web").exists())
    teleport.delete_rule("dba")
    wait_until(lambda: not AccessMonitoringRule.objects.filter(name="dba").exists())


def test_upsert_is_idempotent(teleport, changes):
    rid = teleport.create_request(user="idem", reason="x")
    teleport.review(rid, "rev", "DENIED", reason="no", auto_resolve=False)
    req = teleport.get_request(rid)
    assert sync.upsert_request(req, on_change=changes) is True
    first = AccessRequest.objects.get(pk=rid)
    # The same event twice changes nothing and reports nothing.
    assert sync.upsert_request(req, on_change=changes) is False
    again = AccessRequest.objects.get(pk=rid)
    assert again.last_event_at == first.last_event_at
    assert Review.objects.filter(request_id=rid).count() == 1
    assert sync.mark_deleted(rid, on_change=changes) is True
    assert sync.mark_deleted(rid, on_change=changes) is False
    # A stale PUT replayed after the DELETE does not resurrect the request.
    assert sync.upsert_request(req, on_change=changes) is False
    assert AccessRequest.objects.get(pk=rid).state == RequestState.EXPIRED
    assert changes == [(rid, "stored"), (rid, "deleted")]


def test_resolved_request_never_goes_back_to_pending(teleport, changes):
    rid = teleport.create_request()
    pending = teleport.get_request(rid)
    teleport.approve(rid)
    sync.upsert_request(teleport.get_request(rid), on_change=changes)
    sync.upsert_request(pending, on_change=changes)  # an older event arriving late
    assert AccessRequest.objects.get(pk=rid).state == RequestState.APPROVED


def test_malformed_events_are_skipped(teleport, changes):
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import Watcher

    w = Watcher(lambda: None, on_change=changes)
    w.handle(pb.Event(Type=pb.PUT))  # no resource at all
    w.handle(pb.Event(Type=pb.DELETE, ResourceHeader={"Kind": "access_request"}))  # no name
    w.handle(pb.Event(Type=7))  # unknown operation
    assert AccessRequest.objects.count() == 0
    assert changes == []


def test_last_event_at_is_written_at_most_once_a_second(teleport, changes):
    """A burst must not cost a WatcherState commit per event (health only needs recency)."""
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import EVENT_STAMP_INTERVAL, Watcher

    def never_connects():
        raise AssertionError("handle() must not dial")

    watcher = Watcher(never_connects, on_change=changes)
    events = [
        pb.Event(Type=pb.PUT, AccessRequest=teleport.get_request(teleport.create_request()))
        for _ in range(3)
    ]
    watcher.handle(events[0])
    first = WatcherState.get().last_event_at
    assert first is not None
    watcher.handle(events[1])
    assert WatcherState.get().last_event_at == first  # within the interval: no write
    watcher._stamped_at -= EVENT_STAMP_INTERVAL  # as if a second had passed
    watcher.handle(events[2])
    assert WatcherState.get().last_event_at > first


def test_a_large_resync_logs_its_progress(teleport, caplog):
    """`resync: 2/3 stored` lines (every 1,000 by default) during a long catch-up."""
    ids = [teleport.create_request(user=f"u{i}", roles=["editor"]) for i in range(3)]
    told: list[str] = []
    with caplog.at_level("INFO", logger="teleportbridge.sync"):
        changed, _ = sync.resync_requests(
            teleport.requests,
            on_change=lambda rid, *, why: told.append(rid),
            progress_every=2,
            chunk_size=1,
        )
    assert changed == 3 and sorted(told) == sorted(ids)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resync:")]
    assert lines == ["resync: 2/3 stored", "resync: 3/3 stored"]


class _Group:
    """The watcher's group_changes hook: records which changes each group received."""

    def __init__(self, changes) -> None:
        self.changes = changes
        self.groups: list[list] = []

    @contextlib.contextmanager
    def __call__(self):
        start = len(self.changes)
        yield
        self.groups.append(list(self.changes[start:]))


def test_events_taken_together_are_one_transaction_and_one_group(teleport):
    """A burst's waiting events cost one commit and one hand-off, not one per event."""
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import Watcher

    # (request id, the outermost transaction it was told in); the Atomic objects are kept,
    # so a later transaction cannot reuse a finished one's id.
    told: list[tuple[str, object]] = []

    def on_change(request_id: str, *, why: str) -> None:
        told.append((request_id, connection.atomic_blocks[0]))

    group = _Group(told)
    watcher = Watcher(lambda: None, on_change=on_change, group_changes=group)
    ids = [teleport.create_request(user=f"u{i}") for i in range(3)]
    watcher.handle_all([pb.Event(Type=pb.PUT, AccessRequest=teleport.get_request(r)) for r in ids])
    assert [rid for rid, _ in told] == ids
    assert all(outer is told[0][1] for _, outer in told)  # one transaction for the three
    assert group.groups == [told]  # and one group
    assert AccessRequest.objects.filter(pk__in=ids).count() == 3


def test_a_failing_batch_stores_nothing_and_hands_nothing_over(teleport, changes):
    """A database failure inside the batch rolls all of it back (the resync after the
    reconnect stores it again), and the group is never handed over."""
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import Watcher

    group = _Group(changes)
    watcher = Watcher(lambda: None, on_change=changes, group_changes=group)
    first, second = teleport.create_request(), teleport.create_request()
    teleport.review(second, author="bob", state="APPROVED")
    events = [pb.Event(Type=pb.PUT, AccessRequest=teleport.get_request(r)) for r in (first, second)]

    def refuse_reviews(execute, sql, params, many, context):
        # The second request's reviews: after the first request was stored in the batch.
        if "teleportbridge_review" in sql:
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_reviews), pytest.raises(OperationalError):
        watcher.handle_all(events)
    assert group.groups == [] and stored(first) is None and stored(second) is None


class _Stream:
    """Stands in for grpcio's response iterator: yields events, then ends or fails."""

    def __init__(self, events, error: Exception | None = None) -> None:
        self.events, self.error = events, error

    def __iter__(self):
        yield from self.events
        if self.error is not None:
            raise self.error


def test_the_pump_takes_what_is_waiting_in_batches_and_keeps_the_order():
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import _EventPump

    events = [pb.Event(Type=pb.PUT) for _ in range(150)]
    for i, event in enumerate(events):
        event.ResourceHeader.Metadata.Name = f"r{i}"
    batches = list(_EventPump(_Stream(events), limit=64).batches())
    assert all(1 <= len(b) <= 64 for b in batches)
    assert [e.ResourceHeader.Metadata.Name for b in batches for e in b] == [
        f"r{i}" for i in range(150)
    ]


def test_the_pump_delivers_the_events_before_a_stream_error_then_raises_it():
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import _EventPump

    class Broken(Exception):
        pass

    taken = []
    with pytest.raises(Broken):
        for batch in _EventPump(_Stream([pb.Event(Type=pb.PUT)] * 3, Broken())).batches():
            taken.extend(batch)
    assert len(taken) == 3


def test_the_pump_reader_ends_when_the_watcher_stops_taking(teleport):
    """The watcher leaves mid-stream (stop, an error) while the reader is blocked on a full
    read-ahead: the reader gives up instead of waiting for room forever."""
    from teleportbridge.teleport.proto import authservice_pb2 as pb
    from teleportbridge.watcher import READ_AHEAD, _EventPump

    pump = _EventPump(_Stream([pb.Event(Type=pb.PUT)] * (READ_AHEAD * 2)), limit=8)
    batches = pump.batches()
    assert len(next(batches)) == 8
    wait_until(pump._queue.full, message="the reader filled the read-ahead")
    batches.close()  # the watcher's loop ends: the generator is closed
    wait_until(lambda: not pump._thread.is_alive(), message="the reader thread ended")


def test_a_failed_rejection_record_leaves_the_batch_transaction_usable(teleport):
    """Review finding: RejectedEvent.record swallowed a database error without a savepoint;
    inside the watcher's batch transaction PostgreSQL then refused every later statement
    and the batch committed as a silent rollback. (SQLite does not abort a transaction on
    an error, so there this passes either way.)"""
    from teleportbridge.models import RejectedEvent

    def break_rejections(execute, sql, params, many, context):
        if "teleportbridge_rejectedevent" in sql:
            return execute("SELECT * FROM no_such_table", None, many, context)
        return execute(sql, params, many, context)

    rid = teleport.create_request()
    with transaction.atomic():
        with connection.execute_wrapper(break_rejections):
            RejectedEvent.record(RejectedEvent.Kind.ACCESS_REQUEST, "x", "a reason")
        sync.upsert_request(teleport.get_request(rid), on_change=lambda *a, **k: None)
    assert stored(rid) is not None
