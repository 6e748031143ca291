"""MattermostClient against the real simulator (no mocks): every method, every error path."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote, quote_plus

import pytest
import requests

from common.redaction import Redactor
from notifications.gotext import go_path_escape
from notifications.mattermost import (
    Attempt,
    MattermostClient,
    PermanentError,
    TransientError,
    classify,
)
from simulators.mattermost import MattermostSimulator
from tests.waiting import wait_until

TOKEN = "s3cret-bot-token-xyz"


@pytest.fixture
def sim():
    simulator = MattermostSimulator(bot_token=TOKEN)
    simulator.add_team("eng", "Engineering")
    simulator.channel_id = simulator.add_channel("eng", "access-requests", "Access Requests")
    simulator.alice = simulator.add_user("Alice+ops@Example.com", "alice")
    with simulator:
        yield simulator


@pytest.fixture
def attempts():
    return []


@pytest.fixture
def client(sim, attempts):
    with MattermostClient(sim.url, TOKEN, timeout=5, on_attempt=attempts.append) as c:
        yield c


def _response(status: int, body: bytes, headers: dict[str, str] | None = None):
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    return response


# ---------------------------------------------------------------- methods


def test_get_me_returns_the_bot(client, sim):
    me = client.get_me()
    assert me["id"] == sim.bot_id
    assert me["is_bot"] is True


def test_get_user_by_email_keeps_plus_and_at_literal(client, sim):
    user = client.get_user_by_email("alice+ops@example.com")
    assert user["id"] == sim.alice
    assert ("GET", "/api/v4/users/email/alice+ops@example.com", 200) in sim.request_log


def test_path_escape_matches_go_path_escape():
    """One PathEscape for URLs and links; Go escapes , and ; in a segment (an earlier
    copy in the client left them alone)."""
    assert go_path_escape("a/b c@d+e:f") == "a%2Fb%20c@d+e:f"
    assert go_path_escape("Ünï") == "%C3%9Cn%C3%AF"
    assert go_path_escape("a,b;c$d&e=f") == "a%2Cb%3Bc$d&e=f"


def test_the_client_escapes_path_segments_as_go_does(client, sim):
    """Found in review: the client had its own PathEscape that left , and ; raw."""
    sim.add_user("a,b;c@example.com", "odd")
    client.get_user_by_email("a,b;c@example.com")
    assert ("GET", "/api/v4/users/email/a%2Cb%3Bc@example.com", 200) in sim.request_log


def test_create_direct_channel_is_idempotent(client, sim):
    first = client.create_direct_channel(sim.bot_id, sim.alice)
    second = client.create_direct_channel(sim.alice, sim.bot_id)
    assert first["id"] == second["id"]
    assert first["type"] == "D"


def test_get_channel_by_name_uses_handles_not_display_names(client, sim):
    assert client.get_channel_by_name("eng", "access-requests")["id"] == sim.channel_id
    with pytest.raises(PermanentError) as exc:
        client.get_channel_by_name("eng", "Access Requests")
    assert exc.value.status == 404


def test_create_post_sends_teleport_shape_and_reply(client, sim):
    root = client.create_post(sim.channel_id, "hello")
    reply = client.create_post(sim.channel_id, "a review", root_id=root["id"])
    assert reply["root_id"] == root["id"]
    assert root["props"] == {"from_bot": "true"}
    assert [p["id"] for p in sim.root_posts(sim.channel_id)] == [root["id"]]
    assert [p["id"] for p in sim.replies(root["id"])] == [reply["id"]]


def test_update_post_replaces_message_and_props(client, sim):
    post = client.create_post(sim.channel_id, "pending", props={"attachments": []})
    updated = client.update_post(post["id"], sim.channel_id, "approved")
    assert updated["message"] == "approved"
    assert updated["edit_at"] > 0
    assert "attachments" not in updated["props"]  # props: null clears props on a full PUT
    assert client.get_post(post["id"])["message"] == "approved"


def test_get_post_unknown_is_permanent_404(client):
    with pytest.raises(PermanentError) as exc:
        client.get_post("x" * 26)
    assert exc.value.status == 404
    assert exc.value.error_id == "app.post.get.app_error"


def test_get_channel_posts_pages_newest_first(client, sim):
    ids = [client.create_post(sim.channel_id, f"m{i}")["id"] for i in range(5)]
    first = client.get_channel_posts(sim.channel_id, per_page=2)
    second = client.get_channel_posts(sim.channel_id, page=1, per_page=2)
    assert first["order"] == [ids[4], ids[3]]
    assert second["order"] == [ids[2], ids[1]]
    assert set(first["posts"]) == {ids[4], ids[3]}
    since = first["posts"][ids[4]]["create_at"] - 1
    assert ids[4] in client.get_channel_posts(sim.channel_id, since_ms=since)["order"]


def test_ping(client):
    assert client.ping()["status"] == "OK"


def test_url_sub_path_is_kept(sim, attempts):
    client = MattermostClient(sim.url + "/mm/", TOKEN, on_attempt=attempts.append)
    with pytest.raises(PermanentError):
        client.get_me()
    assert sim.request_log[-1] == ("GET", "/mm/api/v4/users/me", 404)


def test_https_proxy_env_is_honoured(sim, monkeypatch):
    # The simulator parses absolute-form request targets, so it can stand in for a proxy.
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", sim.url)
    client = MattermostClient("http://mattermost.invalid", TOKEN)
    assert client.get_me()["id"] == sim.bot_id


# ---------------------------------------------------------------- errors


def test_bad_token_is_permanent_and_never_shown(sim, attempts):
    client = MattermostClient(sim.url, "wrong-" + TOKEN, on_attempt=attempts.append)
    with pytest.raises(PermanentError) as exc:
        client.get_me()
    error = exc.value
    assert error.status == 401
    assert str(error) == (
        "Mattermost rejected the token (401 api.context.session_expired.app_error): "
        "check [mattermost] token"
    )
    for text in (str(error), repr(error), repr(client), str(client), repr(attempts[0])):
        assert TOKEN not in text


# A token whose JSON, repr and URL-encoded forms all differ from the raw text; the odd
# characters come first so that any cut through it keeps a run of letters and digits.
ODD_TOKEN = '"/+\\-abcdefghijklmnopqrstuvwxyz0123456789'


def _leaks(text: str, token: str) -> list[str]:
    """Any 6-character piece of the token's letters and digits that made it into text."""
    core = "".join(c for c in token if c.isalnum())
    return [core[i : i + 6] for i in range(len(core) - 5) if core[i : i + 6] in text]


