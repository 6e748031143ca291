"""Correlation of audit events with requests and posts, and each anomaly kind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.correlation import (
    AnomalyKind,
    ReviewStatus,
    correlate_review_events,
    find_anomalies,
    review_anomalies,
)
from dashboard.facts import annotate_in_bulk, annotated_requests, facts_for, window_requests
from notifications.models import Post
from teleportbridge.models import AccessRequest, AuditEvent
from tests.factories import (
    T0,
    make_audit_event,
    make_plan,
    make_post,
    make_recipient,
    make_request,
    make_review,
)

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=2)


def kinds(request_id: str | None = None) -> list[str]:
    return sorted(
        a.kind for a in find_anomalies(now=NOW) if request_id is None or a.request_id == request_id
    )


def test_a_clean_history_has_no_anomaly_and_a_time_to_first_review():
    req = make_request(state="APPROVED")
    make_post(req, sent_at=T0 + timedelta(seconds=5))
    make_review(req, author="bob", at=T0 + timedelta(minutes=7))
    make_audit_event(req.pk, reviewer="bob", time=T0 + timedelta(minutes=7, seconds=1))

    assert kinds() == []
    facts = facts_for(annotated_requests().get(pk=req.pk))
    assert facts.time_to_first_review == timedelta(minutes=6, seconds=55)
    [c] = correlate_review_events(AuditEvent.objects.all())
    assert c.status == ReviewStatus.MATCHED
    assert c.review is not None and c.review.author == "bob"


def test_first_review_is_the_earliest_of_audit_event_and_review_row():
    req = make_request()
    make_post(req, sent_at=T0)
    make_review(req, at=T0 + timedelta(minutes=9))
    make_audit_event(req.pk, time=T0 + timedelta(minutes=4))
    facts = facts_for(annotated_requests().get(pk=req.pk))
    assert facts.time_to_first_review == timedelta(minutes=4)


def test_review_of_a_request_we_never_saw_is_flagged():
    make_audit_event("never-seen", reviewer="mallory")
    [a] = find_anomalies(now=NOW)
    assert a.kind == AnomalyKind.REVIEW_WITHOUT_NOTIFICATION
    assert a.request_id == "never-seen"
    assert "never saw" in a.detail
    [c] = correlate_review_events(AuditEvent.objects.all())
    assert c.status == ReviewStatus.UNKNOWN_REQUEST


def test_review_of_a_known_request_without_a_sent_root_post_is_flagged():
    req = make_request(state="APPROVED")
    make_post(req, status=Post.Status.PENDING)  # never sent
    make_post(req, status=Post.Status.SENT, kind=Post.Kind.TEST)  # not a root post
    make_review(req)
    make_audit_event(req.pk)
    assert AnomalyKind.REVIEW_WITHOUT_NOTIFICATION in kinds(req.pk)
    [c] = correlate_review_events(AuditEvent.objects.all())
    assert c.status == ReviewStatus.NOT_NOTIFIED


def test_notified_review_that_the_watcher_missed_is_not_an_anomaly_but_is_marked():
    req = make_request()
    make_post(req)
    make_audit_event(req.pk, reviewer="carol")
    [c] = correlate_review_events(AuditEvent.objects.all())
    assert c.status == ReviewStatus.NO_REVIEW_ROW
    assert kinds(req.pk) == []


def test_a_failed_post_is_a_failed_notification():
    req = make_request()
    make_post(req)  # one channel worked
    make_post(req, status=Post.Status.FAILED, last_error="channel not found")
    assert kinds(req.pk) == [AnomalyKind.NOTIFICATION_FAILED]


def test_no_post_within_the_deadline_is_a_failed_notification_when_someone_should_hear():
    late = make_request(id="late")
    make_post(late, sent_at=T0 + timedelta(minutes=30))
    never = make_request(id="never")
    make_post(never, status=Post.Status.RETRYING)
    assert kinds("late") == [AnomalyKind.NOTIFICATION_FAILED]
    assert kinds("never") == [AnomalyKind.NOTIFICATION_FAILED]


def test_no_post_and_no_recipient_is_not_a_failure(settings):
    make_request(id="nobody", roles=["dev"])
    make_recipient(role_pattern="prod-*")
    assert kinds("nobody") == []
    make_recipient("sec/all")  # empty pattern: every request
    assert kinds("nobody") == [AnomalyKind.NOTIFICATION_FAILED]


def test_a_recipient_added_after_the_deadline_did_not_have_to_hear():
    make_request(id="before", roles=["dev"])
    make_recipient("sec/all", created_at=T0 + timedelta(days=1))
    assert kinds("before") == []


def test_the_notification_plan_decides_who_had_to_hear():
    planned = make_request(id="planned", roles=["dev"])
    make_plan(planned)  # planned, but no post row was ever created
    skipped = make_request(id="skipped")
    make_plan(skipped, status="skipped", reason="no recipients for prod-db")
    make_recipient("sec/all")  # created later by an admin: the frozen plan wins
    assert kinds("planned") == [AnomalyKind.NOTIFICATION_FAILED]
    assert kinds("skipped") == []


def test_a_request_still_within_the_deadline_is_not_judged_yet():
    req = make_request(first_seen_at=NOW - timedelta(minutes=2))
    make_post(req, status=Post.Status.PENDING)
    assert kinds(req.pk) == []


def test_approval_without_any_review_is_flagged():
    silent = make_request(id="tctl", state="APPROVED", resolved_at=T0 + timedelta(hours=1))
    make_post(silent)
    reviewed = make_request(id="reviewed", state="DENIED")
    make_post(reviewed)
    make_audit_event("reviewed", proposed_state="DENIED")
    assert kinds("tctl") == [AnomalyKind.RESOLUTION_WITHOUT_REVIEW]
    assert kinds("reviewed") == []


def test_expired_or_pending_requests_need_no_review():
    for state in ("EXPIRED", "PENDING"):
        req = make_request(state=state)
        make_post(req)
        assert kinds(req.pk) == []


def test_a_review_after_the_threshold_is_late(settings):
    req = make_request(state="APPROVED")
    make_post(req, sent_at=T0)
    make_audit_event(req.pk, time=T0 + timedelta(hours=25))
    [a] = [a for a in find_anomalies(now=NOW) if a.request_id == req.pk]
    assert a.kind == AnomalyKind.LATE_REVIEW
    assert "1d 1h" in a.detail

    settings.AUDIT_LATE_REVIEW_SECONDS = 26 * 3600
    assert kinds(req.pk) == []


def test_find_anomalies_since_ignores_older_history():
    old = make_request(id="old", first_seen_at=T0 - timedelta(days=60))
    make_post(old, status=Post.Status.FAILED)
    make_audit_event("gone", time=T0 - timedelta(days=60))
    assert {a.request_id for a in find_anomalies(now=NOW)} == {"old", "gone"}
    assert find_anomalies(since=T0 - timedelta(days=30), now=NOW) == []


def test_annotations_do_not_multiply_counts():
    req = make_request()
    for _ in range(3):
        make_post(req)
    make_post(req, status=Post.Status.FAILED)
    make_review(req, author="a")
    make_review(req, author="b")
    for _ in range(2):
        make_audit_event(req.pk)
    r = annotated_requests().get(pk=req.pk)
    assert (r.root_posts, r.failed_posts, r.review_rows, r.review_events) == (4, 1, 2, 2)
    assert AccessRequest.objects.count() == 1


def test_bulk_facts_equal_the_per_row_subqueries():
    """annotate_in_bulk (overview, anomalies) must agree with annotated_requests (list,
    detail) on every fact, for every shape of history."""
    quiet = make_request(id="quiet")
    make_plan(quiet, status="skipped")
    busy = make_request(id="busy", state="APPROVED")
    make_plan(busy)
    make_post(busy, sent_at=T0 + timedelta(seconds=9))
    make_post(busy, sent_at=T0 + timedelta(seconds=3))
    make_post(busy, status=Post.Status.FAILED)
    make_post(busy, kind=Post.Kind.REPLY, sent_at=T0 + timedelta(seconds=1))
    make_review(busy, author="a", at=T0 + timedelta(minutes=5))
    make_review(busy, author="b", at=None)
    make_audit_event(busy.pk, time=T0 + timedelta(minutes=4))
    make_audit_event(busy.pk, event_type="access_request.create", time=T0)
    make_audit_event("elsewhere", time=T0)
    fields = [
        "plan_status",
        "notified_at",
        "root_posts",
        "failed_posts",
        "review_rows",
        "review_events",
        "first_review_row_at",
        "first_review_event_at",
    ]
    bulk = {r.pk: [getattr(r, f) for f in fields] for r in annotate_in_bulk(window_requests(None))}
    per_row = {r.pk: [getattr(r, f) for f in fields] for r in annotated_requests()}
    assert bulk == per_row
    assert bulk["busy"][1:6] == [T0 + timedelta(seconds=3), 3, 1, 2, 1]


def test_many_events_do_not_hit_sqlites_variable_limit():
    """Correlating a long audit history must not bind one SQL parameter per request ID
    (SQLite refuses more than SQLITE_LIMIT_VARIABLE_NUMBER: 250000 on Debian)."""
    import sqlite3

    from django.db import connection

    from dashboard.queries import audit_reviews, overview

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite limit")
    for i in range(60):
        make_audit_event(f"unknown-{i}", reviewer="mallory", time=NOW - timedelta(hours=1))
    connection.ensure_connection()
    raw = connection.connection
    old = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)
    try:
        assert len(audit_reviews()) == 60
        assert overview(now=NOW).anomaly_total == 60
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)


def test_review_anomalies_agree_with_the_audit_pages_statuses():
    notified = make_request(id="notified")
    make_post(notified)
    silent = make_request(id="silent")
    make_post(silent, status=Post.Status.FAILED)
    for rid in ("notified", "silent", "never-seen"):
        make_audit_event(rid, reviewer="r")
    flagged = {a.event_id for a in review_anomalies(AuditEvent.objects.all())}
    statuses = {
        c.event.event_id: c.status for c in correlate_review_events(AuditEvent.objects.all())
    }
    assert flagged == {e for e, status in statuses.items() if status.is_anomaly}
    assert len(flagged) == 2


def test_a_request_stored_while_the_overview_renders_does_not_break_it():
    """The watcher writes while the dashboard reads: a request (and its plan) committed
    between annotate_in_bulk's first query and its grouped ones must be skipped."""
    from django.db import connection

    make_request(id="old")
    inserted = []

    def insert_after_first_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not inserted and sql.lstrip().startswith("SELECT") and "accessrequest" in sql:
            inserted.append(True)
            make_plan(make_request(id="new"))
        return result

    with connection.execute_wrapper(insert_after_first_read):
        rows = annotate_in_bulk(window_requests(None))
    assert inserted and [r.pk for r in rows] == ["old"]


def test_a_review_logged_while_the_overview_renders_is_not_a_false_anomaly():
    """A notified request's review event stored mid-computation must not be reported as a
    review of a request we never saw."""
    from django.db import connection

    inserted, selects = [], []

    def store_notified_review(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().startswith("SELECT"):
            selects.append(sql)
        # After two of the three reads: any order that reads events last is caught.
        if not inserted and len(selects) == 2:
            inserted.append(True)
            req = make_request(id="fresh")
            make_post(req)
            make_audit_event("fresh", reviewer="bob")
        return result

    with connection.execute_wrapper(store_notified_review):
        found = review_anomalies(AuditEvent.objects.all())
    assert inserted and found == []
