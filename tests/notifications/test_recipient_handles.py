"""Recipient classification must match Go's net/mail + strings.Split rule exactly."""

from __future__ import annotations

import pytest

from notifications.recipient_handles import (
    Handle,
    display_name_hint,
    go_quote,
    is_email,
    parse_handle,
)


@pytest.mark.parametrize(
    "s",
    [
        "alice@example.com",
        "a@b",  # Go needs no dot in the domain
        "a@b.c",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.com",
        "a!#$%&'*+-/=?^_`{|}~@example.com",  # all atext specials
        "a/b@c.d",  # '/' is atext: an e-mail, not a channel
        "Zoë@exämple.de",  # RFC 6532: non-ASCII allowed
        "a@[10.0.0.1]",
        "a@[::1]",
        "a@b-c.d",
    ],
)
def test_is_email_valid(s: str) -> None:
    assert is_email(s)


@pytest.mark.parametrize(
    "s",
    [
        "",
        "Alice <a@b.c>",  # display name: Address differs from input
        "<a@b.c>",
        "a b@c.d",
        " a@b.c",
        "a@b.c ",
        "a@ b.c",
        "a@b.c (comment)",
        '"a"@b.c',  # quoted local part: Go stores it unquoted, so never equal
        '"a b"@c.d',
        "a@b@c",
        "@b.c",
        "a@",
        "a",
        ".a@b.c",
        "a.@b.c",
        "a..b@c.d",
        "a@.b",
        "a@b.",
        "a@b..c",
        "a@[1.2.3]",
        "a@[IPv6:::1]",
        "a@[fe80::1%eth0]",
        "a@[1.2.3.4]x",
        "a,b@c.d",
        "a@b,c",
        "a(b)@c.d",
        "a@b;c",
        "team/channel",
        "grp: a@b.c;",
        "a\\b@c.d",
        "\udcffa@b.c",  # invalid UTF-8 in Go terms
        "a\t@b.c",
    ],
)
def test_is_email_invalid(s: str) -> None:
    assert not is_email(s)


def test_parse_handle_email_and_channel() -> None:
    assert parse_handle("alice@example.com") == Handle(
        kind="email", raw="alice@example.com", email="alice@example.com"
    )
    assert parse_handle("myteam/town-square") == Handle(
        kind="channel", raw="myteam/town-square", team="myteam", channel="town-square"
    )
    assert parse_handle("a/b@c.d").kind == "email"
    assert parse_handle("My Team/Town Square").channel == "Town Square"


PREFIX = 'Recipient must be either a user email or a channel in the format "team/channel" but got '


@pytest.mark.parametrize(
    ("s", "quoted"),
    [
        ("town-square", '"town-square"'),
        ("a/b/c", '"a/b/c"'),
        ("team/", '"team/"'),
        ("/channel", '"/channel"'),
        ("", '""'),
        ("Alice <a@b.c>", '"Alice <a@b.c>"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\there\n", '"tab\\there\\n"'),
        ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
        ("caf\u00e9 \u2603", '"caf\u00e9 \u2603"'),
        ("nbsp\u00a0zw\u200b", '"nbsp\\u00a0zw\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
    ],
)
def test_parse_handle_error_text(s: str, quoted: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_handle(s)
    assert str(info.value) == PREFIX + quoted


def test_go_quote_invalid_bytes() -> None:
    assert go_quote(b"a\xffb") == '"a\\xffb"'
    assert go_quote("\ufffd") == '"\ufffd"'


def test_display_name_hint() -> None:
    assert display_name_hint(parse_handle("myteam/Town Square")) == (
        '"Town Square" looks like a display name: use the channel name from the URL, '
        'e.g. "myteam/town-square"'
    )
    assert display_name_hint(parse_handle("My Team/town-square")) == (
        '"My Team" looks like a display name: use the team name from the URL, '
        'e.g. "my-team/town-square"'
    )
    assert 'e.g. "eng/cafe-ops"' in display_name_hint(parse_handle("eng/Café  Ops!"))
    assert "not found" in display_name_hint(parse_handle("eng/access-requests"))
    assert "Show Email Address" in display_name_hint(parse_handle("a@b.c"))
