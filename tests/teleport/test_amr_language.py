"""The access monitoring rule condition language: every variable, function and method of
../shared/reference/amr-conditions.md, the reference's eight example conditions, parse and
type errors (reported when the rule is loaded), and clock_between's timezone edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teleportbridge.amr import syntax
from teleportbridge.amr.compiler import ConditionError, compile_condition
from teleportbridge.amr.values import ConditionEvalError, RequestFacts

T0 = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)  # a Wednesday

FACTS = RequestFacts(
    roles=("editor", "reader", "writer"),
    suggested_reviewers=("bob@example.com", "carol@corp.test"),
    annotations={"pagerduty_services": ("payments-api",), "empty": ()},
    user="erin",
    reason="deploy hotfix",
    creation_time=T0,
    expiry=datetime(2026, 3, 4, 18, 30, tzinfo=UTC),
    resources=(
        {"env": "prod", "team": "payments", "tier": "db"},
        {"env": "prod", "team": "search"},
    ),
    traits={"team": ("payments", "infra"), "logins": ("erin", "root")},
)


def run(text: str, facts: RequestFacts = FACTS):
    return compile_condition(text).evaluate(facts)


# (condition, expected value) over FACTS: every variable, function and method.
CASES = [
    # variables
    ("true", True),
    ("false", False),
    ('access_request.spec.roles == set("editor", "reader", "writer")', True),
    ('access_request.spec.suggested_reviewers.contains("bob@example.com")', True),
    ('access_request.spec.system_annotations["pagerduty_services"]', frozenset({"payments-api"})),
    ('access_request.spec.system_annotations["missing"]', frozenset()),
    ("access_request.spec.user", "erin"),
    ("access_request.spec.request_reason", "deploy hotfix"),
    ("access_request.spec.creation_time", T0),
    ('access_request.spec.expiry.after(time.RFC3339("2026-03-04T18:00:00Z"))', True),
    ('access_request.spec.resource_labels_union["env"]', frozenset({"prod"})),
    ('access_request.spec.resource_labels_union["team"]', frozenset({"payments", "search"})),
    ('access_request.spec.resource_labels_intersection["env"]', frozenset({"prod"})),
    ('access_request.spec.resource_labels_intersection["team"]', frozenset()),
    ('access_request.spec.resource_labels_intersection["tier"]', frozenset()),
    ('user.traits["team"]', frozenset({"payments", "infra"})),
    # functions
    ('set("a", "b", "a")', frozenset({"a", "b"})),
    ("set()", frozenset()),
    ('dict(pair("k", set("v")))["k"]', frozenset({"v"})),
    ('union(set("a"), set("b"), access_request.spec.roles)', frozenset(FACTS.roles) | {"a", "b"}),
    ('ifelse(true, "yes", "no")', "yes"),
    ('ifelse(access_request.spec.user == "bob", "yes", "no")', "no"),
    ('choose(option(false, "a"), option(true, "b"), option(true, "c"))', "b"),
    ('strings.upper("abc")', "ABC"),
    ('strings.upper(set("a", "b"))', frozenset({"A", "B"})),
    ('strings.lower(access_request.spec.user) == "erin"', True),
    ('strings.replaceall("a-b-c", "-", "_")', "a_b_c"),
    ('strings.replaceall(set("x-y"), "-", "")', frozenset({"xy"})),
    ('strings.split(set("a,b", "c"), ",")', frozenset({"a", "b", "c"})),
    ("email.local(access_request.spec.suggested_reviewers)", frozenset({"bob", "carol"})),
    ('regexp.match(access_request.spec.roles, "^wri")', True),
    ('regexp.match(access_request.spec.roles, "^admin$")', False),
    ('regexp.match(set("xaby"), "ab")', True),  # unanchored, as Go's MatchString
    ('regexp.replace(set("team-a", "other"), "^team-(.*)$", "$1")', frozenset({"a"})),
    ('regexp.replace(set("ab"), "(?P<x>a)", "${x}${x}")', frozenset({"aab"})),
    ('time.RFC3339("2026-03-04T10:30:00Z") == access_request.spec.creation_time', True),
    ('time.RFC3339("2026-03-04T12:30:00+02:00") == access_request.spec.creation_time', True),
    ("before(access_request.spec.creation_time, access_request.spec.expiry)", True),
    ("after(access_request.spec.creation_time, access_request.spec.expiry)", False),
    (
        "between(access_request.spec.creation_time, access_request.spec.expiry, "
        'time.RFC3339("2026-03-04T00:00:00Z"))',
        True,  # times: bounds in either order, strictly inside
    ),
    (
        "between(access_request.spec.creation_time, access_request.spec.creation_time, "
        "access_request.spec.expiry)",
        False,
    ),
    ('between("1.2.0", "1.2.0", "1.3.0")', True),  # semver: a <= v < b
    ('between("1.3.0", "1.2.0", "1.3.0")', False),
    ('between("1.3.0-rc.1", "1.2.0", "1.3.0")', True),
    ('newer_than("v16.4.2", "16.4.10")', False),
    ('newer_than("16.4.10", "16.4.2")', True),
    ('older_than("1.0.0-alpha", "1.0.0")', True),
    ('contains_any(access_request.spec.roles, set("dba", "editor"))', True),
    ("contains_any(access_request.spec.roles, set())", False),
    ('contains_all(access_request.spec.roles, set("reader", "writer"))', True),
    ('contains_all(access_request.spec.roles, set("reader", "dba"))', False),
    ("contains_all(access_request.spec.roles, set())", False),  # empty set: false
    ("is_empty(set())", True),
    ('is_empty(access_request.spec.system_annotations["empty"])', True),
    ("day(access_request.spec.creation_time)", "Wednesday"),
    ('clock_between(access_request.spec.creation_time, "09:00", "17:00")', True),
    ('clock_between(access_request.spec.creation_time, "10:30", "17:00")', False),  # strict
    # methods
    ('access_request.spec.roles.contains("editor")', True),
    ('access_request.spec.roles.add("x", "y").contains("y")', True),
    ('user.traits.put("team", set("z"))["team"]', frozenset({"z"})),
    ('user.traits.add_values("team", "z")["team"]', frozenset({"payments", "infra", "z"})),
    ('user.traits.add_values("new", "z")["new"]', frozenset({"z"})),
    ('access_request.spec.roles.remove("editor", "nope")', frozenset({"reader", "writer"})),
    ('user.traits.remove("team")["team"]', frozenset()),
    ('user.traits.remove("team")["logins"]', frozenset({"erin", "root"})),
    ("access_request.spec.creation_time.before(access_request.spec.expiry)", True),
    ("access_request.spec.expiry.after(access_request.spec.creation_time)", True),
    (
        "access_request.spec.creation_time.between("
        'time.RFC3339("2026-03-04T00:00:00Z"), access_request.spec.expiry)',
        True,
    ),
    ('access_request.spec.roles.contains_any(set("writer"))', True),
    ('access_request.spec.roles.contains_all(set("writer", "editor"))', True),
    ("access_request.spec.roles.contains_all(set())", False),
    ("set().isempty()", True),
    ("access_request.spec.roles.isempty()", False),
    ("access_request.spec.creation_time.day()", "Wednesday"),
    ('access_request.spec.creation_time.clock_between("10:00", "11:00")', True),
    # operators, literals, precedence
    ('"a\\tb" == "a\tb"', True),
    ('"\\x41\\101\\u00e9\\U0001F600" == "A' + "A\u00e9\U0001f600" + '"', True),
    ('`raw\\n` == "raw\\\\n"', True),
    ("!true == false", True),  # Go: unary binds tighter than ==
    ("true || false && false", True),  # && binds tighter than ||
    ("(true || false) && false", False),
    ('access_request.spec.user != "bob" && !(access_request.spec.user == "bob")', True),
    ('set("a", "b") == set("b", "a")', True),  # sets compare by value
    ('user.traits["team"] == set("infra", "payments")', True),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_every_variable_function_and_method(text, expected):
    assert run(text) == expected


# The reference's eight example conditions, each with a request it matches and one it does not.
EXAMPLES = [
    (
        'contains_any(access_request.spec.roles, set("editor", "dba"))',
        {"roles": ("dba",)},
        {"roles": ("reader",)},
    ),
    (
        'access_request.spec.roles.contains("auditor") && access_request.spec.user == "erin"',
        {"roles": ("auditor",), "user": "erin"},
        {"roles": ("auditor",), "user": "bob"},
    ),
    (
        'contains_all(access_request.spec.roles, set("reader", "writer"))',
        {"roles": ("reader", "writer", "x")},
        {"roles": ("reader",)},
    ),
    (
        'contains_any(user.traits["team"], set("payments"))',
        {"traits": {"team": ("payments",)}},
        {"traits": {}},
    ),
    (
        'access_request.spec.resource_labels_union["env"].contains("prod")',
        {"resources": ({"env": "dev"}, {"env": "prod"})},
        {"resources": ()},
    ),
    (
        'regexp.match(access_request.spec.suggested_reviewers, "^.*@example[.]com$")',
        {"suggested_reviewers": ("a@example.com",)},
        {"suggested_reviewers": ("a@exampleXcom",)},
    ),
    (
        '!is_empty(access_request.spec.system_annotations["pagerduty_services"])',
        {"annotations": {"pagerduty_services": ("svc",)}},
        {"annotations": {}},
    ),
    (
        'clock_between(access_request.spec.creation_time, "09:00", "17:00") && '
        'day(access_request.spec.creation_time) != "Saturday"',
        {"creation_time": datetime(2026, 3, 6, 12, 0, tzinfo=UTC)},  # Friday noon
        {"creation_time": datetime(2026, 3, 7, 12, 0, tzinfo=UTC)},  # Saturday noon
    ),
]


@pytest.mark.parametrize(("text", "yes", "no"), EXAMPLES, ids=[e[0][:50] for e in EXAMPLES])
def test_reference_examples(text, yes, no):
    condition = compile_condition(text)
    assert condition.matches(RequestFacts(**yes)) is True
    assert condition.matches(RequestFacts(**no)) is False


SYNTAX_ERRORS = [
    ("", "empty condition"),
    ("   ", "empty condition"),
    ("true &&", "unexpected end of condition"),
    ("(true", "unexpected end of condition"),
    ("true)", "column 5: unexpected ')'"),
    ("a $ b", "column 3: unexpected character '$'"),
    ("a & b", "column 3: unexpected character '&'"),
    ('"unterminated', "column 1: unexpected character '\"'"),
    ('"bad \\q escape"', "unknown escape sequence \\q"),
    ('"\\x4"', "invalid \\x escape"),
    ('"\\400"', "invalid octal escape"),
    ('"\\uD800"', "not a valid code point"),
    ("set('a')", 'unexpected character "\'"'),  # Go rune literals are not strings
    ('set("a").x.y("b")', "unexpected selector 'x.y'"),
    ("true false", "column 6: unexpected 'false'"),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_syntax_errors_are_one_line_with_a_position(text, message):
    with pytest.raises(syntax.ConditionSyntaxError) as err:
        compile_condition(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


TYPE_ERRORS = [
    ("access_request.spec.nope", "unknown identifier 'access_request.spec.nope'"),
    ('plugin.spec.name == "mattermost"', "unknown identifier 'plugin.spec.name'"),
    ('nope("a")', "unknown function 'nope'"),
    ('contains(access_request.spec.roles, "a")', "use X.contains(value)"),
    ('equals(access_request.spec.user, "a")', "use =="),
    ("isempty(set())", "the function is spelled is_empty"),
    ("set().is_empty()", "the method is spelled isempty"),
    ('access_request.spec.roles.nope("a")', "unknown method 'nope'"),
    ('contains_any(access_request.spec.user, set("a"))', "argument 1 of contains_any must be set"),
    ("contains_any(access_request.spec.roles)", "contains_any takes 2 argument(s), got 1"),
    ('set("a", true)', "argument 2 of set must be string, got bool"),
    ('access_request.spec.user.contains("e")', "needs a set receiver, got string"),
    ('access_request.spec.roles["x"]', "cannot index a set"),
    ("user.traits[true]", "a dict key must be a string"),
    ("access_request.spec.user && true", "operator && needs bool, got string"),
    ("!access_request.spec.roles", "operator ! needs bool, got set"),
    ('access_request.spec.user == set("a")', "cannot compare string with set"),
    ('day("Monday")', "argument 1 of day must be time, got string"),
    ("is_empty(user.traits)", "argument 1 of is_empty must be set, got dict"),
    ("set", "set is a function; call it"),
    ('time.RFC3339("2026-03-04 10:30:00")', "cannot parse"),
    ('time.RFC3339("2026-02-30T10:30:00Z")', "time.RFC3339"),
    ('regexp.match(access_request.spec.roles, "(")', "invalid regular expression"),
    ('regexp.match(access_request.spec.roles, "(?=a)")', "not RE2 syntax"),
    ('clock_between(access_request.spec.creation_time, "24:00", "17:00")', "invalid clock"),
    ('clock_between(access_request.spec.creation_time, "9:5", "17:00")', "invalid clock"),
    ('clock_between(access_request.spec.creation_time, "09:00")', "takes 3 argument(s)"),
    ('newer_than("1.2", "1.0.0")', "invalid semantic version"),
    ('choose(option(false, "a"))', "no option could be selected"),
]


@pytest.mark.parametrize(("text", "message"), TYPE_ERRORS)
def test_type_errors_and_unknown_names_fail_at_load(text, message):
    with pytest.raises(ConditionError) as err:
        compile_condition(text)
    assert message in str(err.value)


def test_non_boolean_result_is_no_match():
    condition = compile_condition("access_request.spec.user")
    assert condition.result_type == "string"
    assert condition.matches(FACTS) is False


def test_errors_only_known_per_request_are_evaluation_errors():
    # The email is the request's: it cannot be checked at load.
    condition = compile_condition("email.local(access_request.spec.suggested_reviewers)")
    with pytest.raises(ConditionEvalError, match="failed to parse email 'not an email'"):
        condition.matches(RequestFacts(suggested_reviewers=("not an email",)))
    chosen = compile_condition('choose(option(access_request.spec.user == "x", true))')
    with pytest.raises(ConditionEvalError, match="no option could be selected"):
        chosen.matches(FACTS)
    anything = compile_condition(
        'ifelse(access_request.spec.user == "erin", "a", set("b")).contains("b")'
    )
    with pytest.raises(ConditionEvalError, match="argument 1 of method contains must be set"):
        anything.matches(FACTS)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


CLOCK = 'clock_between(access_request.spec.creation_time, "09:00", "17:00")'
# (creation time, rule timezone, expected)
CLOCK_CASES = [
    ("2026-03-04T09:00:00+00:00", "", False),  # exactly the start: strictly between
    ("2026-03-04T09:00:00.000001+00:00", "", True),
    ("2026-03-04T16:59:59+00:00", "", True),
    ("2026-03-04T17:00:00+00:00", "", False),  # exactly the end
    ("2026-03-04T08:30:00+00:00", "Europe/Paris", True),  # 09:30 in Paris
    ("2026-03-04T16:30:00+00:00", "Europe/Paris", False),  # 17:30 in Paris
    ("2026-03-04T23:30:00+00:00", "Asia/Tokyo", False),  # 08:30 on the 5th in Tokyo
    ("2026-03-05T00:30:00+00:00", "Asia/Tokyo", True),  # 09:30 on the 5th in Tokyo
    ("2026-03-04T15:00:00+00:00", "America/Los_Angeles", False),  # 07:00 local
    # DST: on 2026-03-29 Paris jumps from 02:00 to 03:00 (UTC+1 -> UTC+2).
    ("2026-03-29T07:30:00+00:00", "Europe/Paris", True),  # 09:30 CEST
    ("2026-03-29T06:59:00+00:00", "Europe/Paris", False),  # 08:59 CEST
]


@pytest.mark.parametrize(("when", "zone", "expected"), CLOCK_CASES)
def test_clock_between_in_the_rule_timezone(when, zone, expected):
    facts = RequestFacts(creation_time=at(when), timezone=zone)
    assert compile_condition(CLOCK).matches(facts) is expected


def test_clock_between_across_dst_changes_follows_go_time_date():
    # 02:30 does not exist in Paris on 2026-03-29 (02:00 -> 03:00): Go's time.Date makes it
    # 01:30 UTC (03:30 CEST), so 03:15 CEST is not yet after it.
    gap = 'clock_between(access_request.spec.creation_time, "02:30", "04:00")'
    paris = "Europe/Paris"
    assert not compile_condition(gap).matches(
        RequestFacts(creation_time=at("2026-03-29T01:15:00+00:00"), timezone=paris)
    )
    assert compile_condition(gap).matches(
        RequestFacts(creation_time=at("2026-03-29T01:45:00+00:00"), timezone=paris)
    )
    # 02:30 happens twice on 2026-10-25 (03:00 -> 02:00); Go picks the later one (CET,
    # 01:30 UTC), so the first 02:45 (00:45 UTC, CEST) is before the start.
    twice = 'clock_between(access_request.spec.creation_time, "02:30", "05:00")'
    assert not compile_condition(twice).matches(
        RequestFacts(creation_time=at("2026-10-25T00:45:00+00:00"), timezone=paris)
    )
    assert compile_condition(twice).matches(
        RequestFacts(creation_time=at("2026-10-25T01:45:00+00:00"), timezone=paris)
    )


def test_clock_between_never_wraps_midnight():
    night = 'clock_between(access_request.spec.creation_time, "22:00", "06:00")'
    late = RequestFacts(creation_time=at("2026-03-04T23:00:00+00:00"))
    assert compile_condition(night).matches(late) is False


def test_unknown_timezone_is_an_evaluation_error():
    with pytest.raises(ConditionEvalError, match="failed to load time locale: 'Mars/Base'"):
        compile_condition(CLOCK).matches(RequestFacts(creation_time=T0, timezone="Mars/Base"))


def test_day_uses_utc_like_upstream():
    # 23:30 UTC on a Wednesday is Thursday in Tokyo; upstream's day() does not convert.
    facts = RequestFacts(creation_time=at("2026-03-04T23:30:00+00:00"), timezone="Asia/Tokyo")
    assert run("day(access_request.spec.creation_time)", facts) == "Wednesday"


# ---- round trip: render random ASTs, parse them back --------------------------------------

names = st.sampled_from(["true", "false", "access_request.spec.user", "user.traits", "a.b_c"])
strings = st.text(max_size=8)


def render_literal(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch != "\n":
            out.append(ch)
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def exprs():
    leaf = st.one_of(
        strings.map(lambda s: (render_literal(s), ("lit", s))),
        names.map(lambda n: (n, ("name", n))),
    )

    def extend(children):
        binary = st.tuples(st.sampled_from(["&&", "||", "==", "!="]), children, children).map(
            lambda t: (f"({t[1][0]}) {t[0]} ({t[2][0]})", ("bin", t[0], t[1][1], t[2][1]))
        )
        unary = children.map(lambda c: (f"!({c[0]})", ("not", c[1])))
        call = st.tuples(names, st.lists(children, max_size=3)).map(
            lambda t: (
                f"{t[0]}({', '.join(c[0] for c in t[1])})",
                ("call", t[0], tuple(c[1] for c in t[1])),
            )
        )
        index = st.tuples(children, children).map(
            lambda t: (f"({t[0][0]})[{t[1][0]}]", ("index", t[0][1], t[1][1]))
        )
        return st.one_of(binary, unary, call, index)

    return st.recursive(leaf, extend, max_leaves=8)


def shape(node: syntax.Node):
    if isinstance(node, syntax.Literal):
        return ("lit", node.value)
    if isinstance(node, syntax.Name):
        return ("name", node.name)
    if isinstance(node, syntax.Binary):
        return ("bin", node.op, shape(node.left), shape(node.right))
    if isinstance(node, syntax.Unary):
        return ("not", shape(node.operand))
    if isinstance(node, syntax.Call):
        return ("call", node.name, tuple(shape(a) for a in node.args))
    if isinstance(node, syntax.Index):
        return ("index", shape(node.target), shape(node.key))
    raise AssertionError(node)


@settings(max_examples=150, deadline=None)
@given(exprs())
def test_parser_round_trip(case):
    text, expected = case
    assert shape(syntax.parse(text)) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes_the_compiler(text):
    try:
        compile_condition(text)
    except ConditionError as exc:
        assert "\n" not in str(exc)
