"""Web hardening: the Content-Security-Policy header and the markup it depends on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from tests.factories import (
    make_attempt,
    make_audit_event,
    make_post,
    make_recipient,
    make_request,
    make_review,
    make_user,
)

pytestmark = pytest.mark.django_db

# Markup a strict policy (script-src/style-src 'self') blocks: inline script (a <script>
# without src that is not a JSON data block), <style> elements, style= attributes, event
# handler attributes and javascript: URLs.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
    r"|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:",
    re.IGNORECASE,
)


def directives(policy: str) -> dict[str, str]:
    parts = (part.strip().partition(" ") for part in policy.split(";"))
    return {name: value for name, _, value in parts}


def assert_strict_policy(response) -> None:
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "form-action"):
        assert policy[name] == "'self'", name
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"


@pytest.fixture
def history():
    req = make_request(id="req-1", user="alice", state="APPROVED")
    post = make_post(req)
    make_attempt(post, ok=False, status_code=503, error="Service Unavailable")
    make_review(req)
    make_audit_event("req-1", reviewer="bob")
    make_audit_event("ghost", reviewer="mallory")
    make_recipient("eng/access-requests")
    return req


def project_templates() -> list[Path]:
    root = Path(settings.BASE_DIR)
    found = [
        p
        for p in root.glob("*/templates/**/*.html")
        if not p.is_relative_to(root / ".venv") and "site-packages" not in p.parts
    ]
    assert len(found) >= 9  # the dashboard's pages, partials and the login page
    return found


def test_templates_have_no_markup_the_policy_would_block():
    for template in project_templates():
        found = INLINE.findall(template.read_text())
        assert not found, f"{template}: {found}"


def test_dashboard_pages_send_the_policy_and_render_no_inline_markup(client, history):
    client.force_login(make_user("auditor"))
    urls = [
        reverse("dashboard:overview"),
        reverse("dashboard:requests"),
        reverse("dashboard:request", args=["req-1"]),
        reverse("dashboard:audit"),
        reverse("dashboard:health"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response)
        assert not INLINE.findall(response.content.decode()), url
    assert_strict_policy(client.get(reverse("dashboard:audit_csv")))
    assert_strict_policy(client.get("/no-such-page/"))


def test_the_login_page_sends_the_policy(client):
    response = client.get(reverse("login"))
    assert_strict_policy(response)
    assert not INLINE.findall(response.content.decode())


def test_admin_pages_send_the_policy_and_render_no_inline_markup(client, history):
    """Every registered model's list, add and change pages: Django's admin has no inline
    script or style attribute (its constants travel in data- attributes and JSON blocks)."""
    client.force_login(make_user("root", auditor=False, is_staff=True, is_superuser=True))
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        obj = model._default_manager.first()
        if obj is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 403), url  # 403: add on a read-only model
        assert_strict_policy(response)
        assert not INLINE.findall(response.content.decode()), url
