"""The plugin TOML: defaults, precedence and every validation error, text for text."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from teleportbridge.config import (
    SAMPLE_CONFIG,
    ConfigError,
    load_config,
    parse_config,
    parse_fail_fast,
)

BASE = '[mattermost]\nurl = "https://mm.example.com/"\ntoken = "t"\n'


def err(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults():
    cfg = parse_config(BASE)
    assert cfg.teleport.addr == "localhost:3025"
    assert cfg.mattermost.url == "https://mm.example.com"  # trailing slash trimmed
    assert cfg.log.output == "stderr" and cfg.log.severity == "INFO"
    assert cfg.teleport.refresh_identity_interval == timedelta(minutes=1)
    assert cfg.role_to_recipients == {}


def test_sample_config_parses():
    cfg = parse_config(SAMPLE_CONFIG)
    assert cfg.role_to_recipients == {"*": ("my-team/general", "first.last@example.com")}


def test_recipients_replace_role_map():
    cfg = parse_config(
        BASE + 'recipients = ["a@b.c"]\n[role_to_recipients]\n"*" = "eng/x"\n"db" = ["eng/db"]\n'
    )
    assert cfg.role_to_recipients == {"*": ("a@b.c",)}
    assert any("role_to_recipients" in w for w in cfg.warnings)


def test_role_routing_and_fallback():
    cfg = parse_config(
        BASE + '[role_to_recipients]\n"*" = "eng/all"\n"db" = ["eng/db", "d@x.io"]\n"web" = []\n'
    )
    assert cfg.recipients_for_roles(["db"]) == ["eng/db", "d@x.io"]
    assert cfg.recipients_for_roles(["web"]) == ["eng/all"]  # empty list falls back to "*"
    assert cfg.recipients_for_roles(["other", "db"]) == ["eng/all", "eng/db", "d@x.io"]


def test_deprecated_auth_server():
    cfg = parse_config('[teleport]\nauth_server = "t.example.com:443"\n' + BASE)
    assert cfg.teleport.addr == "t.example.com:443"
    assert any("deprecated" in w for w in cfg.warnings)


def test_token_from_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("  secret-from-file \n")
    cfg = parse_config(f'[mattermost]\nurl = "https://mm.example.com"\ntoken = "{token}"\n')
    assert cfg.mattermost.token == "secret-from-file"
    assert "secret-from-file" not in repr(cfg)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[teleport\n", "invalid TOML"),
        ('[mattermost]\nurl = "u"\n', "missing required value mattermost.token"),
        ('[mattermost]\ntoken = "t"\n', "missing required value mattermost.url"),
        ("[mattermost]\n", "missing required value mattermost.token"),
        (
            '[teleport]\nidentity = "i"\nrefresh_identity = true\nclient_key = "k"\n' + BASE,
            "configuration setting(s) `client_key` are provided but setting(s) "
            "`client_crt`, `root_cas` are missing",
        ),
        (
            '[teleport]\nidentity = "i"\nclient_key = "k"\nclient_crt = "c"\nroot_cas = "r"\n'
            + BASE,
            "configuration setting `identity` is mutually exclusive with all the `client_crt`, "
            "`client_key` and `root_cas` settings",
        ),
        (
            "[teleport]\nrefresh_identity = true\n" + BASE,
            "`refresh_identity` requires that `identity` be set",
        ),
        ("role_to_recipients = 3\n" + BASE, "unexpected type for recipients int64"),
        (
            BASE + '[role_to_recipients]\n"*" = [1, 2]\n',
            "unexpected type for recipients value []interface {}",
        ),
        (BASE + '[role_to_recipients]\n"*" = true\n', "unexpected type for recipients value bool"),
        (BASE + '[log]\nseverity = "loud"\n', 'unsupported logger severity "loud"'),
        (
            '[teleport]\nidentity = "i"\nrefresh_identity = true\n'
            'refresh_identity_interval = "soon"\n' + BASE,
            "teleport.refresh_identity_interval",
        ),
        (
            '[teleport]\nidentity = "i"\nrefresh_identity_interval = 60\n' + BASE,
            'teleport.refresh_identity_interval must be a duration string such as "1m" or '
            '"90s", got int64',
        ),
        ("a = " + "[" * 3000 + "]" * 3000, "invalid TOML: arrays or tables nested too deeply"),
        ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nested too deeply"),
        (BASE.replace("https://mm.example.com/", "mm.example.com"), "must start with http://"),
        (BASE.replace("https://mm.example.com/", "https://"), "mattermost.url has no host"),
        (BASE.replace("https://mm.example.com/", "http://[::1"), "not a valid URL"),
        (BASE.replace("https://mm.example.com/", "http://h:0"), "mattermost.url has an invalid"),
        (BASE.replace("https://mm.example.com/", "http://a b"), "whitespace or a control"),
        (
            BASE.replace("[mattermost]\n", '[mattermost]\nshow_resources = "yes"\n'),
            "mattermost.show_resources must be a boolean, got string",
        ),
    ],
)
def test_validation_errors(text, expected):
    assert expected in err(text)


def test_token_checked_before_url_and_teleport_first():
    assert err("[teleport]\nrefresh_identity = true\n[mattermost]\n") == (
        "`refresh_identity` requires that `identity` be set"
    )


def test_missing_token_file():
    assert err('[mattermost]\nurl = "u"\ntoken = "/nonexistent/token"\n') == (
        "Error reading password from /nonexistent/token"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_token_file(tmp_path):
    token = tmp_path / "token"
    token.write_text("x")
    token.chmod(0)
    assert "permission denied" in err(f'[mattermost]\nurl = "u"\ntoken = "{token}"\n')


def test_severity_aliases():
    for given, level in [
        ("err", "ERROR"),
        ("WARN", "WARNING"),
        ("Debug", "DEBUG"),
        ("trace", "DEBUG"),
    ]:
        assert parse_config(BASE + f'[log]\nseverity = "{given}"\n').log.severity == level


def test_unknown_keys_warn():
    cfg = parse_config('[teleport]\nadress = "x"\n' + BASE)
    assert cfg.warnings == ("unknown key teleport.adress is ignored",)


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_go_duration():
    cfg = parse_config(
        '[teleport]\nidentity = "i"\nrefresh_identity = true\n'
        'refresh_identity_interval = "1h30m5s"\n' + BASE
    )
    assert cfg.teleport.refresh_identity_interval == timedelta(hours=1, minutes=30, seconds=5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, False) for v in ("", "0", "f", "F", "FALSE", "false", "False")],
        *[(v, True) for v in ("1", "t", "T", "TRUE", "true", "True")],
    ],
)
def test_fail_fast_follows_go_parsebool(value, expected):
    assert parse_fail_fast(value) is expected


@pytest.mark.parametrize("value", ["yes", "on", "tRUE", " 1"])
def test_fail_fast_rejects_what_go_rejects(value):
    with pytest.raises(ConfigError) as err:
        parse_fail_fast(value)
    assert str(err.value) == (
        f"failed to parse content '{value}' of the TELEPORT_PLUGIN_FAIL_FAST environment variable"
    )


@pytest.mark.parametrize(
    ("toml_value", "problem"),
    [
        (r"secretpart1\nsecretpart2", "a line break at position 12 of 23"),
        (r"secretpart1\rsecretpart2", "a line break at position 12 of 23"),
        (r"secretpart1\u0000secretpart2", "a control character at position 12 of 23"),
        (r"secretpart1\tsecretpart2", "a control character at position 12 of 23"),
        ("secretpart1€secretpart2", "a non-ASCII character at position 12 of 23"),
        ("secretpart1ésecretpart2", "a non-ASCII character at position 12 of 23"),
    ],
)
def test_unsendable_token_is_named_never_shown(toml_value, problem):
    message = err(f'[mattermost]\nurl = "u"\ntoken = "{toml_value}"\n')
    assert message == (
        f"mattermost.token contains {problem}: a Mattermost token is one line of letters and digits"
    )
    assert "secretpart" not in message


def test_token_file_with_a_line_break_inside(tmp_path):
    token = tmp_path / "token"
    token.write_bytes(b"\n  secretpart1\nsecretpart2  \n")  # outer whitespace is trimmed
    message = err(f'[mattermost]\nurl = "u"\ntoken = "{token}"\n')
    assert message == (
        f"mattermost.token (read from {token}) contains a line break at position 12 of 23: "
        "a Mattermost token is one line of letters and digits"
    )


def test_show_resources_is_off_by_default():
    assert parse_config(BASE).mattermost.show_resources is False
    on = parse_config(BASE.replace("[mattermost]\n", "[mattermost]\nshow_resources = true\n"))
    assert on.mattermost.show_resources is True