@pytest.mark.parametrize(
    "form",
    [
        lambda t: t,
        lambda t: repr(t),
        lambda t: json.dumps(t),
        lambda t: quote(t, safe=""),
        lambda t: quote(t, safe="").lower(),
        lambda t: quote_plus(t),
        lambda t: json.dumps({"Authorization": f"BEARER {t}"}),
    ],
    ids=["raw", "repr", "json", "url", "url-lower", "url-plus", "json-header"],
)
def test_echoed_token_is_redacted_before_the_message_is_cut(sim, attempts, form):
    """A server (or proxy) echoing the token past character 200 of a long error: the cut
    at 200 must not keep half of it, in whatever form it was echoed."""
    client = MattermostClient(sim.url, ODD_TOKEN, on_attempt=attempts.append)
    echo = form(ODD_TOKEN)
    # Mattermost's message is cut at 200 characters: put the cut through the echo's middle.
    pad = "x" * (199 - len(" bad header: ") - len(echo) // 2)
    sim.fail_next(1, status=400, message=f"{pad} bad header: {echo} end")
    with pytest.raises(PermanentError) as exc:
        client.create_post(sim.channel_id, "x")
    for text in (str(exc.value), repr(exc.value), attempts[0].error):
        assert _leaks(text, ODD_TOKEN) == [], text
    assert "[redacted]" in str(exc.value) or str(exc.value).endswith("…")


@pytest.mark.parametrize("token", ["abc\ndef0123456789xyz", "abc\rdef0123456789xyz"])
def test_token_with_a_line_break_is_named_and_never_shown(token, attempts):
    """requests quotes the bad header (repr) in its error: that form must not get out."""
    client = MattermostClient("http://127.0.0.1:9", token, on_attempt=attempts.append)
    with pytest.raises(PermanentError) as exc:
        client.get_me()
    message = str(exc.value)
    assert message == (
        "the Mattermost token contains a line break or surrounding whitespace, which cannot "
        "be sent in an HTTP header; check [mattermost] token"
    )
    assert _leaks(message + repr(exc.value) + attempts[0].error, token) == []


def test_non_latin1_token_says_what_is_wrong(attempts):
    client = MattermostClient("http://127.0.0.1:9", "tök€n-0123456789", on_attempt=attempts.append)
    with pytest.raises(PermanentError) as exc:
        client.get_me()
    assert "not JSON" not in str(exc.value)
    assert str(exc.value).startswith("the Mattermost token contains non-ASCII characters")
    assert "0123456789" not in str(exc.value) + attempts[0].error


def test_redactor_knows_every_form():
    token = 'a b/c"d\ne€f-0123456789'
    redact = Redactor([token])
    for text in (
        token,
        repr(token),
        json.dumps(token),
        json.dumps(token, ensure_ascii=False),
        quote(token, safe=""),
        quote(token, safe="").lower(),
        quote_plus(token),
        " ".join(token.split()),
        repr(token.encode()),
    ):
        assert _leaks(redact(f"<{text}>"), token) == [], text
    assert redact("nothing secret here") == "nothing secret here"
    assert Redactor([""])("anything") == "anything"
    # A short secret is only redacted as a whole word: "p" must not eat every p.
    assert Redactor(["p"])("port p: p, pw") == "port [redacted]: [redacted], pw"


def test_server_error_is_transient(client, sim, attempts):
    sim.fail_next(1, status=503)
    with pytest.raises(TransientError) as exc:
        client.create_post(sim.channel_id, "x")
    assert exc.value.status == 503
    assert sim.posts() == []  # injected failures have no side effect
    assert client.create_post(sim.channel_id, "x")["message"] == "x"
    assert [a.ok for a in attempts] == [False, True]


def test_rate_limit_is_transient_with_retry_after(client, sim, attempts):
    sim.rate_limit_next(1, retry_after=3)
    with pytest.raises(TransientError) as exc:
        client.get_me()
    assert exc.value.status == 429
    assert exc.value.retry_after == 3
    assert str(exc.value) == "Mattermost returned 429 (rate limited), retry after 3s"
    assert attempts[-1].retry_after == 3
    assert attempts[-1].status_code == 429


def test_classify_falls_back_to_x_ratelimit_reset():
    error = classify(_response(429, b"limit exceeded\n", {"X-RateLimit-Reset": "7"}))
    assert isinstance(error, TransientError)
    assert error.retry_after == 7


def test_classify_retry_after_http_date():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    error = classify(_response(503, b"", {"Retry-After": when}))
    assert 50 < error.retry_after <= 60


def test_classify_html_502_and_bad_json_2xx():
    error = classify(_response(502, b"<html><body>Bad Gateway</body></html>"))
    assert isinstance(error, TransientError)
    assert str(error) == "Mattermost returned 502 (non-JSON body, e.g. from a proxy)"
    assert isinstance(classify(ValueError("Expecting value")), TransientError)
    forbidden = classify(_response(403, b'{"id":"api.context.permissions.app_error"}'))
    assert isinstance(forbidden, PermanentError)
    assert forbidden.error_id == "api.context.permissions.app_error"


def test_connection_refused_is_transient(attempts):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = MattermostClient(f"http://127.0.0.1:{port}", TOKEN, on_attempt=attempts.append)
    with pytest.raises(TransientError) as exc:
        client.get_me()
    assert "Cannot reach Mattermost" in str(exc.value)
    assert "refused" in str(exc.value).lower()
    assert attempts[0].status_code is None
    assert attempts[0].error_class == "TransientError"


def test_stopped_server_is_transient_then_recovers(client, sim):
    client.get_me()  # leaves a pooled keep-alive connection behind
    sim.stop()
    with pytest.raises(TransientError):
        client.get_me()
    sim.start()
    assert client.get_me()["id"] == sim.bot_id


def test_timeout_is_transient_and_the_post_may_exist(sim, attempts):
    client = MattermostClient(sim.url, TOKEN, timeout=0.3, on_attempt=attempts.append)
    sim.set_latency(1)
    with pytest.raises(TransientError) as exc:
        client.create_post(sim.channel_id, "slow")
    assert "did not answer in time" in str(exc.value)
    assert attempts[0].duration_ms >= 300
    # Mattermost kept working after we gave up: the post appears anyway.
    wait_until(lambda: sim.posts(sim.channel_id), timeout=5)


def test_dropped_response_is_transient_but_post_created(client, sim):
    sim.drop_response_next(1)
    with pytest.raises(TransientError):
        client.create_post(sim.channel_id, "lost answer")
    assert [p["message"] for p in sim.posts()] == ["lost answer"]


def test_permission_errors(client, sim):
    with pytest.raises(PermanentError) as exc:
        client.create_post("", "no channel")
    assert exc.value.status == 403
    hidden = sim.add_channel("eng", "secret", bot_member=False)
    with pytest.raises(PermanentError) as exc:
        client.create_post(hidden, "not a member")
    assert exc.value.error_id == "api.context.permissions.app_error"
    sim.post_all = True
    assert client.create_post(hidden, "post:all")["channel_id"] == hidden


def test_hidden_emails_are_permanent_403(client, sim):
    sim.hide_emails = True
    with pytest.raises(PermanentError) as exc:
        client.get_user_by_email("alice+ops@example.com")
    assert exc.value.error_id == "api.user.get_user_by_email.permissions.app_error"


# ---------------------------------------------------------------- posts rules


def test_root_id_rules(client, sim):
    other = sim.add_channel("eng", "other")
    root = client.create_post(sim.channel_id, "root")
    reply = client.create_post(sim.channel_id, "reply", root_id=root["id"])
    cases = [
        (sim.channel_id, "y" * 26, "api.post.create_post.root_id.app_error"),
        (other, root["id"], "api.post.create_post.channel_root_id.app_error"),
        (sim.channel_id, reply["id"], "api.post.create_post.root_id.app_error"),
    ]
    for channel, root_id, error_id in cases:
        with pytest.raises(PermanentError) as exc:
            client.create_post(channel, "bad", root_id=root_id)
        assert (exc.value.status, exc.value.error_id) == (400, error_id)


def test_message_length_limit_counts_runes():
    with MattermostSimulator(bot_token=TOKEN, max_post_runes=10) as sim:
        sim.add_team("eng", "Eng")
        channel = sim.add_channel("eng", "c")
        client = MattermostClient(sim.url, TOKEN)
        client.create_post(channel, "✅" * 10)  # 30 bytes, 10 runes: allowed
        with pytest.raises(PermanentError) as exc:
            client.create_post(channel, "x" * 11)
        assert exc.value.status == 400
        assert exc.value.error_id == "api.post.create_post.message_length.app_error"


def test_pending_post_id_returns_existing_post_within_ttl(client, sim):
    first = client.create_post(sim.channel_id, "once", pending_post_id="req1:chan1")
    again = client.create_post(sim.channel_id, "once", pending_post_id="req1:chan1")
    assert again["id"] == first["id"]
    assert len(sim.posts()) == 1
    sim.advance_clock(31)
    third = client.create_post(sim.channel_id, "once", pending_post_id="req1:chan1")
    assert third["id"] != first["id"]


def test_pending_post_id_in_flight_is_transient(client, sim):
    sim.pause_posts()
    results = {}
    thread = threading.Thread(
        target=lambda: results.update(
            post=client.create_post(sim.channel_id, "slow", pending_post_id="k1")
        )
    )
    thread.start()
    try:
        wait_until(lambda: sim.inflight_posts == 1)
        with pytest.raises(TransientError) as exc:
            client.create_post(sim.channel_id, "dup", pending_post_id="k1")
        assert exc.value.status == 500
        assert exc.value.error_id == "api.post.deduplicate_create_post.pending"
    finally:
        sim.resume_posts()
        thread.join(timeout=5)
    retried = client.create_post(sim.channel_id, "dup", pending_post_id="k1")
    assert retried["id"] == results["post"]["id"]


def test_failed_create_forgets_pending_post_id(client, sim):
    with pytest.raises(PermanentError):
        client.create_post(sim.channel_id, "x", root_id="z" * 26, pending_post_id="k2")
    post = client.create_post(sim.channel_id, "x", pending_post_id="k2")
    assert post["pending_post_id"] == "k2"


# ---------------------------------------------------------------- etag, attempts, threads


def test_etag_304_reuses_cached_body(client, sim):
    first = client.get_me()
    second = client.get_me()
    assert second == first
    assert [s for m, p, s in sim.request_log] == [200, 304]
    sim.touch_user(sim.bot_id)
    third = client.get_me()
    assert third["update_at"] > first["update_at"]
    assert sim.request_log[-1][2] == 200


def test_attempt_recorded_for_every_call(client, sim, attempts):
    client.get_me()
    with pytest.raises(PermanentError):
        client.get_post("q" * 26)
    sim.fail_next(1)
    with pytest.raises(TransientError):
        client.create_post(sim.channel_id, "m")
    assert len(attempts) == 3
    assert all(isinstance(a, Attempt) for a in attempts)
    ok, missing, failed = attempts
    assert (ok.method, ok.path, ok.status_code, ok.ok, ok.error_class) == (
        "GET",
        "/api/v4/users/me",
        200,
        True,
        None,
    )
    assert (missing.status_code, missing.error_class) == (404, "PermanentError")
    assert missing.error.startswith("Mattermost returned 404")
    assert (failed.method, failed.status_code, failed.ok) == ("POST", 500, False)
    assert all(a.duration_ms >= 0 for a in attempts)


def test_broken_recorder_does_not_fail_the_call(sim):
    def recorder(attempt):
        raise RuntimeError("db down")

    client = MattermostClient(sim.url, TOKEN, on_attempt=recorder)
    assert client.get_me()["id"] == sim.bot_id


def test_concurrent_posts_share_the_pool(client, sim):
    errors = []

    def post(i):
        try:
            client.create_post(sim.channel_id, f"p{i}", pending_post_id=f"key-{i}")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert len(sim.posts(sim.channel_id)) == 16
