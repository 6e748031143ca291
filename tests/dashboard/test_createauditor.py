"""`manage.py createauditor`: a read-only dashboard user, password from the environment."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_creates_a_user_who_can_read_the_dashboard_but_not_the_admin(client, monkeypatch):
    monkeypatch.setenv("AUDITOR_PW", "correct horse battery")
    call_command("createauditor", "sam", "--password-from-env", "AUDITOR_PW")
    user = User.objects.get(username="sam")
    assert user.has_perm("teleportbridge.view_accessrequest")
    assert not user.has_perm("notifications.change_post")
    assert not user.is_staff
    login = {"username": "sam", "password": "correct horse battery"}
    assert client.post(reverse("login"), login).status_code == 302  # through the login page
    assert client.get(reverse("dashboard:overview")).status_code == 200


def test_staff_flag_and_rerun_update_the_same_user(monkeypatch):
    monkeypatch.setenv("AUDITOR_PW", "tidal-quartz-lantern")
    call_command("createauditor", "sam", "--password-from-env", "AUDITOR_PW")
    call_command("createauditor", "sam", "--staff")
    user = User.objects.get(username="sam")
    assert user.is_staff and user.check_password("tidal-quartz-lantern")
    assert user.groups.get().name == "auditor"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("pw-one", "too short"),
        ("password123", "too common"),
        ("8675309142", "entirely numeric"),
        ("samuel.auditor", "too similar to the username"),
        ("s.jones@corp.example", "too similar to the email address"),
    ],
)
def test_a_weak_password_is_refused_and_nothing_is_saved(monkeypatch, password, reason):
    monkeypatch.setenv("AUDITOR_PW", password)
    args = [
        "samuel.auditor",
        "--password-from-env",
        "AUDITOR_PW",
        "--email",
        "s.jones@corp.example",
    ]
    with pytest.raises(CommandError, match=reason) as refused:
        call_command("createauditor", *args)
    assert password not in str(refused.value)
    assert not User.objects.filter(username="samuel.auditor").exists()


def test_a_weak_password_does_not_replace_a_good_one(monkeypatch):
    monkeypatch.setenv("AUDITOR_PW", "tidal-quartz-lantern")
    call_command("createauditor", "sam", "--password-from-env", "AUDITOR_PW")
    monkeypatch.setenv("AUDITOR_PW", "12345678")
    with pytest.raises(CommandError, match="AUDITOR_PW refused"):
        call_command("createauditor", "sam", "--password-from-env", "AUDITOR_PW", "--staff")
    user = User.objects.get(username="sam")
    assert user.check_password("tidal-quartz-lantern") and not user.is_staff


def test_refuses_a_missing_password(monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CommandError, match="NOPE is empty or unset"):
        call_command("createauditor", "sam", "--password-from-env", "NOPE")
    with pytest.raises(CommandError, match="needs --password-from-env"):
        call_command("createauditor", "sam")
    assert not User.objects.filter(username="sam").exists()
