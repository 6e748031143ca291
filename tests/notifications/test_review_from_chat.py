"""Approve/Deny from Mattermost, end to end: the Mattermost simulator clicks as a user and
POSTs the real callback to the bridge's web endpoint (a live server), which submits to the
Teleport simulator over gRPC; the watcher step (`pull`) and reconcile then redraw the post.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from django.test.utils import override_settings

from notifications.chatreview import config as review_config
from notifications.chatreview import triggers, users
from notifications.chatreview.models import ReviewAttempt, ReviewFeatureState
from notifications.models import Post
from teleportbridge.models import AccessRequest, WatcherState
from tests.waiting import wait_until
from tests.web import PLAIN_HTTP

pytestmark = pytest.mark.django_db(transaction=True)

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
GENERIC = "This button cannot be used. Open the request in Teleport to review it."


@pytest.fixture(scope="module")
def live_server(request, django_db_setup):
    """The web process: started with plain-HTTP settings (see tests/dashboard/conftest.py)."""
    from pytest_django.live_server_helper import LiveServer

    with override_settings(**PLAIN_HTTP):
        server = LiveServer("127.0.0.1")
        yield server
        server.stop()


@pytest.fixture
def chat(bridge, live_server, settings):
    """The feature on, three reviewers mapped by trait, members of the channel."""
    settings.REVIEW_FROM_CHAT_ENABLED = True
    settings.REVIEW_ACCEPT_MFA_BYPASS = True
    settings.REVIEW_ACTION_URL = f"{live_server.url}/mattermost/actions"
    settings.REVIEW_SIGNING_KEYS = f"k1:{KEY}"
    settings.REVIEW_RATE_PER_USER = "5/30"
    review_config.reset()
    users.forget_all()
    triggers.reset()
    WatcherState.set(server_version="18.11.0")
    mm, tp = bridge.mm, bridge.teleport
    channel = bridge.channel_id("access-requests")
    mm.user_ids["dave"] = mm.add_user("dave@example.com", "dave")
    for name, uid in mm.user_ids.items():
        mm.add_member(channel, uid)
        tp.users.add(name, {"mattermost_uid": [uid]})
    yield bridge
    review_config.reset()
    users.forget_all()


def root_of(bridge, rid: str) -> dict:
    (post,) = [p for p in bridge.mm.root_posts() if rid in p["message"]]
    return post


def click(bridge, rid: str, who: str, action: str = "approve") -> str:
    """Click as `who`; the ephemeral text Mattermost showed them."""
    uid = bridge.mm.user_ids[who]
    before = len(bridge.mm.ephemerals(uid))
    response = bridge.mm.click(root_of(bridge, rid)["id"], action, uid)
    assert response.status_code == 200, response.text
    shown = bridge.mm.ephemerals(uid)
    assert len(shown) == before + 1
    return shown[-1]["message"]


def submits(bridge) -> int:
    return len(bridge.teleport.calls_to("SubmitAccessReview"))


def test_buttons_only_on_pending_roots_and_not_in_requesters_dm(chat):
    chat.configure(recipients=["eng/access-requests", "bob@example.com", "alice@example.com"])
    rid = chat.create(user="bob@example.com")
    chat.reconcile(rid)
    by_channel = {p["channel_id"]: p for p in chat.mm.root_posts()}
    channel_post = by_channel[chat.channel_id("access-requests")]
    actions = channel_post["props"]["attachments"][0]["actions"]
    assert [a["id"] for a in actions] == ["approve", "deny"]
    ctx = actions[0]["integration"]["context"]
    assert set(ctx) == {"v", "kid", "rid", "act", "ch", "n", "exp", "sig"}
    assert KEY not in json.dumps(channel_post)
    dms = [p for c, p in by_channel.items() if c != chat.channel_id("access-requests")]
    with_buttons = [bool(p["props"].get("attachments")) for p in dms]
    assert sorted(with_buttons) == [False, True]  # bob's own DM has none, alice's has them
    # Reads never show the integration (URL and context stay on the server).
    got = requests.get(
        f"{chat.mm.url}/api/v4/posts/{channel_post['id']}",
        headers={"Authorization": f"Bearer {chat.mm.bot_token}"},
        timeout=10,
    ).json()
    assert "integration" not in got["props"]["attachments"][0]["actions"][0]
    # The text above the buttons is the Go plugin's, byte for byte.
    assert channel_post["message"].startswith("*You have new pending request to review!*\n")


def test_two_approvals_needed_then_approved_and_buttons_gone(chat):
    rid = chat.create(user="bob")
    chat.teleport.review_policy.approvals_needed[rid] = 2
    chat.reconcile(rid)
    text = click(chat, rid, "alice")
    assert text.startswith(f"Your approval of {rid} was submitted as alice")
    chat.pull(rid)
    chat.reconcile(rid)
    assert "PENDING" in root_of(chat, rid)["message"]
    assert root_of(chat, rid)["props"].get("attachments")
    click(chat, rid, "carol")
    chat.pull(rid)
    chat.reconcile(rid)
    root = root_of(chat, rid)
    assert "APPROVED" in root["message"]
    assert not root["props"].get("attachments")
    req = chat.teleport.get_request(rid)
    assert [(r.Author, r.SubmittedBy != "") for r in req.Spec.Reviews] == [
        ("alice", True),
        ("carol", True),
    ]
    rows = ReviewAttempt.objects.filter(request_id=rid).order_by("at")
    assert [(r.teleport_user, r.mapping_method, r.outcome) for r in rows] == [
        ("alice", "trait", "submitted"),
        ("carol", "trait", "submitted"),
    ]


def test_deny_self_review_and_double_click(chat):
    rid = chat.create(user="bob")
    chat.teleport.review_policy.approvals_needed[rid] = 3
    chat.reconcile(rid)
    assert click(chat, rid, "bob") == "You are not allowed to review this request."
    click(chat, rid, "alice")
    n = submits(chat)
    assert click(chat, rid, "alice") == "You already submitted this review."
    assert submits(chat) == n  # the replay never reached Teleport
    # Another action by the same user reaches Teleport, which refuses the second review.
    assert click(chat, rid, "alice", "deny") == "You already reviewed this request."
    assert click(chat, rid, "carol", "deny").startswith(f"Your denial of {rid}")
    chat.pull(rid)
    chat.reconcile(rid)
    assert "DENIED" in root_of(chat, rid)["message"]
    outcomes = list(ReviewAttempt.objects.order_by("at").values_list("outcome", flat=True))
    assert outcomes == ["rejected", "submitted", "replay", "rejected", "submitted"]


def test_unmapped_duplicate_trait_and_email_fallback(chat, settings):
    rid = chat.create(user="bob")
    chat.teleport.review_policy.approvals_needed[rid] = 5
    chat.reconcile(rid)
    mm = chat.mm
    mm.user_ids["erin"] = mm.add_user("erin@example.com", "erin")
    mm.add_member(chat.channel_id("access-requests"), mm.user_ids["erin"])
    assert click(chat, rid, "erin") == "You are not allowed to review this request."
    chat.teleport.users.add("carol2", {"mattermost_uid": [mm.user_ids["carol"]]})
    assert click(chat, rid, "carol") == "You are not allowed to review this request."
    settings.REVIEW_EMAIL_FALLBACK = "when_no_trait"
    review_config.reset()
    chat.teleport.users.add("erin@example.com")
    assert click(chat, rid, "erin").endswith(
        "was submitted as erin@example.com; the request stays pending until its rules are met."
    )
    rows = ReviewAttempt.objects.order_by("at")
    assert [r.failed_check for r in rows] == [
        "teleport_user_unmapped",
        "teleport_user_ambiguous",
        "",
    ]
    assert rows.last().mapping_method == "email"
    assert submits(chat) == 1


def _callback(chat, rid: str, who: str, **change) -> dict:
    """A callback body as Mattermost would send it for `who` (trigger_id freshly signed)."""
    root = root_of(chat, rid)
    post = chat.mm.state.posts[root["id"]]
    ctx = dict(post["props"]["attachments"][0]["actions"][0]["integration"]["context"])
    uid = chat.mm.user_ids[who]
    body = {
        "user_id": uid,
        "user_name": who,
        "channel_id": root["channel_id"],
        "post_id": root["id"],
        "trigger_id": chat.mm.signer.trigger_id(uid),
        "type": "button",
        "context": ctx,
    }
    for key, value in change.items():
        if key.startswith("ctx_"):
            ctx[key[4:]] = value
        else:
            body[key] = value
    return body


def test_forged_callbacks_never_reach_teleport(chat, live_server):
    rid = chat.create(user="bob")
    other = chat.create(user="bob")
    chat.reconcile(rid)
    chat.reconcile(other)
    url = f"{live_server.url}/mattermost/actions"
    other_root = root_of(chat, other)
    other_ctx = chat.mm.state.posts[other_root["id"]]["props"]["attachments"][0]["actions"][0][
        "integration"
    ]["context"]
    forged = [
        ("signature", _callback(chat, rid, "alice", ctx_sig="A" * 43)),
        ("signature", _callback(chat, rid, "alice", ctx_act="deny")),
        ("signature", _callback(chat, rid, "alice", ctx_exp=1)),
        ("nonce_binding", _callback(chat, rid, "alice", post_id=other_root["id"])),
        ("nonce_binding", _callback(chat, rid, "alice", channel_id="x" * 26)),
        ("nonce_binding", {**_callback(chat, rid, "alice"), "context": other_ctx}),
        ("trigger_id", _callback(chat, rid, "alice", trigger_id="bm9wZQ==")),
        ("trigger_id", _callback(chat, rid, "alice", user_id=chat.mm.user_ids["carol"])),
        ("context_shape", _callback(chat, rid, "alice", ctx_extra="1")),
    ]
    for check, body in forged:
        response = requests.post(url, json=body, timeout=30)
        assert response.status_code == 200
        assert response.json() == {"ephemeral_text": GENERIC}, check
    assert requests.post(url, data=b"{nope", timeout=30).json() == {"ephemeral_text": GENERIC}
    # A genuine body (the forged ones claiming to be alice did not use up her rate limit),
    # then the same trigger_id once more from another nonce+action.
    good = _callback(chat, rid, "alice")
    assert requests.post(url, json=good, timeout=30).json()["ephemeral_text"].startswith("Your")
    replay = dict(good, context=_callback(chat, rid, "alice")["context"])
    replay["context"] = chat.mm.state.posts[root_of(chat, rid)["id"]]["props"]["attachments"][0][
        "actions"
    ][1]["integration"]["context"]
    assert requests.post(url, json=replay, timeout=30).json() == {
        "ephemeral_text": "You already submitted this review."
    }
    assert submits(chat) == 1
    checks = list(ReviewAttempt.objects.order_by("at").values_list("failed_check", flat=True))
    assert checks == [c for c, _ in forged] + ["body_not_json", "", "replay"]


def test_hostile_bodies_get_the_generic_answer_and_a_row(chat, live_server):
    """Inputs that once escaped the checks as HTTP 500 with no row: a non-ASCII signature
    (compare_digest raises TypeError), JSON nested past the recursion limit, and an id too
    long for its column (PostgreSQL refuses the row)."""
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    url = f"{live_server.url}/mattermost/actions"
    bodies = [
        json.dumps(_callback(chat, rid, "alice", ctx_sig="\u00e9" * 10)).encode(),
        b"[" * 15000,
        json.dumps(_callback(chat, rid, "alice", user_id="u" * 300)).encode(),
    ]
    for body in bodies:
        response = requests.post(url, data=body, timeout=30)
        assert response.status_code == 200, response.text[:200]
        assert response.json() == {"ephemeral_text": GENERIC}
    assert ReviewAttempt.objects.count() == len(bodies)
    assert submits(chat) == 0


def test_forged_clicks_do_not_use_up_the_global_budget(chat, settings, live_server):
    settings.REVIEW_RATE_GLOBAL = "3/60"
    review_config.reset()
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    url = f"{live_server.url}/mattermost/actions"
    for _ in range(5):
        forged = _callback(chat, rid, "alice", ctx_sig="A" * 43)
        assert requests.post(url, json=forged, timeout=30).json() == {"ephemeral_text": GENERIC}
    assert click(chat, rid, "alice").startswith("Your approval")
    assert submits(chat) == 1


def test_resolved_elsewhere_timeout_and_unavailable(chat, settings, live_server):
    rid = chat.create(user="bob")
    chat.teleport.review_policy.approvals_needed[rid] = 5
    chat.reconcile(rid)
    stale = _callback(chat, rid, "carol")
    chat.teleport.review_policy.fail_unavailable = 1
    assert click(chat, rid, "alice") == "Teleport is busy, try again."
    settings.REVIEW_ACTION_TIMEOUT_S = 0.5
    review_config.reset()
    chat.teleport.review_policy.delay = 5
    assert click(chat, rid, "alice") == "Teleport is busy, try again."
    chat.teleport.review_policy.delay = 0
    # The failed tries did not use up the click: the same user may try again.
    assert click(chat, rid, "alice").startswith("Your approval")
    chat.teleport.set_state(rid, "DENIED", "no")
    chat.pull(rid)
    chat.reconcile(rid)
    assert not root_of(chat, rid)["props"].get("attachments")
    assert Post.objects.get(request_id=rid, kind="root").buttons_wanted == ""
    # A button still on screen (an old render): refused here, without asking Teleport.
    n = submits(chat)
    url = f"{live_server.url}/mattermost/actions"
    answer = requests.post(url, json=stale, timeout=30).json()
    assert answer == {"ephemeral_text": "Already resolved or expired."}
    assert submits(chat) == n


def test_rate_limit_per_user(chat, settings):
    settings.REVIEW_RATE_PER_USER = "2/60"
    review_config.reset()
    rid = chat.create(user="bob")
    chat.teleport.review_policy.approvals_needed[rid] = 5
    chat.reconcile(rid)
    click(chat, rid, "alice")
    click(chat, rid, "alice")
    assert click(chat, rid, "alice") == "Too many attempts. Wait a moment and try again."
    assert ReviewAttempt.objects.filter(outcome="rate_limited").count() == 1


def test_cannot_submit_on_behalf_hides_every_button(chat):
    a = chat.create(user="bob")
    b = chat.create(user="bob")
    chat.reconcile(a)
    chat.reconcile(b)
    chat.teleport.review_policy.old_server = True
    text = click(chat, a, "alice")
    assert text == "Reviews from Mattermost are unavailable right now. Review in Teleport instead."
    assert "cannot submit reviews on behalf of" in ReviewFeatureState.blocked()
    chat.reconcile(a)
    chat.reconcile(b)
    assert not root_of(chat, a)["props"].get("attachments")
    assert not root_of(chat, b)["props"].get("attachments")


def test_feature_off_endpoint_404_and_no_buttons(bridge, live_server, settings):
    settings.REVIEW_FROM_CHAT_ENABLED = False
    review_config.reset()
    rid = bridge.create(user="bob")
    bridge.reconcile(rid)
    assert not bridge.mm.root_posts()[0]["props"].get("attachments")
    response = requests.post(f"{live_server.url}/mattermost/actions", json={}, timeout=30)
    assert response.status_code == 404
    # Switched on without the MFA acknowledgement: still off, with the reason.
    settings.REVIEW_FROM_CHAT_ENABLED = True
    settings.REVIEW_ACTION_URL = "https://bridge.example/mattermost/actions"
    settings.REVIEW_SIGNING_KEYS = f"k1:{KEY}"
    review_config.reset()
    assert review_config.get() is None
    assert "REVIEW_ACCEPT_MFA_BYPASS" in review_config.problem()
    review_config.reset()


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("REVIEW_SIGNING_KEYS", "k1:c2hvcnQ", "at least 32"),
        ("REVIEW_SIGNING_KEYS", "nokid", "kid:base64key"),
        ("REVIEW_ACTION_URL", "ftp://x/y", "REVIEW_ACTION_URL"),
        ("REVIEW_EMAIL_FALLBACK", "always", "REVIEW_EMAIL_FALLBACK"),
        ("REVIEW_RATE_PER_USER", "5", "count/seconds"),
    ],
)
def test_bad_settings_give_one_line(settings, name, value, error):
    settings.REVIEW_FROM_CHAT_ENABLED = True
    settings.REVIEW_ACCEPT_MFA_BYPASS = True
    settings.REVIEW_ACTION_URL = "https://bridge.example/mattermost/actions"
    settings.REVIEW_SIGNING_KEYS = f"k1:{KEY}"
    setattr(settings, name, value)
    with pytest.raises(review_config.ReviewConfigError, match=error) as info:
        review_config.build()
    assert "\n" not in str(info.value)
    assert KEY not in str(info.value)


def test_one_click_approves_with_default_threshold(chat):
    """The demo's path: one click, the watcher's update, the post turns APPROVED."""
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    click(chat, rid, "alice")
    chat.pull(rid)
    chat.reconcile(rid)
    wait_until(lambda: "APPROVED" in root_of(chat, rid)["message"], timeout=30)


def test_bots_and_deactivated_users_are_refused(chat, live_server):
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    mm, channel = chat.mm, chat.channel_id("access-requests")
    mm.user_ids["robot"] = mm.add_bot("robot@example.com", "robot")
    mm.add_member(channel, mm.user_ids["robot"])
    chat.teleport.users.add("robot", {"mattermost_uid": [mm.user_ids["robot"]]})
    url = f"{live_server.url}/mattermost/actions"
    answer = requests.post(url, json=_callback(chat, rid, "robot"), timeout=30).json()
    assert answer == {"ephemeral_text": "You are not allowed to review this request."}
    mm.deactivate_user(mm.user_ids["carol"])
    assert click(chat, rid, "carol") == "You are not allowed to review this request."
    checks = list(ReviewAttempt.objects.order_by("at").values_list("failed_check", flat=True))
    assert checks == ["mattermost_user_is_bot", "mattermost_user_deactivated"]
    assert submits(chat) == 0


def test_an_identity_that_needs_mfa_blocks_the_feature(chat, admin_client):
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    chat.teleport.review_policy.mfa_required = True
    text = click(chat, rid, "alice")
    assert text == "Reviews from Mattermost are unavailable right now. Review in Teleport instead."
    row = ReviewAttempt.objects.get()
    assert (row.grpc_code, row.grpc_message) == (
        "PERMISSION_DENIED",
        "administrative action requires MFA",
    )
    assert ReviewFeatureState.blocked() == "administrative action requires MFA"
    health = admin_client.get("/health/").content.decode()
    assert 'id="review-blocked"' in health
    from bridge.metrics import make_registry, render

    metrics = render(make_registry()).decode()
    assert "teleport_mattermost_review_blocked 1.0" in metrics
    # The admin clears the alert (after fixing the identity): buttons come back.
    admin_client.post(
        "/admin/notifications/reviewfeaturestate/",
        {"action": "clear_alert", "_selected_action": ["1"]},
    )
    assert ReviewFeatureState.blocked() == ""
    chat.reconcile(rid)
    assert root_of(chat, rid)["props"].get("attachments")


def test_long_term_request_has_no_buttons_and_a_click_is_refused(chat, live_server):
    short = chat.create(user="bob", request_kind="SHORT_TERM")
    long = chat.create(user="bob", request_kind="LONG_TERM")
    chat.reconcile(short)
    chat.reconcile(long)
    assert root_of(chat, short)["props"].get("attachments")
    assert not root_of(chat, long)["props"].get("attachments")
    # A button drawn while the bridge took the request for short-term (a stale render) is
    # refused once it is known to be long-term: the click checks the kind itself.
    stale = _callback(chat, short, "alice")
    AccessRequest.objects.filter(pk=short).update(request_kind="LONG_TERM")
    answer = requests.post(f"{live_server.url}/mattermost/actions", json=stale, timeout=30)
    assert answer.json() == {"ephemeral_text": GENERIC}
    assert ReviewAttempt.objects.get().failed_check == "long_term"
    assert submits(chat) == 0


def test_buttons_near_expiry_are_resigned_by_the_sweeper(chat, settings):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.chatreview.models import ButtonNonce
    from notifications.tasks import sweep_due_posts

    settings.REVIEW_BUTTON_TTL_S = 400
    review_config.reset()
    rid = chat.create(user="bob")  # expires in an hour: longer than one signature
    chat.reconcile(rid)
    first = Post.objects.get(request_id=rid, kind="root").buttons_sent
    assert first and sweep_due_posts() == 0
    ButtonNonce.objects.filter(pk=first).update(expires_at=timezone.now() + timedelta(seconds=60))
    assert sweep_due_posts() == 1
    chat.reconcile(rid)
    root = Post.objects.get(request_id=rid, kind="root")
    assert root.buttons_sent == root.buttons_wanted != first
    ctx = root_of(chat, rid)["props"]["attachments"][0]["actions"][0]["integration"]["context"]
    assert ctx["n"] == root.buttons_sent
    assert click(chat, rid, "alice").startswith("Your approval")


def test_mattermost_refuses_an_internal_address_unless_allowed(chat):
    rid = chat.create(user="bob")
    chat.reconcile(rid)
    post_id, alice = root_of(chat, rid)["id"], chat.mm.user_ids["alice"]
    chat.mm.state.allowed_untrusted_internal = []  # Mattermost's default: none allowed
    refused = chat.mm.click(post_id, "approve", alice)
    assert refused.status_code == 400
    assert "AllowedUntrustedInternalConnections" in refused.json()["message"]
    assert submits(chat) == 0 and not ReviewAttempt.objects.exists()
    chat.mm.state.allowed_untrusted_internal = ["127.0.0.0/8"]
    assert chat.mm.click(post_id, "approve", alice).status_code == 200
    assert submits(chat) == 1
