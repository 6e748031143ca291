"""Escaping and hardening of user text: reasons (strict and safe), names, post size."""

from __future__ import annotations

import pytest

from notifications.escaping import TRUNCATION_MARKER, escape_reason, fit_message, safe_inline
from tests.notifications.render_samples import (
    ORDINARY_REASONS,
    ORDINARY_ROLES,
    ORDINARY_USERS,
    F,
    Z,
)

# --------------------------------------------------------------------------- escape_reason


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # The plugin's own examples (lib/escape_test.go and the reference).
        ("     ", 1000, "(empty)"),
        ("abc", 1000, "```\nabc```"),
        ("  abc ", 500, "```\nabc```"),
        ("`foo` `bar`", 1000, f"```\n`{F}foo`{F} `{F}bar`{F}```"),
        ("`foo`", 500, f"```\n`{F}foo`{F}```"),
        ("  123456789012345  ", 10, "```\n1234567890``` (truncated)"),
        # Exactly at the limit: no truncation marker.
        ("1234567890", 10, "```\n1234567890```"),
        # Newlines inside are kept; the closing fence is glued to the text.
        ("line one\nline two", 500, "```\nline one\nline two```"),
        # Go TrimSpace: NBSP, NEL, ideographic space, LS/PS trimmed...
        ("\xa0\x85\u3000x\u2028\u2029", 500, "```\nx```"),
        # ...but not the information separators U+001C..U+001F (str.strip() would trim them),
        ("\x1cx\x1f", 500, "```\n\x1cx\x1f```"),
        ("\x1c", 500, "```\n\x1c```"),
        # ...nor zero-width characters.
        ("\u200bx", 500, "```\n\u200bx```"),
        ("\t\r\n \v\f", 500, "(empty)"),
        # Limit 0 truncates before the first character.
        ("abc", 0, "```\n``` (truncated)"),
    ],
)
def test_escape_reason_strict(text: str, limit: int, expected: str) -> None:
    assert escape_reason(text, limit) == expected


def test_escape_reason_truncates_by_byte_offset() -> None:
    # "é" is 2 bytes: offsets 0,2,4,6,8,10 -> with limit 10 five characters fit.
    assert escape_reason("éééééé", 10) == "```\nééééé``` (truncated)"
    assert escape_reason("ééééé", 10) == "```\nééééé```"
    # A 3-byte char starting at offset 9 < 10 is written whole even though it ends at 12.
    assert escape_reason("123456789€x", 10) == "```\n123456789€``` (truncated)"
    # 4-byte emoji.
    assert escape_reason("😀😀😀", 8) == "```\n😀😀``` (truncated)"


def test_escape_reason_backticks_lower_the_limit() -> None:
    # Each backtick lowers the limit by one: after 2 backticks the limit is 8.
    assert escape_reason("``12345678", 10) == f"```\n`{F}`{F}123456``` (truncated)"
    assert escape_reason("```", 500) == f"```\n`{F}`{F}`{F}```"


def test_escape_reason_invalid_utf8_like_go() -> None:
    # Each invalid byte is one U+FFFD of width 1 (Python's "replace" would merge \xe2\x82).
    assert escape_reason(b"\xe2\x82a") == "```\n\ufffd\ufffda```"
    assert escape_reason(b"ok\xff") == "```\nok\ufffd```"
    # Width 1 for the truncation offsets too.
    assert escape_reason(b"\xff\xff\xffabc", 4) == "```\n\ufffd\ufffd\ufffda``` (truncated)"
    # surrogateescape'd str behaves like the raw bytes.
    assert escape_reason(b"a\xffb".decode("utf-8", "surrogateescape")) == "```\na\ufffdb```"
    # A real U+FFFD is valid (3 bytes) and kept.
    assert escape_reason("\ufffd") == "```\n\ufffd```"


def test_escape_reason_safe_is_identical_for_ordinary_reasons() -> None:
    for reason in ORDINARY_REASONS:
        assert escape_reason(reason, safe=True) == escape_reason(reason)


def test_escape_reason_safe_guards_block_breakouts() -> None:
    reason = "ok\n\n# Heading\n> quote\n- item\n1. item\n~~~\n| a |\nplain"
    assert escape_reason(reason, safe=True) == (
        f"```\nok\n{F}\n{F}# Heading\n{F}> quote\n{F}- item\n{F}1. item\n{F}~~~\n{F}| a |\nplain```"
    )
    # A single-line reason starting with a block marker is guarded too (it follows "```\n").
    assert escape_reason("# title", safe=True) == f"```\n{F}# title```"
    # CRLF and lone CR are line ends as well.
    assert escape_reason("a\r\n\r\n-b\r>c", safe=True) == f"```\na\r\n{F}\r\n{F}-b\r{F}>c```"


def test_escape_reason_safe_breaks_mentions_but_not_emails() -> None:
    assert escape_reason("hey @channel and @all, mail bob@example.com", safe=True) == (
        f"```\nhey @{Z}channel and @{Z}all, mail bob@example.com```"
    )
    assert escape_reason("@here", safe=True) == f"```\n@{Z}here```"
    # Backticks inside can make the server's inline-code regex close early: @ still broken.
    assert escape_reason("a`b @channel c`d", safe=True) == (f"```\na`{F}b @{Z}channel c`{F}d```")


def test_escape_reason_safe_keeps_the_strict_cut_point() -> None:
    text = "\n".join(["-"] * 400)
    strict, safe = escape_reason(text), escape_reason(text, safe=True)
    assert strict.endswith("``` (truncated)") and safe.endswith("``` (truncated)")
    assert safe.replace(F, "") == strict


# --------------------------------------------------------------------------- fit_message


def test_fit_message() -> None:
    assert fit_message("short", 10) == "short"
    out = fit_message("x" * 100, 50)
    assert len(out) == 50 and out.endswith(TRUNCATION_MARKER)
    # Byte limit with multibyte text: never splits a character.
    out = fit_message("€" * 100, 1000, max_bytes=90)
    assert len(out.encode()) <= 90 and out.endswith(TRUNCATION_MARKER)
    assert set(out[: -len(TRUNCATION_MARKER)]) == {"€"}


# --------------------------------------------------------------------------- safe_inline


@pytest.mark.parametrize("name", ORDINARY_USERS + ORDINARY_ROLES)
def test_safe_inline_leaves_ordinary_names(name: str) -> None:
    assert safe_inline(name) == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@channel", f"@{Z}channel"),
        ("@all", f"@{Z}all"),
        ("@here", f"@{Z}here"),
        ("hi @bob", f"hi @{Z}bob"),
        ("(@here)", f"\\(@{Z}here\\)"),
        ("[link](http://x)", "\\[link\\]\\(http\\://x\\)"),
        ("![img](https://x/y.png)", "\\!\\[img\\]\\(https\\://x/y.png\\)"),
        ("https://evil.example", "https\\://evil.example"),
        ("www.evil.example", "www\\.evil.example"),
        ("<b>x</b>", "\\<b\\>x\\</b\\>"),
        ("**bold** _em_ ~~s~~ `c`", "\\*\\*bold\\*\\* \\_em\\_ \\~\\~s\\~\\~ \\`c\\`"),
        ("# h", "\\# h"),
        ("a|b", "a\\|b"),
        ("back\\slash", "back\\\\slash"),
        ("line1\nline2\r\n\r\nline3", "line1 line2 line3"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. item", "1\\. item"),
        ("~town-square", "\\~town-square"),
    ],
)
def test_safe_inline_neutralises(raw: str, expected: str) -> None:
    assert safe_inline(raw) == expected
