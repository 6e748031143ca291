"""The Mattermost simulator's own contract, checked over raw HTTP (requests, no client)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest
import requests

from simulators.mattermost import MattermostSimulator
from tests.waiting import wait_until

ERROR_KEYS = {"id", "message", "detailed_error", "request_id", "status_code", "is_oauth"}


@pytest.fixture
def sim():
    simulator = MattermostSimulator()
    simulator.add_team("eng", "Engineering")
    simulator.channel_id = simulator.add_channel("eng", "general", "General")
    with simulator:
        yield simulator


@pytest.fixture
def http(sim):
    with requests.Session() as session:
        session.headers["Authorization"] = f"BEARER {sim.bot_token}"
        yield session


def api(sim, path):
    return f"{sim.url}/api/v4{path}"


def test_auth_scheme_is_case_insensitive_and_errors_have_mattermost_shape(sim, http):
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {sim.bot_token}"}
        assert requests.get(api(sim, "/users/me"), headers=headers).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": sim.bot_token}):
        response = requests.get(api(sim, "/users/me"), headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert set(body) == ERROR_KEYS
        assert body["id"] == "api.context.session_expired.app_error"
        assert body["status_code"] == 401


def test_ping_needs_no_auth(sim):
    assert requests.get(api(sim, "/system/ping")).json()["status"] == "OK"


def test_ids_look_like_mattermost_ids(sim, http):
    post = http.post(api(sim, "/posts"), json={"channel_id": sim.channel_id, "message": "m"})
    assert post.status_code == 201
    for value in (sim.bot_id, sim.channel_id, post.json()["id"]):
        assert re.fullmatch(r"[a-z0-9]{26}", value)
    assert post.json()["props"]["from_bot"] == "true"


def test_email_lookup_lowercases_and_etags(sim, http):
    alice = sim.add_user("Alice@Example.COM", "alice")
    first = http.get(api(sim, "/users/email/ALICE@example.com"))
    assert first.json()["id"] == alice
    etag = first.headers["ETag"]
    again = http.get(api(sim, "/users/email/alice@example.com"), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert http.get(api(sim, "/users/email/bob@example.com")).status_code == 404
    assert http.get(api(sim, "/users/email/not-an-email")).status_code == 400


def test_direct_channel_rules(sim, http):
    alice = sim.add_user("alice@example.com", "alice")
    bob = sim.add_user("bob@example.com", "bob")
    first = http.post(api(sim, "/channels/direct"), json=[sim.bot_id, alice])
    second = http.post(api(sim, "/channels/direct"), json=[alice, sim.bot_id])
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == second.json()["id"]
    assert http.post(api(sim, "/channels/direct"), json=[alice, bob]).status_code == 403
    assert http.post(api(sim, "/channels/direct"), json=[sim.bot_id]).status_code == 400
    dm = first.json()["id"]
    assert http.post(api(sim, "/posts"), json={"channel_id": dm, "message": "hi"}).ok


def test_private_channel_by_name_needs_membership(sim, http):
    sim.add_channel("eng", "secret", "Secret", "P", bot_member=False)
    url = api(sim, "/teams/name/eng/channels/name/secret")
    assert http.get(url).status_code == 403
    assert http.get(api(sim, "/teams/name/nope/channels/name/general")).status_code == 404


def test_full_update_requires_matching_id_and_patch_is_partial(sim, http):
    body = {"channel_id": sim.channel_id, "message": "m", "props": {"keep": "1"}}
    post = http.post(api(sim, "/posts"), json=body).json()
    url = api(sim, f"/posts/{post['id']}")
    assert http.put(url, json={"id": "other", "message": "x"}).status_code == 400
    patched = http.put(url + "/patch", json={"message": "patched"}).json()
    assert patched["props"]["keep"] == "1"
    assert patched["message"] == "patched"
    full = http.put(url, json={"id": post["id"], "message": "full", "props": None}).json()
    assert "keep" not in full["props"]
    assert http.patch(url, json={"message": "x"}).status_code == 405


def test_channel_posts_since_ignores_paging(sim, http):
    ids = []
    for i in range(3):
        body = {"channel_id": sim.channel_id, "message": str(i)}
        ids.append(http.post(api(sim, "/posts"), json=body).json()["id"])
    sim.advance_clock(5)
    cutoff = sim.posts()[-1]["update_at"] + 1000
    url = api(sim, f"/posts/{ids[0]}/patch")
    http.put(url, json={"message": "edited"})
    listing = http.get(
        api(sim, f"/channels/{sim.channel_id}/posts"),
        params={"since": cutoff, "per_page": 1, "page": 5},
    ).json()
    assert listing["order"] == [ids[0]]


def test_rate_limit_is_plain_text_with_headers(sim, http):
    sim.rate_limit_next(2, retry_after=4)
    for _ in range(2):
        response = http.get(api(sim, "/users/me"))
        assert response.status_code == 429
        assert response.text == "limit exceeded\n"
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.headers["Retry-After"] == "4"
        assert response.headers["X-RateLimit-Reset"] == "4"
        assert response.headers["X-RateLimit-Remaining"] == "0"
    assert http.get(api(sim, "/users/me")).status_code == 200


def test_fail_next_matches_method_and_prefix_and_reset(sim, http):
    sim.fail_next(1, status=502)
    assert http.get(api(sim, "/users/me")).status_code == 200  # GET is not matched
    body = {"channel_id": sim.channel_id, "message": "m"}
    failed = http.post(api(sim, "/posts"), json=body)
    assert failed.status_code == 502
    assert set(failed.json()) == ERROR_KEYS
    sim.fail_next(5)
    sim.reset_faults()
    assert http.post(api(sim, "/posts"), json=body).status_code == 201
    assert [status for _, _, status in sim.request_log] == [200, 502, 201]


def test_restart_keeps_port_and_state_and_cuts_keepalive(sim, http):
    assert http.get(api(sim, "/users/me")).ok  # a pooled keep-alive connection
    port, url = sim.port, sim.url
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(api(sim, "/users/me"))
    sim.start()
    assert (sim.port, sim.url) == (port, url)
    assert http.get(api(sim, "/users/me")).json()["id"] == sim.bot_id


def test_stop_interrupts_latency(sim):
    sim.set_latency(30)
    errors = []

    def call():
        try:
            body = {"channel_id": sim.channel_id, "message": "m"}
            headers = {"Authorization": f"Bearer {sim.bot_token}"}
            requests.post(api(sim, "/posts"), json=body, headers=headers, timeout=20)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(lambda: sim.inflight_posts == 1)
    sim.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(errors) == 1  # the connection was cut, not answered after 30 s


def test_demo_entry_point_prints_url_and_token():
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.mattermost", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("Mattermost simulator at http://127.0.0.1:")
        assert "token: sim-bot-token" in second
        url = first.rsplit(" ", 1)[1].strip()
        headers = {"Authorization": "Bearer sim-bot-token"}
        channel = requests.get(
            f"{url}/api/v4/teams/name/eng/channels/name/access-requests", headers=headers
        )
        assert channel.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
