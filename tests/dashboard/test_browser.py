"""What a person sees: Chromium (the Debian package) driven by Playwright against a live
server. Run with `-m browser`; skipped with a reason when Chromium is not installed."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from notifications.models import Post
from tests.factories import (
    make_attempt,
    make_audit_event,
    make_post,
    make_request,
    make_review,
    make_user,
)

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} missing: apt-get install -y --no-install-recommends chromium",
    ),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # sync_playwright runs an asyncio loop in this thread; Django then refuses the test's
    # own (synchronous) DB calls unless told they are safe, which they are: only this
    # thread uses its connection, the live server has its own thread.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as pw:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def history(transactional_db):
    """A notified and reviewed request, one whose post failed, and a review from nowhere."""
    now = timezone.now()
    seen = now - timedelta(hours=3)
    ok = make_request(
        id="0f9e-approved",
        user="alice",
        roles=["prod-db"],
        reason="incident 42",
        first_seen_at=seen,
        state="APPROVED",
        resolved_at=now - timedelta(hours=2),
    )
    post = make_post(ok, sent_at=seen + timedelta(seconds=4), mattermost_id="mmpost123abc")
    make_attempt(post, ok=False, status_code=503, error="Service Unavailable", at=seen)
    make_attempt(post, ok=True, at=seen + timedelta(seconds=4))
    make_review(ok, author="bob", at=seen + timedelta(minutes=20), reason="go ahead")
    make_audit_event(ok.pk, reviewer="bob", time=seen + timedelta(minutes=20))
    broken = make_request(id="77aa-failed", user="carol", roles=["dev"], first_seen_at=seen)
    make_post(broken, status=Post.Status.FAILED, last_error="channel not found")
    make_audit_event("dead-beef-unknown", reviewer="mallory", time=now - timedelta(minutes=5))
    make_user("auditor")


def log_in(page, username: str = "auditor") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Log in").click()


def test_anonymous_visitor_is_sent_to_the_login_page(page):
    page.goto("/audit/")
    assert page.url.endswith("/accounts/login/?next=/audit/")
    assert page.get_by_role("heading", name="Log in").is_visible()


def test_a_wrong_password_is_refused(page, history):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password").fill("nope")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."


def test_auditor_reads_overview_timeline_and_audit(page, history):
    log_in(page)

    # Overview: counts, delivery rate, anomalies and the charts.
    assert page.get_by_role("heading", name="Overview", exact=True).is_visible()
    assert page.locator("#success-rate").inner_text() == "50.0%"
    anomalies = page.locator("tr.anomaly")
    assert anomalies.count() == 2
    kinds = anomalies.locator("td:nth-child(2)").all_inner_texts()
    assert sorted(kinds) == ["Notification failed", "Review without notification"]
    assert page.locator("svg.chart rect.bar").count() == 14
    assert page.get_by_text("channel not found").is_visible()

    # Requests list → the request's timeline.
    page.get_by_role("link", name="Requests").click()
    page.get_by_label("Search").fill("prod")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link", name="0f9e-approved").click()

    assert page.get_by_role("heading", name="Request 0f9e-approved").is_visible()
    assert page.locator("#ttr").inner_text() == "19m 56s"
    steps = page.locator("ol.timeline > li .what > strong").all_inner_texts()
    assert steps == [
        "Created by alice",
        "First seen by the bridge",
        "Root post to eng/access-requests — sent",
        "Review by bob: APPROVED",
        "Audit access_request.review (T5002I) by bob",
        "Resolved: APPROVED",
    ]
    assert page.locator(".post-id").inner_text() == "mmpost123abc"
    attempts = page.locator("table.attempts tbody tr").all_inner_texts()
    assert len(attempts) == 2 and "503" in attempts[0] and "ok 201" in attempts[1]
    created = page.locator("ol.timeline time").first.inner_text()
    assert created.endswith("UTC (3 hours ago)")

    # Audit page: correlation status per review event, and the CSV export link.
    page.get_by_role("link", name="Audit").click()
    statuses = {
        row.locator("td").nth(1).inner_text(): row.locator("td").nth(8).inner_text()
        for row in page.locator("tbody tr").all()
    }
    assert statuses == {"0f9e-approved": "matched", "dead-beef-unknown": "unknown_request"}
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("event_id,time_utc,code,request_id,reviewer")
    assert "dead-beef-unknown" in text

    # Health and logout.
    page.get_by_role("link", name="Health").click()
    assert page.locator("#watcher-status").inner_text() == "never started"
    page.get_by_role("button", name="Logout").click()
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_a_user_without_the_auditor_permission_gets_403(page, history):
    make_user("intern", auditor=False)
    log_in(page, "intern")
    response = page.goto("/")
    assert response is not None and response.status == 403


def test_no_page_breaks_the_content_security_policy(browser, live_server, history):
    """With JavaScript on (the admin's scripts run), no dashboard or admin page makes
    Chromium refuse anything; an injected inline script is refused, which shows both
    that the policy is in force and that a violation would be seen here."""
    from notifications.models import Recipient

    recipient = Recipient.objects.create(handle="eng/access-requests")
    make_user("root", auditor=False, is_staff=True, is_superuser=True)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, "root")
    paths = [
        "/",
        "/requests/",
        "/requests/0f9e-approved/",
        "/audit/",
        "/health/",
        "/admin/",
        "/admin/teleportbridge/accessrequest/",
        "/admin/teleportbridge/accessrequest/0f9e-approved/change/",
        "/admin/notifications/post/",
        "/admin/notifications/recipient/",
        "/admin/notifications/recipient/add/",
        f"/admin/notifications/recipient/{recipient.pk}/change/",
    ]
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # Console messages arrive in order: once this one is in, every earlier one is too.
    with page.expect_console_message(lambda m: m.text == "csp-check-done"):
        page.evaluate("console.log('csp-check-done')")
    assert refused == []

    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = 1'; document.body.append(s); }"
        )
    assert page.evaluate("window.injected") is None
    context.close()
