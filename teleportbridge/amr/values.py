"""The values and static types of the condition language, and the evaluation environment.

Sets are frozensets of strings and dicts map a string to such a set, as in Teleport's
`expression.Set`/`Dict`; times are aware UTC datetimes. Each value has one static type name so
a condition can be type-checked when its rule is loaded (Teleport's `typical` parser does the
same with Go generics), instead of failing on the first request that reaches it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

BOOL = "bool"
STRING = "string"
SET = "set"
DICT = "dict"
TIME = "time"
PAIR = "pair"
OPTION = "option"
ANY = "any"  # only known when evaluated (ifelse/choose/pair members)


class ConditionTypeError(ValueError):
    """A condition is well formed but means nothing: unknown name, wrong argument types."""


class ConditionEvalError(ValueError):
    """A condition could not be evaluated for this request (e.g. `choose` with no option)."""


@dataclasses.dataclass(frozen=True)
class Pair:
    first: Any
    second: Any


@dataclasses.dataclass(frozen=True)
class Option:
    condition: bool
    value: Any


def make_dict(items: Mapping[str, Any]) -> Mapping[str, frozenset[str]]:
    """An immutable dict of sets (methods like `put` return a new one, never mutate)."""
    return MappingProxyType({k: frozenset(v) for k, v in items.items()})


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, str):
        return STRING
    if isinstance(value, frozenset):
        return SET
    if isinstance(value, Mapping):
        return DICT
    if isinstance(value, datetime):
        return TIME
    if isinstance(value, Pair):
        return PAIR
    if isinstance(value, Option):
        return OPTION
    return type(value).__name__


def describe(value: Any) -> str:
    """A short, stable rendering of a value for `amr-test` and error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, frozenset):
        return "set(" + ", ".join(repr(v) for v in sorted(value)) + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


EPOCH = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time, for a time field that was never set


@dataclasses.dataclass(frozen=True)
class RequestFacts:
    """Everything a condition may read about one access request (upstream's
    AccessRequestExpressionEnv). `resources` holds each requested resource's labels."""

    roles: tuple[str, ...] = ()
    suggested_reviewers: tuple[str, ...] = ()
    annotations: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    user: str = ""
    reason: str = ""
    creation_time: datetime = EPOCH
    expiry: datetime = EPOCH
    resources: tuple[Mapping[str, str], ...] = ()
    traits: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    timezone: str = ""  # IANA name for clock_between; "" = UTC, as upstream

    def labels_union(self) -> Mapping[str, frozenset[str]]:
        """For each label key, every value it has on any requested resource."""
        union: dict[str, set[str]] = {}
        for labels in self.resources:
            for key, value in labels.items():
                union.setdefault(key, set()).add(value)
        return make_dict(union)

    def labels_intersection(self) -> Mapping[str, frozenset[str]]:
        """Labels (key and value) that every requested resource carries; {} without any."""
        if not self.resources:
            return make_dict({})
        shared = dict(self.resources[0])
        for labels in self.resources[1:]:
            shared = {k: v for k, v in shared.items() if labels.get(k) == v}
        return make_dict({k: {v} for k, v in shared.items()})


# name -> (static type, reader). The language's variables, exactly upstream's list.
VARIABLES: dict[str, tuple[str, Any]] = {
    "true": (BOOL, lambda f: True),
    "false": (BOOL, lambda f: False),
    "access_request.spec.roles": (SET, lambda f: frozenset(f.roles)),
    "access_request.spec.suggested_reviewers": (SET, lambda f: frozenset(f.suggested_reviewers)),
    "access_request.spec.system_annotations": (DICT, lambda f: make_dict(f.annotations)),
    "access_request.spec.user": (STRING, lambda f: f.user),
    "access_request.spec.request_reason": (STRING, lambda f: f.reason),
    "access_request.spec.creation_time": (TIME, lambda f: f.creation_time),
    "access_request.spec.expiry": (TIME, lambda f: f.expiry),
    "access_request.spec.resource_labels_union": (DICT, lambda f: f.labels_union()),
    "access_request.spec.resource_labels_intersection": (
        DICT,
        lambda f: f.labels_intersection(),
    ),
    "user.traits": (DICT, lambda f: make_dict(f.traits)),
}
