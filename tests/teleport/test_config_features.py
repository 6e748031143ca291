"""The bridge-only TOML keys (issue 16): off by default, parsed, each bad value one line."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from teleportbridge.config import SAMPLE_CONFIG, ConfigError, parse_config
from teleportbridge.config_features import FEATURE_KEYS

BASE = '[mattermost]\nurl = "https://mm.example.com/"\ntoken = "t"\n'


def err(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_everything_off_by_default():
    f = parse_config(BASE).features
    assert not f.requester.notify and not f.requester.notify_on_post and not f.show_reviewers
    assert not f.reminders.enabled and not f.alerts.enabled and f.public_url == ""
    assert parse_config(BASE).warnings == ()


def test_sample_lists_every_key_commented():
    for key in (
        "notify_requester",
        "notify_requester_on_post",
        "requester_trait",
        "show_reviewers",
        "[reminders]",
        "after",
        "every",
        "max",
        "escalate_to",
        "escalate_after",
        "quiet_hours",
        "[audit]",
        "alert_channel",
        "alert_recipients",
        "digest_at",
        "[web]",
        "public_url",
    ):
        assert f"# {key}" in SAMPLE_CONFIG, key
    keys = set().union(*FEATURE_KEYS.values()) - {"recipients"}

    def uncomment(line: str) -> str:
        body = line.removeprefix("# ")
        name = body.split("=")[0].strip()
        feature = body.startswith(("[reminders]", "[audit]", "[web]")) or name in keys
        return body if line.startswith("# ") and feature else line

    uncommented = "\n".join(uncomment(line) for line in SAMPLE_CONFIG.splitlines())
    assert parse_config(uncommented).features.reminders.max == 3


def test_all_keys_parsed():
    f = parse_config(
        BASE + 'notify_requester = true\nrequester_trait = "chat"\nshow_reviewers = true\n'
        '[reminders]\nafter = "30m"\nevery = "1h"\nmax = 3\nescalate_to = ["eng/oncall"]\n'
        'escalate_after = "2h"\nquiet_hours = "22:00-07:00"\ntimezone = "Europe/Paris"\n'
        '[audit]\nalert_channel = "sec/alerts"\nalert_recipients = ["s@example.com"]\n'
        'digest_at = "09:00"\n[web]\npublic_url = "https://bridge.example.com/"\n'
    ).features
    assert f.requester.notify and f.requester.trait == "chat" and f.show_reviewers
    assert f.reminders.after == timedelta(minutes=30) and f.reminders.max == 3
    assert f.reminders.quiet_hours.contains(time(23, 0))
    assert not f.reminders.quiet_hours.contains(time(12, 0))
    assert f.alerts.handles == ("sec/alerts", "s@example.com")
    assert f.alerts.digest_at == time(9, 0)
    assert f.public_url == "https://bridge.example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + 'notify_requester = "yes"\n', "mattermost.notify_requester must be true or false"),
        (BASE + "show_reviewers = 1\n", "mattermost.show_reviewers must be true or false"),
        (BASE + "requester_trait = 3\n", "mattermost.requester_trait must be a string"),
        (BASE + '[reminders]\nafter = "soon"\n', 'reminders.after: invalid duration "soon"'),
        (BASE + '[reminders]\nafter = "0s"\n', "reminders.after must be a positive duration"),
        (BASE + '[reminders]\nevery = "1h"\n', "reminders.every requires reminders.after"),
        (BASE + '[reminders]\nafter = "1m"\nmax = -1\n', "reminders.max must be a whole number"),
        (BASE + '[reminders]\nafter = "1m"\nmax = true\n', "reminders.max must be a whole"),
        (
            BASE + '[reminders]\nescalate_to = ["a/b"]\n',
            "reminders.escalate_to requires reminders.escalate_after",
        ),
        (
            BASE + '[reminders]\nescalate_after = "1h"\n',
            "reminders.escalate_after requires reminders.escalate_to",
        ),
        (BASE + "[reminders]\nescalate_to = [1]\n", "reminders.escalate_to must be a list"),
        (BASE + '[reminders]\nquiet_hours = "22:00"\n', 'must be "HH:MM-HH:MM"'),
        (BASE + '[reminders]\nquiet_hours = "25:00-07:00"\n', "time of day"),
        (BASE + '[reminders]\nquiet_hours = "07:00-07:00"\n', "same time"),
        (BASE + '[reminders]\ntimezone = "Mars/Base"\n', 'unknown time zone "Mars/Base"'),
        (BASE + '[audit]\nalert_channel = "alerts"\n', 'must be "team/channel"'),
        (BASE + '[audit]\ndigest_at = "9am"\n', "audit.digest_at must be a time of day"),
        (BASE + '[audit]\ndigest_at = "09:00"\n', "audit.digest_at requires"),
        (BASE + '[web]\npublic_url = "bridge.example.com"\n', "web.public_url must be an http"),
        (BASE + "[reminders]\nafter = 30\n", "reminders.after must be a string"),
    ],
)
def test_bad_values_are_one_line(text, expected):
    assert expected in err(text)
