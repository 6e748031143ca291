"""The functions and methods of the condition language, with their static signatures.

Semantics follow Teleport's `lib/expression` parser spec plus the two access-monitoring-only
helpers (`day`, `clock_between`); see ../shared/reference/amr-conditions.md. Each entry says
which argument types it takes so the compiler rejects `contains_any("a", "b")` when the rule is
loaded, not when a request arrives.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from teleportbridge.amr.values import (
    ANY,
    BOOL,
    DICT,
    OPTION,
    PAIR,
    SET,
    STRING,
    TIME,
    ConditionEvalError,
    Option,
    Pair,
    RequestFacts,
    make_dict,
    type_of,
)

STR_OR_SET = "string|set"
COLLECTION = "set|dict"
TIME_OR_STRING = "time|string"


def accepts(param: str, arg: str) -> bool:
    """Whether an argument of static type `arg` may be passed where `param` is expected
    (`any` on either side is only checked when evaluated)."""
    return param == ANY or arg == ANY or arg in param.split("|")


@dataclasses.dataclass(frozen=True)
class Signature:
    params: tuple[str, ...]
    variadic: str | None
    # The result type, from the argument types (ifelse/strings.* return what they were given).
    returns: Callable[[list[str]], str]
    impl: Callable[..., Any]
    needs_facts: bool = False  # reads the request (timezone): never folded at load time


def _fixed(t: str) -> Callable[[list[str]], str]:
    return lambda _args: t


def _same_as(i: int) -> Callable[[list[str]], str]:
    return lambda args: args[i] if i < len(args) else ANY


def _ifelse_type(args: list[str]) -> str:
    return args[1] if len(args) == 3 and args[1] == args[2] else ANY


# ---- helpers -----------------------------------------------------------------------------


def _transform(name: str, value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, frozenset):
        return frozenset(fn(v) for v in value)
    raise ConditionEvalError(
        f"failed to evaluate argument to {name}: expected string or set, got {type_of(value)}"
    )


_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")


def go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern. Python's syntax is a superset for what rules use; the
    constructs RE2 refuses (lookaround, backreferences) are refused here too."""
    if _NOT_RE2.search(pattern):
        raise ConditionEvalError(f"invalid regular expression {pattern!r}: not RE2 syntax")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConditionEvalError(f"invalid regular expression {pattern!r}: {exc}") from None


_GO_TEMPLATE = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _go_expand(template: str) -> str:
    """Go's `$1`/`${name}` replacement syntax as Python's `\\g<...>` (and `$$` as `$`)."""
    out = []
    last = 0
    for m in _GO_TEMPLATE.finditer(template):
        out.append(template[last : m.start()].replace("\\", "\\\\"))
        if m.group(1) == "$":
            out.append("$")
        else:
            out.append(f"\\g<{m.group(2) or m.group(3)}>")
        last = m.end()
    out.append(template[last:].replace("\\", "\\\\"))
    return "".join(out)


def _regexp_replace(inputs: frozenset[str], pattern: str, repl: str) -> frozenset[str]:
    # Teleport's trait interpolation drops values the expression does not match.
    compiled = go_regexp(pattern)
    template = _go_expand(repl)
    try:
        return frozenset(compiled.sub(template, v) for v in inputs if compiled.search(v))
    except (re.error, IndexError) as exc:
        raise ConditionEvalError(f"regexp.replace: bad replacement {repl!r}: {exc}") from None


def _email_local(emails: frozenset[str]) -> frozenset[str]:
    out = set()
    for email in emails:
        _, address = parseaddr(email)
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain:
            raise ConditionEvalError(f"failed to parse email {email!r}")
        out.add(local)
    return frozenset(out)


def _rfc3339(text: str) -> datetime:
    # Go's time.RFC3339 layout: a "T" separator, seconds required, Z or a numeric offset.
    m = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", text
    )
    if not m:
        raise ConditionEvalError(f"time.RFC3339: cannot parse {text!r} as RFC 3339")
    try:
        fraction = (m.group(7) or ".0")[1:7].ljust(6, "0")
        value = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            f".{fraction}{'+00:00' if m.group(8) in 'Zz' else m.group(8)}"
        )
    except ValueError as exc:
        raise ConditionEvalError(f"time.RFC3339: {text!r}: {exc}") from None
    return value.astimezone(UTC)


_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?"
)


