"""A small evaluator for access monitoring rule conditions.

Teleport's predicate language is large; rules in the wild mostly test requested roles,
the requester and suggested reviewers. We evaluate that common subset exactly and
report anything else as unsupported, so the caller can fall back to the configured
recipients (a rule we cannot read must not swallow a request).

Supported: `true`/`false`; `contains(X, "v")`, `X.contains("v")`, `equals(X, "v")`,
`X == "v"`, `X != "v"`; `!`, `&&`, `||`, parentheses; where X is
access_request.spec.{roles,suggested_reviewers,user,request_reason}.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>&&|\|\||==|!=|[!(),.])|(?P<ident>[A-Za-z_][\w]*))'
)


class UnsupportedCondition(ValueError):
    """The condition uses something this evaluator does not understand."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise UnsupportedCondition(f"cannot parse condition near {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: Mapping[str, object]) -> None:
        self.t = tokens
        self.i = 0
        self.env = env

    def peek(self) -> str | None:
        return self.t[self.i][1] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.t):
            raise UnsupportedCondition("unexpected end of condition")
        tok = self.t[self.i]
        if expected is not None and tok[1] != expected:
            raise UnsupportedCondition(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> bool:
        value = self.or_expr()
        if self.i != len(self.t):
            raise UnsupportedCondition(f"unexpected {self.peek()!r}")
        return value

    def or_expr(self) -> bool:
        value = self.and_expr()
        while self.peek() == "||":
            self.take()
            value = self.and_expr() or value
        return value

    def and_expr(self) -> bool:
        value = self.unary()
        while self.peek() == "&&":
            self.take()
            value = self.unary() and value
        return value

    def unary(self) -> bool:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        if self.peek() == "(":
            self.take()
            value = self.or_expr()
            self.take(")")
            return value
        return self.atom()

    def string(self) -> str:
        kind, text = self.take()
        if kind != "str":
            raise UnsupportedCondition(f"expected a string, got {text!r}")
        return bytes(text[1:-1], "utf-8").decode("unicode_escape")

    def path(self) -> object:
        kind, name = self.take()
        if kind != "ident":
            raise UnsupportedCondition(f"unexpected {name!r}")
        parts = [name]
        while (
            self.peek() == "." and self.i + 1 < len(self.t) and self.t[self.i + 1][1] != "contains"
        ):
            self.take(".")
            parts.append(self.take()[1])
        key = ".".join(parts)
        if key not in self.env:
            raise UnsupportedCondition(f"unsupported variable {key}")
        return self.env[key]

    def atom(self) -> bool:
        kind, text = self.t[self.i] if self.i < len(self.t) else ("", "")
        if kind == "ident" and text in ("true", "false"):
            self.take()
            return text == "true"
        if kind == "ident" and text in ("contains", "equals") and self._next_is("("):
            self.take()
            self.take("(")
            subject = self.path()
            self.take(",")
            value = self.string()
            self.take(")")
            return _contains(subject, value) if text == "contains" else subject == value
        subject = self.path()
        op = self.peek()
        if op == ".":
            self.take(".")
            self.take("contains")
            self.take("(")
            value = self.string()
            self.take(")")
            return _contains(subject, value)
        if op in ("==", "!="):
            self.take()
            value = self.string()
            return (subject == value) if op == "==" else (subject != value)
        raise UnsupportedCondition(f"unsupported expression at {op!r}")

    def _next_is(self, text: str) -> bool:
        return self.i + 1 < len(self.t) and self.t[self.i + 1][1] == text


def _contains(subject: object, value: str) -> bool:
    if isinstance(subject, (list, tuple, set, frozenset)):
        return value in subject
    if isinstance(subject, str):
        return value in subject
    raise UnsupportedCondition("contains() needs a list or a string")


def evaluate(condition: str, *, roles, user: str, suggested_reviewers, reason: str = "") -> bool:
    """True when the rule applies; raises UnsupportedCondition when we cannot tell."""
    if not condition.strip():
        return True
    env = {
        "access_request.spec.roles": list(roles),
        "access_request.spec.suggested_reviewers": list(suggested_reviewers),
        "access_request.spec.user": user,
        "access_request.spec.request_reason": reason,
    }
    return _Parser(_tokens(condition), env).parse()
