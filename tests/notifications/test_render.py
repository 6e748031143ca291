"""Golden tests for the post texts: strict output is the Go plugin's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from notifications.escaping import MAX_POST_RUNES, MAX_POST_RUNES_V1
from notifications.gotext import go_path_escape
from notifications.render import (
    RootPostData,
    render_review_reply,
    render_root_post,
    request_link,
)
from tests.notifications.render_samples import (
    ORDINARY_REASONS,
    ORDINARY_ROLES,
    ORDINARY_USERS,
    F,
    Z,
)

RID = "0f9e2c1a-1111-2222-3333-444455556666"

# --------------------------------------------------------------------------- root post


def post(**kw: object) -> RootPostData:
    base: dict[str, object] = {"request_id": RID, "user": "alice", "roles": ["editor"]}
    base.update(kw)
    return RootPostData(**base)  # type: ignore[arg-type]


TSH = (
    f"**Approve**: `tsh request review --approve {RID}`\n"
    f"**Deny**: `tsh request review --deny {RID}`"
)
LINK = f"https://teleport.example.com/web/requests/{RID}"


def test_root_pending_no_link_reference_example() -> None:
    text = render_root_post(post(reason="need prod access"), strict_compat=True)
    assert text == (
        "*You have new pending request to review!*\n"
        "**User**: alice\n"
        "**Roles**: editor\n"
        f"**Request ID**: {RID}\n"
        "**Reason**: ```\nneed prod access```\n"
        "**Status**: \u23f3 PENDING\n"
        "\n" + TSH
    )
    assert not text.endswith("\n")


def test_root_pending_with_link_multiple_roles_no_reason() -> None:
    text = render_root_post(
        post(roles=["editor", "auditor", "db-ro"], link=LINK), strict_compat=True
    )
    assert text == (
        "*You have new pending request to review!*\n"
        "**User**: alice\n"
        "**Roles**: editor, auditor, db-ro\n"
        f"**Request ID**: {RID}\n"
        "\n"
        "**Status**: \u23f3 PENDING\n"
        "\n"
        f"**Link**: [{LINK}]({LINK})\n"
    )


def test_root_unresolved_tag_is_pending() -> None:
    assert render_root_post(post(status=""), strict_compat=True) == render_root_post(
        post(status="PENDING"), strict_compat=True
    )


@pytest.mark.parametrize(
    ("status", "status_line"),
    [
        ("APPROVED", "**Status**: \u2705 APPROVED"),
        ("DENIED", "**Status**: \u274c DENIED"),
        ("EXPIRED", "**Status**: \u231b EXPIRED"),
        ("PROMOTED", "**Status**:  PROMOTED"),
    ],
)
def test_root_resolved_states(status: str, status_line: str) -> None:
    text = render_root_post(
        post(reason="pls", status=status, resolve_reason="looks fine"), strict_compat=True
    )
    assert text == (
        "\n"
        "**User**: alice\n"
        "**Roles**: editor\n"
        f"**Request ID**: {RID}\n"
        "**Reason**: ```\npls```\n"
        f"{status_line}\n"
        "**Resolution reason**: ```\nlooks fine```\n"
    )
    # Resolved without link: nothing after line 7. With link: the link line.
    with_link = render_root_post(post(status=status, link=LINK), strict_compat=True)
    assert with_link == (
        f"\n**User**: alice\n**Roles**: editor\n**Request ID**: {RID}\n\n{status_line}\n\n"
        f"**Link**: [{LINK}]({LINK})\n"
    )


def test_root_whitespace_reason_renders_empty_marker() -> None:
    text = render_root_post(
        post(reason="   ", status="DENIED", resolve_reason="\n"), strict_compat=True
    )
    assert "**Reason**: (empty)\n" in text
    assert "**Resolution reason**: (empty)\n" in text


def test_root_strict_inserts_names_verbatim() -> None:
    text = render_root_post(post(user="@channel", roles=["[x](http://e)"]), strict_compat=True)
    assert "**User**: @channel\n**Roles**: [x](http://e)\n" in text


def test_hardened_equals_strict_for_ordinary_inputs() -> None:
    count = 0
    for user in ORDINARY_USERS:
        for i, reason in enumerate(ORDINARY_REASONS):
            roles = ORDINARY_ROLES[: (i % len(ORDINARY_ROLES)) + 1]
            for status in ("PENDING", "APPROVED", "DENIED", "EXPIRED", "PROMOTED"):
                for link in (None, LINK):
                    data = post(
                        user=user,
                        roles=roles,
                        reason=reason,
                        status=status,
                        resolve_reason=reason if status != "PENDING" else "",
                        link=link,
                    )
                    assert render_root_post(data) == render_root_post(data, strict_compat=True)
                    count += 1
    assert count > 500


def test_hardened_root_neutralises_names_and_reasons() -> None:
    data = post(
        user="@channel",
        roles=["[click](http://evil.example)", "@all"],
        reason="ok\n\n@here look: [x](http://evil)",
    )
    text = render_root_post(data)
    assert f"**User**: @{Z}channel\n" in text
    assert f"**Roles**: \\[click\\]\\(http\\://evil.example\\), @{Z}all\n" in text
    assert f"**Reason**: ```\nok\n{F}\n@{Z}here look: [x](http://evil)```\n" in text
    for mention in ("@channel", "@all", "@here"):
        assert mention not in text


def test_hardened_root_fits_with_huge_role_list() -> None:
    roles = [f"role-{i:05d}" for i in range(5000)]
    data = post(roles=roles, reason="r" * 2000, link=LINK)
    strict = render_root_post(data, strict_compat=True)
    assert len(strict) > MAX_POST_RUNES  # the plugin would be refused by Mattermost
    text = render_root_post(data)
    assert len(text) <= MAX_POST_RUNES
    assert "more)" in text
    assert f"**Request ID**: {RID}\n" in text and text.endswith(f"**Link**: [{LINK}]({LINK})\n")
    small = render_root_post(data, max_runes=MAX_POST_RUNES_V1)
    assert len(small) <= MAX_POST_RUNES_V1 and "**Status**: \u23f3 PENDING" in small


@pytest.mark.parametrize(
    "huge",
    [
        {"user": "u" * 100_000},
        {"reason": "r" * 100_000},
        {"user": "u" * 40_000, "roles": ["x"] * 9000},
    ],
)
@pytest.mark.parametrize("link", [None, "https://teleport.example.com/web/requests/" + RID])
def test_a_huge_field_never_costs_the_lines_reviewers_act_on(huge, link) -> None:
    """Found in review: a 100,000-character user name left a post that was only the name
    and "(message truncated)": no request id, status or link."""
    text = render_root_post(post(link=link, **huge))
    assert len(text) <= MAX_POST_RUNES
    assert f"**Request ID**: {RID}\n" in text
    assert "**Status**: ⏳ PENDING\n" in text
    if link:
        assert text.endswith(f"**Link**: [{link}]({link})\n")
    else:
        assert f"`tsh request review --approve {RID}`" in text
        assert text.endswith(f"`tsh request review --deny {RID}`")
    assert "chars" in text or "(truncated)" in text  # the cut is visible


def test_a_request_id_cannot_inject_markdown_or_leave_its_code_span() -> None:
    text = render_root_post(post(request_id="x @channel [a](http://evil) `b`"))
    [id_line] = [line for line in text.splitlines() if line.startswith("**Request ID**")]
    assert "@channel" not in id_line and "[a](" not in id_line and "http://" not in id_line
    # In the code spans markdown is inert; the span cannot be closed and nobody is mentioned.
    assert "`tsh request review --approve x @\u200bchannel [a](http://evil) 'b'`" in text
    assert "@channel" not in text


# --------------------------------------------------------------------------- review reply

CREATED = datetime(2024, 3, 5, 14, 7, 59, tzinfo=UTC)


def test_review_reply_with_reason() -> None:
    assert render_review_reply("bob", CREATED, "APPROVED", "lgtm", strict_compat=True) == (
        "bob reviewed the request at 05 Mar 24 14:07 UTC.\n"
        "Resolution: \u2705 APPROVED.\n"
        "Reason: ```\nlgtm```."
    )


def test_review_reply_without_reason_keeps_trailing_newline_of_line_2() -> None:
    assert render_review_reply("bob", CREATED, "DENIED", "", strict_compat=True) == (
        "bob reviewed the request at 05 Mar 24 14:07 UTC.\nResolution: \u274c DENIED.\n"
    )


def test_review_reply_other_states_have_two_spaces() -> None:
    text = render_review_reply("bob", CREATED, "PROMOTED", "", strict_compat=True)
    assert "Resolution:  PROMOTED.\n" in text


def test_review_reply_time_is_utc() -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2024, 3, 5, 15, 7, tzinfo=paris)
    assert "at 05 Mar 24 14:07 UTC." in render_review_reply("b", local, "DENIED", "")
    naive = datetime(2009, 12, 31, 23, 59)
    assert "at 31 Dec 09 23:59 UTC." in render_review_reply("b", naive, "DENIED", "")
    assert "at 01 Jan 01 00:00 UTC." in render_review_reply("b", None, "DENIED", "")


def test_review_reply_whitespace_reason_and_escaping() -> None:
    assert render_review_reply("b", CREATED, "DENIED", "  ", strict_compat=True).endswith(
        "Reason: (empty)."
    )
    text = render_review_reply("b", CREATED, "DENIED", "`x`", strict_compat=True)
    assert text.endswith(f"Reason: ```\n`{F}x`{F}```.")


def test_review_reply_hardened() -> None:
    for author in ORDINARY_USERS:
        assert render_review_reply(author, CREATED, "APPROVED", "ok") == render_review_reply(
            author, CREATED, "APPROVED", "ok", strict_compat=True
        )
    text = render_review_reply("# @all", CREATED, "APPROVED", "\n- @here")
    assert text.startswith(f"\\# @{Z}all reviewed")
    assert text.endswith(f"Reason: ```\n{F}- @{Z}here```.")


# --------------------------------------------------------------------------- link


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("teleport.example.com:443", f"https://teleport.example.com/web/requests/{RID}"),
        ("teleport.example.com", f"https://teleport.example.com/web/requests/{RID}"),
        ("https://teleport.example.com:443", f"https://teleport.example.com/web/requests/{RID}"),
        ("proxy:3080", f"https://proxy:3080/web/requests/{RID}"),
        ("http://proxy:443", f"http://proxy:443/web/requests/{RID}"),
        ("http://proxy", f"http://proxy/web/requests/{RID}"),
        ("proxy.example.com/ignored/path", f"https://proxy.example.com/web/requests/{RID}"),
        ("10.0.0.1:443", f"https://10.0.0.1/web/requests/{RID}"),
        ("[::1]:3080", f"https://[::1]:3080/web/requests/{RID}"),
    ],
)
def test_request_link(addr: str, expected: str) -> None:
    assert request_link(addr, RID) == expected


def test_request_link_empty_and_invalid() -> None:
    assert request_link("", RID) is None
    with pytest.raises(ValueError):
        request_link("proxy:http", RID)
    with pytest.raises(ValueError):
        request_link("proxy\n", RID)


def test_request_link_escaping_matches_go_url() -> None:
    assert go_path_escape("a b/c;d,e?f@g+h:i$&=") == "a%20b%2Fc%3Bd%2Ce%3Ff@g+h:i$&="
    # Go re-escapes the '%' of PathEscape when printing the URL (a no-op for UUIDs).
    assert request_link("p", "a b") == "https://p/web/requests/a%2520b"
