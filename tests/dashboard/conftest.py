"""Fixtures for the dashboard tests: a live server for the browser."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings

from tests.web import PLAIN_HTTP


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
