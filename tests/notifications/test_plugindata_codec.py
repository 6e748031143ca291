"""The plugin data codec must write exactly what the Go codec writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from notifications.plugindata_codec import (
    ALWAYS_KEYS,
    PLUGIN_NAME,
    Message,
    PluginData,
    PluginDataError,
    decode,
    empty_expect,
    encode,
    go_json,
)


def full() -> PluginData:
    return PluginData(
        user="alice",
        roles=["editor", "auditor"],
        resources=["/cluster/node/web-1", "db/<prod>&"],
        request_reason="need access",
        reviews_count=3,
        resolution="APPROVED",
        resolve_reason="ok",
        max_duration=datetime(2024, 3, 5, 14, 7, 0, tzinfo=UTC),
        system_annotations={"pagerduty_services": ["svc-a", "svc-b"], "a": []},
        suggested_reviewers=["bob@example.com"],
        logins_by_role={"editor": ["root", "ubuntu"]},
        messages=[Message("ch1", "post1"), Message("ch2", "post2")],
    )


def test_plugin_name() -> None:
    assert PLUGIN_NAME == "mattermost"


def test_encode_full_exact_bytes() -> None:
    assert encode(full()) == {
        "user": "alice",
        "roles": "editor,auditor",
        "resources": '["/cluster/node/web-1","db/\\u003cprod\\u003e\\u0026"]',
        "request_reason": "need access",
        "reviews_count": "3",
        "resolution": "APPROVED",
        "resolve_reason": "ok",
        "max_duration": "2024-03-05T14:07:00Z",
        "system_annotations": '{"a":[],"pagerduty_services":["svc-a","svc-b"]}',
        "suggested_reviewers": '["bob@example.com"]',
        "logins_by_role": '{"editor":["root","ubuntu"]}',
        "messages": "ch1/post1,ch2/post2",
    }


def test_encode_empty_has_go_key_set() -> None:
    # The Go encoder always writes these 8 keys and omits the 4 optional ones when empty.
    expected = dict.fromkeys(ALWAYS_KEYS, "")
    assert encode(PluginData()) == expected
    assert empty_expect() == expected
    assert set(expected) == {
        "user",
        "roles",
        "resources",
        "request_reason",
        "reviews_count",
        "resolution",
        "resolve_reason",
        "messages",
    }


def test_encode_pending_after_create() -> None:
    pd = PluginData(user="alice", roles=["editor"], request_reason="r")
    assert encode(pd) == {
        "user": "alice",
        "roles": "editor",
        "resources": "",
        "request_reason": "r",
        "reviews_count": "",
        "resolution": "",
        "resolve_reason": "",
        "messages": "",
    }


def test_max_duration_formats() -> None:
    plus2 = timezone(timedelta(hours=2))
    pd = PluginData(max_duration=datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=plus2))
    assert encode(pd)["max_duration"] == "2024-01-02T03:04:05+02:00"
    pd = PluginData(max_duration=datetime(2024, 1, 2, 3, 4, 5))  # naive = UTC
    assert encode(pd)["max_duration"] == "2024-01-02T03:04:05Z"
    minus = timezone(-timedelta(hours=5, minutes=30))
    pd = PluginData(max_duration=datetime(2024, 1, 2, 3, 4, 5, tzinfo=minus))
    assert encode(pd)["max_duration"] == "2024-01-02T03:04:05-05:30"


def test_roundtrip() -> None:
    assert decode(encode(full())) == full()
    assert decode(encode(PluginData())) == PluginData()


def test_decode_tolerates_missing_keys() -> None:
    assert decode({}) == PluginData()
    assert decode({"user": "bob"}).user == "bob"


def test_decode_messages_and_legacy_slack_form() -> None:
    pd = decode({"channel_id": "C1", "timestamp": "123.456", "messages": "a/b,bad,c/d/e,,x/y"})
    assert pd.messages == [("C1", "123.456"), ("a", "b"), ("x", "y")]
    # Only one half of the legacy pair: ignored. The old Mattermost postID key is not read.
    assert decode({"channel_id": "C1"}).messages == []
    assert decode({"channel_id": "C1", "postID": "p"}).messages == []


def test_decode_reviews_count_like_sscanf() -> None:
    assert decode({"reviews_count": "7"}).reviews_count == 7
    assert decode({"reviews_count": "12abc"}).reviews_count == 12
    assert decode({"reviews_count": " 4"}).reviews_count == 4
    assert decode({"reviews_count": "abc"}).reviews_count == 0
    assert decode({"reviews_count": ""}).reviews_count == 0


def test_decode_json_and_time() -> None:
    pd = decode(
        {
            "resources": '["a","b"]',
            "system_annotations": '{"k":["v"],"n":null}',
            "suggested_reviewers": "[]",
            "logins_by_role": "{}",
            "max_duration": "2024-03-05T14:07:00.123456789+01:00",
        }
    )
    assert pd.resources == ["a", "b"]
    assert pd.system_annotations == {"k": ["v"], "n": []}
    assert pd.suggested_reviewers == []
    assert pd.logins_by_role == {}
    assert pd.max_duration == datetime(
        2024, 3, 5, 14, 7, 0, 123456, tzinfo=timezone(timedelta(hours=1))
    )


@pytest.mark.parametrize(
    "data",
    [
        {"resources": "not json"},
        {"resources": '{"a":1}'},
        {"system_annotations": '{"a":"b"}'},
        {"logins_by_role": "[1]"},
        {"max_duration": "2024-03-05 14:07:00"},
        {"max_duration": "2024-13-05T14:07:00Z"},
    ],
)
def test_decode_errors(data: dict[str, str]) -> None:
    with pytest.raises(PluginDataError):
        decode(data)


def test_go_json_escaping() -> None:
    assert go_json(["<a>&b", "\u2028\u2029", "é", 'q"\\', "\n\t\b\f\x01"]) == (
        '["\\u003ca\\u003e\\u0026b","\\u2028\\u2029","é","q\\"\\\\","\\n\\t\\b\\f\\u0001"]'
    )
    assert go_json({"b": [], "a": ["x"]}) == '{"a":["x"],"b":[]}'
    assert go_json(["\udcff"]) == '["\\ufffd"]'


def test_role_without_logins_is_encoded_as_go_nil_slice():
    pd = PluginData(user="u", logins_by_role={"auditor": [], "editor": ["root"]})
    encoded = encode(pd)
    assert encoded["logins_by_role"] == '{"auditor":null,"editor":["root"]}'
    assert decode(encoded).logins_by_role == {"auditor": [], "editor": ["root"]}
