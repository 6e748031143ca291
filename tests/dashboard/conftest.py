"""Fixtures for dashboard, admin and audit-poller tests."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

# The settings module defaults to production-safe values (HTTPS redirect, Secure
# cookies) when DEBUG is off, which is how the suite runs; the test client and the live
# server speak plain HTTP.
PLAIN_HTTP = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "SECURE_HSTS_SECONDS": 0,
}


@pytest.fixture(autouse=True)
def _plain_http(settings):
    for key, value in PLAIN_HTTP.items():
        setattr(settings, key, value)


@pytest.fixture(scope="module")
def live_server(request, django_db_setup):
    """pytest-django's live server, but started here with plain-HTTP settings in force.

    SecurityMiddleware reads SECURE_SSL_REDIRECT once, when the server thread builds its
    handler, so the override must be active before the server starts (a per-test
    `settings` change would be too late). Module scope keeps the override local to the
    browser tests.
    """
    from pytest_django.live_server_helper import LiveServer

    with override_settings(**PLAIN_HTTP):
        server = LiveServer(request.config.getvalue("liveserver") or "localhost")
        yield server
        server.stop()
