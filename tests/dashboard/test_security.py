"""Web hardening: the Content-Security-Policy header and the markup it depends on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def settings_in_a_fresh_process(expression: str, **env: str) -> subprocess.CompletedProcess:
    """Evaluate `expression` against bridge.settings imported with exactly this environment
    (settings are read once, at import: the test process's own cannot show another)."""
    base = {k: v for k, v in os.environ.items() if k not in ("TRUSTED_PROXY", "DEBUG")}
    base.update({"DATABASE_URL": "sqlite://:memory:", "DJANGO_SETTINGS_MODULE": "bridge.settings"})
    code = f"from django.conf import settings; print(repr({expression}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "header"),
    [
        ({}, "None"),
        ({"TRUSTED_PROXY": "0"}, "None"),
        ({"TRUSTED_PROXY": "1"}, "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ({"TRUSTED_PROXY": "true"}, "('HTTP_X_FORWARDED_PROTO', 'https')"),
    ],
)
def test_x_forwarded_proto_is_trusted_only_with_trusted_proxy(env, header):
    done = settings_in_a_fresh_process("settings.SECURE_PROXY_SSL_HEADER", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == header


def test_a_client_cannot_skip_the_https_redirect(client, settings):
    """gunicorn exposed directly: a client's own X-Forwarded-Proto changes nothing."""
    settings.SECURE_SSL_REDIRECT = True
    assert settings.SECURE_PROXY_SSL_HEADER is None  # TRUSTED_PROXY is not set here
    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


def test_behind_a_trusted_proxy_its_https_is_believed(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # TRUSTED_PROXY=1
    assert client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="http").status_code == 301
