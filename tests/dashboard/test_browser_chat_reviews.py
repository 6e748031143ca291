"""Reviews from Mattermost as an auditor and an admin see them: the click rows in the admin,
on the request's timeline, and Teleport's on-behalf reviews matched (or not) on the audit
page. Chromium via Playwright, like test_browser.py (run with `-m browser`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import ReviewAttempt, ReviewFeatureState
from tests.dashboard.test_browser import browser, log_in, page  # noqa: F401 (fixtures)
from tests.dashboard.test_browser import pytestmark as browser_marks
from tests.factories import make_audit_event, make_post, make_request, make_user

pytestmark = browser_marks


@pytest.fixture
def clicks(transactional_db):
    now = timezone.now()
    seen = now - timedelta(hours=1)
    req = make_request(id="5eed-chat", user="bob", roles=["prod"], first_seen_at=seen)
    make_post(req, sent_at=seen + timedelta(seconds=2), mattermost_id="mmroot1")
    ReviewAttempt.objects.create(
        at=seen + timedelta(minutes=5),
        request_id=req.pk,
        action="approve",
        mm_user_id="u" * 26,
        mm_username="alice",
        teleport_user="alice",
        mapping_method="trait",
        grpc_code="OK",
        outcome=ReviewAttempt.Outcome.SUBMITTED,
        latency_ms=42,
    )
    ReviewAttempt.objects.create(
        at=seen + timedelta(minutes=6),
        request_id=req.pk,
        mm_username="mallory",
        failed_check="signature",
        outcome=ReviewAttempt.Outcome.REFUSED,
    )
    make_audit_event(
        req.pk,
        reviewer="alice",
        submitted_by="bot-mattermost",
        time=seen + timedelta(minutes=5, seconds=1),
    )
    make_audit_event(
        req.pk, reviewer="carol", submitted_by="bot-mattermost", time=seen + timedelta(minutes=9)
    )
    ReviewFeatureState.get()
    make_user("auditor")
    make_user("root", auditor=False, is_staff=True, is_superuser=True)


def test_clicks_on_timeline_audit_and_admin(page, clicks):  # noqa: F811
    log_in(page)
    page.goto("/requests/5eed-chat/")
    steps = page.locator("ol.timeline > li .what > strong").all_inner_texts()
    assert "Mattermost approve by @alice: submitted" in steps
    assert "Mattermost click by @mallory: refused" in steps
    anomalies = page.locator("body").inner_text()
    assert "submitted a review (APPROVED) as carol with no matching click" in anomalies

    page.goto("/audit/")
    marks = {
        row.locator("td").nth(2).inner_text(): row.locator("td").nth(3).inner_text()
        for row in page.locator("tbody tr").all()
    }
    assert marks == {
        "alice": "bot-mattermost Mattermost click",
        "carol": "bot-mattermost no click",
    }
    page.get_by_role("button", name="Logout").click()

    log_in(page, "root")
    page.goto("/admin/notifications/reviewattempt/")
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert any("alice" in r and "Submitted" in r for r in rows)
    assert any("mallory" in r and "signature" in r for r in rows)
    assert page.locator('a[href$="/reviewattempt/add/"]').count() == 0  # read-only
    page.goto("/admin/notifications/reviewfeaturestate/")
    assert "skip the reviewer's MFA and Device Trust" in page.locator("#result_list").inner_text()
