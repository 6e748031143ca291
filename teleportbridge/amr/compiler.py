"""Compile a condition once (parse + type-check) and evaluate it per request.

`compile_condition` is what validates a rule when it is loaded: a syntax error, an unknown
name or a wrong argument type raises ConditionError with a one-line message. The compiled
condition is a tree of closures; `matches` runs it against one request's facts. As upstream's
EvaluateCondition, a result that is not a boolean counts as "no match".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from teleportbridge.amr import syntax
from teleportbridge.amr.functions import (
    FUNCTIONS,
    HINTS,
    METHODS,
    Signature,
    accepts,
    go_regexp,
    parse_clock,
)
from teleportbridge.amr.values import (
    ANY,
    BOOL,
    DICT,
    OPTION,
    PAIR,
    SET,
    STRING,
    VARIABLES,
    ConditionEvalError,
    ConditionTypeError,
    RequestFacts,
    type_of,
)

ConditionError = (syntax.ConditionSyntaxError, ConditionTypeError)

Evaluator = Callable[[RequestFacts], Any]


@dataclasses.dataclass(frozen=True)
class Compiled:
    type: str
    run: Evaluator
    constant: bool = False  # depends on nothing about the request (folded at load time)


@dataclasses.dataclass(frozen=True)
class Condition:
    """A checked condition; `matches` is all the router needs."""

    text: str
    result_type: str
    _run: Evaluator

    def evaluate(self, facts: RequestFacts) -> Any:
        """The raw value (for amr-test); ConditionEvalError when it cannot be computed."""
        try:
            return self._run(facts)
        except ConditionEvalError:
            raise
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            # A value typed `any` at load time turned out wrong for its use.
            raise ConditionEvalError(f"evaluating condition: {exc}") from None

    def matches(self, facts: RequestFacts) -> bool:
        value = self.evaluate(facts)
        return value is True


def _const(value: Any) -> Compiled:
    def run(_facts: RequestFacts) -> Any:
        return value

    return Compiled(type_of(value), run, constant=True)


def _fold(compiled: Compiled, node: syntax.Node) -> Compiled:
    """Evaluate a request-independent expression now, so `time.RFC3339("bad")` or an invalid
    regular expression literal is reported when the rule is loaded."""
    if not compiled.constant:
        return compiled
    try:
        return _const(compiled.run(RequestFacts()))
    except ConditionEvalError as exc:
        raise ConditionTypeError(f"column {node.pos}: {exc}") from None


def _check_args(what: str, sig: Signature, args: list[Compiled], node: syntax.Node) -> None:
    fixed = len(sig.params)
    if len(args) < fixed or (sig.variadic is None and len(args) != fixed):
        want = f"{fixed}" if sig.variadic is None else f"at least {fixed}"
        raise ConditionTypeError(
            f"column {node.pos}: {what} takes {want} argument(s), got {len(args)}"
        )
    for i, arg in enumerate(args):
        param = sig.params[i] if i < fixed else sig.variadic
        assert param is not None
        if not accepts(param, arg.type):
            raise ConditionTypeError(
                f"column {node.pos}: argument {i + 1} of {what} must be {param}, got {arg.type}"
            )


def _apply(what: str, sig: Signature, args: list[Compiled], node: syntax.Node) -> Compiled:
    _check_args(what, sig, args, node)
    # Clock bounds and patterns are literals in every real rule: check them now, even when
    # the rest of the call depends on the request.
    literal_checks = {
        FUNCTIONS["clock_between"].impl: (parse_clock, (1, 2)),
        FUNCTIONS["regexp.match"].impl: (go_regexp, (1,)),
        FUNCTIONS["regexp.replace"].impl: (go_regexp, (1,)),
    }
    check, positions = literal_checks.get(sig.impl, (None, ()))
    for i in positions:
        if check is not None and i < len(args) and args[i].constant:
            try:
                check(args[i].run(RequestFacts()))
            except ConditionEvalError as exc:
                raise ConditionTypeError(f"column {node.pos}: {exc}") from None
    runs = [a.run for a in args]
    impl = sig.impl
    params = [
        sig.params[i] if i < len(sig.params) else (sig.variadic or ANY) for i in range(len(args))
    ]

    def checked(values: list[Any]) -> list[Any]:
        # Arguments typed `any` at load time are checked now, with the same message.
        for i, (param, value) in enumerate(zip(params, values, strict=True)):
            if param != ANY and args[i].type == ANY and not accepts(param, type_of(value)):
                raise ConditionEvalError(
                    f"argument {i + 1} of {what} must be {param}, got {type_of(value)}"
                )
        return values

    if sig.needs_facts:

        def run(facts: RequestFacts) -> Any:
            return impl(facts, *checked([r(facts) for r in runs]))
    else:

        def run(facts: RequestFacts) -> Any:
            return impl(*checked([r(facts) for r in runs]))

    result = Compiled(
        sig.returns([a.type for a in args]),
        run,
        constant=not sig.needs_facts and all(a.constant for a in args),
    )
    return _fold(result, node)


def _name(node: syntax.Name) -> Compiled:
    if node.name in VARIABLES:
        typ, reader = VARIABLES[node.name]
        if node.name in ("true", "false"):
            return _const(node.name == "true")
        return Compiled(typ, reader)
    if node.name in FUNCTIONS:
        raise ConditionTypeError(f"column {node.pos}: {node.name} is a function; call it")
    raise ConditionTypeError(f"column {node.pos}: unknown identifier {node.name!r}")


def _call(node: syntax.Call) -> Compiled:
    args = [_compile(a) for a in node.args]
    if node.name in FUNCTIONS:
        return _apply(node.name, FUNCTIONS[node.name], args, node)
    # `access_request.spec.roles.contains("x")`: a dotted name ending in a method.
    receiver_name, _, method = node.name.rpartition(".")
    if receiver_name and (method in METHODS or receiver_name in VARIABLES):
        receiver = _name(syntax.Name(node.pos, receiver_name))
        return _method(method, receiver, args, node)
    hint = HINTS.get(node.name)
    raise ConditionTypeError(
        f"column {node.pos}: unknown function {node.name!r}" + (f" ({hint})" if hint else "")
    )


def _method(name: str, receiver: Compiled, args: list[Compiled], node: syntax.Node) -> Compiled:
    sig = METHODS.get(name)
    if sig is None:
        hint = HINTS.get(name)
        raise ConditionTypeError(
            f"column {node.pos}: unknown method {name!r}" + (f" ({hint})" if hint else "")
        )
    if not accepts(sig.params[0], receiver.type):
        raise ConditionTypeError(
            f"column {node.pos}: method {name} needs a {sig.params[0]} receiver, "
            f"got {receiver.type}"
        )
    return _apply(f"method {name}", sig, [receiver, *args], node)


def _index(node: syntax.Index) -> Compiled:
    target, key = _compile(node.target), _compile(node.key)
    if not accepts(DICT, target.type):
        raise ConditionTypeError(f"column {node.pos}: cannot index a {target.type}")
    if not accepts(STRING, key.type):
        raise ConditionTypeError(f"column {node.pos}: a dict key must be a string, got {key.type}")
    get_target, get_key = target.run, key.run

    def run(facts: RequestFacts) -> Any:
        mapping = get_target(facts)
        if not isinstance(mapping, Mapping):
            raise ConditionEvalError(f"cannot index a {type_of(mapping)}")
        # A missing key reads as the empty set (Teleport's Dict does the same).
        return mapping.get(get_key(facts), frozenset())

    return _fold(Compiled(SET, run, constant=target.constant and key.constant), node)


def _bool_operand(compiled: Compiled, op: str, node: syntax.Node) -> Evaluator:
    if not accepts(BOOL, compiled.type):
        raise ConditionTypeError(
            f"column {node.pos}: operator {op} needs bool, got {compiled.type}"
        )
    inner = compiled.run

    def run(facts: RequestFacts) -> bool:
        value = inner(facts)
        if not isinstance(value, bool):
            raise ConditionEvalError(f"operator {op} needs bool, got {type_of(value)}")
        return value

    return run


def _binary(node: syntax.Binary) -> Compiled:
    left, right = _compile(node.left), _compile(node.right)
    constant = left.constant and right.constant
    if node.op in ("&&", "||"):
        lhs, rhs = _bool_operand(left, node.op, node), _bool_operand(right, node.op, node)
        if node.op == "&&":
            return _fold(Compiled(BOOL, lambda f: lhs(f) and rhs(f), constant), node)
        return _fold(Compiled(BOOL, lambda f: lhs(f) or rhs(f), constant), node)
    if left.type != ANY and right.type != ANY and left.type != right.type:
        raise ConditionTypeError(
            f"column {node.pos}: cannot compare {left.type} with {right.type} using {node.op}"
        )
    if left.type in (PAIR, OPTION) or right.type in (PAIR, OPTION):
        raise ConditionTypeError(f"column {node.pos}: {left.type} values cannot be compared")
    get_l, get_r = left.run, right.run
    # Sets and dicts compare by value (both are immutable Python values here).
    if node.op == "==":
        return _fold(Compiled(BOOL, lambda f: get_l(f) == get_r(f), constant), node)
    return _fold(Compiled(BOOL, lambda f: get_l(f) != get_r(f), constant), node)


def _compile(node: syntax.Node) -> Compiled:
    if isinstance(node, syntax.Literal):
        return _const(node.value)
    if isinstance(node, syntax.Name):
        return _name(node)
    if isinstance(node, syntax.Call):
        return _call(node)
    if isinstance(node, syntax.Method):
        receiver = _compile(node.receiver)
        return _method(node.name, receiver, [_compile(a) for a in node.args], node)
    if isinstance(node, syntax.Index):
        return _index(node)
    if isinstance(node, syntax.Unary):
        inner = _compile(node.operand)
        operand = _bool_operand(inner, "!", node)
        return _fold(Compiled(BOOL, lambda f: not operand(f), inner.constant), node)
    if isinstance(node, syntax.Binary):
        return _binary(node)
    raise ConditionTypeError(f"unsupported expression {type(node).__name__}")


@lru_cache(maxsize=512)
def compile_condition(text: str) -> Condition:
    """Parse and type-check; raises one of ConditionError (cached: rules repeat)."""
    compiled = _compile(syntax.parse(text))
    return Condition(text, compiled.type, compiled.run)