def semver_key(text: str) -> tuple[Any, ...]:
    """A sort key with semver 2.0 precedence (pre-releases before the release)."""
    m = _SEMVER.fullmatch(text)
    if not m:
        raise ConditionEvalError(f"invalid semantic version {text!r}")
    core = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m.group(4) is None:
        return (*core, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in m.group(4).split("."))
    return (*core, 0, parts)


def _between(value: Any, a: Any, b: Any) -> bool:
    kinds = {type_of(value), type_of(a), type_of(b)}
    if kinds == {TIME}:
        low, high = (a, b) if a <= b else (b, a)
        return low < value < high
    if kinds == {STRING}:
        return semver_key(a) <= semver_key(value) < semver_key(b)
    raise ConditionEvalError("between: expected three times or three versions")


def _contains_all(s1: frozenset[str], s2: frozenset[str]) -> bool:
    return bool(s2) and s2 <= s1


def _is_empty(value: Any) -> bool:
    if isinstance(value, frozenset | Mapping):
        return len(value) == 0
    raise ConditionEvalError(f"is_empty: expected set or dict, got {type_of(value)}")


def _make_dict(*pairs: Pair) -> Mapping[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for p in pairs:
        if not isinstance(p, Pair) or not isinstance(p.first, str):
            raise ConditionEvalError("dict: every argument must be pair(string, set)")
        value = p.second
        if isinstance(value, str):
            value = frozenset([value])
        if not isinstance(value, frozenset):
            raise ConditionEvalError(f"dict: value for {p.first!r} must be a set")
        out[p.first] = value
    return make_dict(out)


def _choose(*options: Option) -> Any:
    for opt in options:
        if not isinstance(opt, Option):
            raise ConditionEvalError("choose: every argument must be option(cond, value)")
        if opt.condition is True:
            return opt.value
    raise ConditionEvalError(
        "evaluating choose expression: no option could be selected, consider adding a "
        'default option by hardcoding the condition to "true"'
    )


def _put(d: Mapping[str, frozenset[str]], key: str, value: frozenset[str]) -> Any:
    return make_dict({**d, key: value})


def _add_values(d: Mapping[str, frozenset[str]], key: str, *values: str) -> Any:
    return make_dict({**d, key: d.get(key, frozenset()) | frozenset(values)})


def _remove(target: Any, *items: str) -> Any:
    if isinstance(target, frozenset):
        return target - frozenset(items)
    if isinstance(target, Mapping):
        return make_dict({k: v for k, v in target.items() if k not in items})
    raise ConditionEvalError(f"remove: expected set or dict, got {type_of(target)}")


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _day(t: datetime) -> str:
    # Upstream calls Weekday() on the request's time as it arrives (UTC), not in a zone.
    return _WEEKDAYS[t.astimezone(UTC).weekday()]


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def parse_clock(text: str) -> tuple[int, int]:
    """Go's "15:04" layout: hour with one or two digits (0-23), minute with exactly two."""
    m = _CLOCK.fullmatch(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConditionEvalError(f"invalid clock time {text!r} (want HH:MM, 00:00 to 23:59)")
    return int(m.group(1)), int(m.group(2))


def _zone(name: str) -> Any:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConditionEvalError(f"failed to load time locale: {name!r}") from None


def go_wall_to_instant(wall: datetime, zone: Any) -> datetime:
    """The instant Go's time.Date picks for a wall time in `zone` (naive `wall`).

    Go guesses with the offset in force at the wall time read as UTC, and keeps it if the
    result lies in that same zone period, else takes the offset at the result. That picks
    the later (standard-time) reading of an ambiguous fall-back time and moves a skipped
    spring-forward time by the old offset; Python's fold rule differs, so do it Go's way.
    """
    as_utc = wall.replace(tzinfo=UTC)
    first = as_utc.astimezone(zone).utcoffset() or timedelta(0)
    guess = as_utc - first
    second = guess.astimezone(zone).utcoffset() or timedelta(0)
    return guess if second == first else as_utc - second


def _clock_between(facts: RequestFacts, t: datetime, start: str, end: str) -> bool:
    """Strictly between start and end on t's own day in the rule timezone; an interval that
    wraps midnight (end before start) never holds, as upstream. Bounds are instants chosen
    as Go's time.Date chooses them (see go_wall_to_instant)."""
    zone = _zone(facts.timezone)
    local = t.astimezone(zone)

    def at(clock: str) -> datetime:
        hour, minute = parse_clock(clock)
        wall = datetime(local.year, local.month, local.day, hour, minute)
        return go_wall_to_instant(wall, zone)

    instant = t.astimezone(UTC)
    return at(start) < instant < at(end)


# ---- tables ------------------------------------------------------------------------------

FUNCTIONS: dict[str, Signature] = {
    "set": Signature((), STRING, _fixed(SET), lambda *a: frozenset(a)),
    "dict": Signature((), PAIR, _fixed(DICT), _make_dict),
    "pair": Signature((ANY, ANY), None, _fixed(PAIR), Pair),
    "union": Signature((), SET, _fixed(SET), lambda *s: frozenset().union(*s)),
    "ifelse": Signature((BOOL, ANY, ANY), None, _ifelse_type, lambda c, a, b: a if c else b),
    "choose": Signature((), OPTION, _fixed(ANY), _choose),
    "option": Signature((BOOL, ANY), None, _fixed(OPTION), Option),
    "strings.upper": Signature(
        (STR_OR_SET,), None, _same_as(0), lambda v: _transform("strings.upper", v, str.upper)
    ),
    "strings.lower": Signature(
        (STR_OR_SET,), None, _same_as(0), lambda v: _transform("strings.lower", v, str.lower)
    ),
    "strings.replaceall": Signature(
        (STR_OR_SET, STRING, STRING),
        None,
        _same_as(0),
        lambda v, old, new: _transform("strings.replaceall", v, lambda s: s.replace(old, new)),
    ),
    "strings.split": Signature(
        (SET, STRING),
        None,
        _fixed(SET),
        lambda s, sep: frozenset(p for v in s for p in (v.split(sep) if sep else list(v))),
    ),
    "email.local": Signature((SET,), None, _fixed(SET), _email_local),
    "regexp.match": Signature(
        (SET, STRING),
        None,
        _fixed(BOOL),
        lambda s, p: any(go_regexp(p).search(v) for v in s),
    ),
    "regexp.replace": Signature((SET, STRING, STRING), None, _fixed(SET), _regexp_replace),
    "time.RFC3339": Signature((STRING,), None, _fixed(TIME), _rfc3339),
    "before": Signature((TIME, TIME), None, _fixed(BOOL), lambda t, u: t < u),
    "after": Signature((TIME, TIME), None, _fixed(BOOL), lambda t, u: t > u),
    "between": Signature(
        (TIME_OR_STRING, TIME_OR_STRING, TIME_OR_STRING), None, _fixed(BOOL), _between
    ),
    "newer_than": Signature(
        (STRING, STRING), None, _fixed(BOOL), lambda a, b: semver_key(a) > semver_key(b)
    ),
    "older_than": Signature(
        (STRING, STRING), None, _fixed(BOOL), lambda a, b: semver_key(a) < semver_key(b)
    ),
    "contains_any": Signature((SET, SET), None, _fixed(BOOL), lambda a, b: bool(a & b)),
    "contains_all": Signature((SET, SET), None, _fixed(BOOL), _contains_all),
    "is_empty": Signature((SET,), None, _fixed(BOOL), _is_empty),
    "day": Signature((TIME,), None, _fixed(STRING), _day),
    "clock_between": Signature(
        (TIME, STRING, STRING), None, _fixed(BOOL), _clock_between, needs_facts=True
    ),
}

# Methods: the receiver is the first parameter.
METHODS: dict[str, Signature] = {
    "contains": Signature((SET, STRING), None, _fixed(BOOL), lambda s, v: v in s),
    "add": Signature((SET,), STRING, _fixed(SET), lambda s, *v: s | frozenset(v)),
    "put": Signature((DICT, STRING, SET), None, _fixed(DICT), _put),
    "add_values": Signature((DICT, STRING), STRING, _fixed(DICT), _add_values),
    "remove": Signature((COLLECTION,), STRING, _same_as(0), _remove),
    "before": FUNCTIONS["before"],
    "after": FUNCTIONS["after"],
    "between": Signature((TIME, TIME, TIME), None, _fixed(BOOL), _between),
    "contains_any": FUNCTIONS["contains_any"],
    "contains_all": FUNCTIONS["contains_all"],
    "isempty": FUNCTIONS["is_empty"],
    "day": FUNCTIONS["day"],
    "clock_between": FUNCTIONS["clock_between"],
}

# Not a function in this language, but a name people reach for; the error says what to use.
HINTS = {
    "contains": "use X.contains(value) or contains_any(X, set(value))",
    "equals": "use ==",
    "isempty": "the function is spelled is_empty (isempty is the method)",
    "is_empty": "the method is spelled isempty (is_empty is the function)",
}
