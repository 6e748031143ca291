"""Login throttling (django-axes): per user name and per address, for the dashboard's and
the admin's login, through the real login pages and the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.dashboard.test_security import settings_in_a_fresh_process
from tests.factories import make_user

pytestmark = pytest.mark.django_db
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default


def attempt(client, username: str, password: str, url: str = "", **headers) -> int:
    """POST the login form; 302 = logged in, 200 = refused, 429 = locked out."""
    url = url or reverse("login")
    response = client.post(url, {"username": username, "password": password}, **headers)
    return response.status_code


def logged_in(client) -> bool:
    return client.get(reverse("dashboard:overview")).status_code == 200


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    """Users created here and the login checks use a cheap hasher: every test makes a
    handful of attempts, and the default PBKDF2 costs a quarter second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_defaults():
    assert settings.LOGIN_FAILURE_LIMIT == LIMIT
    assert settings.LOGIN_LOCKOUT_MINUTES == 15
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_wrong_passwords_lock_the_user_out_even_with_the_right_one(client):
    """The issue: 30 wrong passwords in 7 s, then the right one worked."""
    make_user("auditor")
    codes = [attempt(client, "auditor", f"guess-{i}") for i in range(LIMIT)]
    assert codes == [200] * (LIMIT - 1) + [429]
    response = client.post(reverse("login"), {"username": "auditor", "password": "pw-auditor"})
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body and "15 minutes" in body
    assert not logged_in(client)


def test_a_user_name_is_locked_whatever_the_address(client):
    make_user("auditor")
    for i in range(LIMIT):
        attempt(client, "auditor", "nope", REMOTE_ADDR=f"10.0.0.{i + 1}")
    assert attempt(client, "auditor", "pw-auditor", REMOTE_ADDR="10.0.9.9") == 429
    make_user("other")
    assert attempt(client, "other", "pw-other", REMOTE_ADDR="10.0.9.9") == 302


def test_an_address_is_locked_whatever_the_user_name(client):
    make_user("auditor")
    for i in range(LIMIT):
        attempt(client, f"user{i}", "nope", REMOTE_ADDR="10.0.0.1")
    assert attempt(client, "auditor", "pw-auditor", REMOTE_ADDR="10.0.0.1") == 429
    assert attempt(client, "auditor", "pw-auditor", REMOTE_ADDR="10.0.0.2") == 302


def test_the_admin_login_is_throttled_too(client):
    make_user("root", auditor=False, is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    for _ in range(LIMIT):
        attempt(client, "root", "nope", url=admin_login)
    assert attempt(client, "root", "pw-root", url=admin_login) == 429
    assert client.get(reverse("admin:index")).status_code == 302  # not logged in


def test_the_lock_ends_after_the_lockout_time(client):
    make_user("auditor")
    for _ in range(LIMIT):
        attempt(client, "auditor", "nope")
    assert attempt(client, "auditor", "pw-auditor") == 429
    # The last failure 16 minutes ago instead of now (no sleeping for 15 minutes).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt(client, "auditor", "pw-auditor") == 302
    assert logged_in(client)


def test_a_success_does_not_reset_the_address_count(client):
    """One valid account must not clear its address's failures between guesses."""
    make_user("auditor")
    make_user("mallory")
    for _ in range(LIMIT - 1):
        attempt(client, "auditor", "nope")
    assert attempt(client, "mallory", "pw-mallory") == 302
    client.post(reverse("logout"))
    assert attempt(client, "auditor", "nope") == 429


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(client):
    make_user("auditor")
    assert settings.TRUSTED_PROXY is False
    for i in range(LIMIT):
        attempt(client, f"user{i}", "nope", HTTP_X_FORWARDED_FOR=f"192.0.2.{i + 1}")
    assert attempt(client, "auditor", "pw-auditor", HTTP_X_FORWARDED_FOR="192.0.2.99") == 429


def test_behind_a_trusted_proxy_the_address_it_saw_counts(client, settings):
    """The proxy appends the address it saw: the last entry counts, whatever the client
    put before it, and the proxy's own address (REMOTE_ADDR) is not locked."""
    settings.TRUSTED_PROXY = True
    make_user("auditor")
    for i in range(LIMIT):
        spoofed = f"198.51.100.{i + 1}, 192.0.2.7"
        attempt(client, f"user{i}", "nope", HTTP_X_FORWARDED_FOR=spoofed)
    assert attempt(client, "auditor", "pw-auditor", HTTP_X_FORWARDED_FOR="192.0.2.7") == 429
    assert attempt(client, "auditor", "pw-auditor", HTTP_X_FORWARDED_FOR="192.0.2.8") == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.7"}


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_FOR": "not-an-address"},
        {"HTTP_X_FORWARDED_FOR": ""},
        {"HTTP_X_FORWARDED_FOR": "192.0.2.1,"},
    ],
)
def test_a_malformed_forwarded_address_falls_back_to_the_peer(client, settings, headers):
    settings.TRUSTED_PROXY = True
    assert attempt(client, "nobody", "nope", **headers) == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "username",
    ["x" * 300, "nul\x00name", "ä" * 151, "line\nbreak", ""],
    ids=["300-chars", "nul", "151-non-ascii", "newline", "empty"],
)
def test_hostile_user_names_are_refused_and_counted_not_500(client, username):
    codes = [attempt(client, username, "nope") for _ in range(LIMIT + 1)]
    assert set(codes) <= {200, 429}, codes
    assert not logged_in(client)


@pytest.mark.parametrize("name", ["LOGIN_FAILURE_LIMIT", "LOGIN_LOCKOUT_MINUTES"])
def test_a_limit_below_one_is_refused_at_start_up(name):
    done = settings_in_a_fresh_process("settings.AXES_FAILURE_LIMIT", **{name: "0"})
    assert done.returncode != 0
    assert f"environment variable {name} is invalid: 0 is below the minimum of 1" in done.stderr
