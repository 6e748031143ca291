"""Parse an access monitoring rule condition into a small AST (no meaning attached yet).

Teleport's conditions are Go expressions (its `typical` parser walks Go's own expression
grammar), so the grammar below is the Go subset that `typical` accepts: string literals with Go
escapes and raw back-quoted strings, `!`, `==`, `!=`, `&&`, `||` with Go's precedence,
parentheses, function calls, method calls and map indexing. Dotted names
(`access_request.spec.roles`, `strings.upper`) are one token, as they are one identifier to
`typical`. The grammar is run by lark's LALR parser: a well-kept library that reports the
position of a syntax error, which a hand-written tokenizer did not.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr
        | or_expr "||" and_expr        -> or_
?and_expr: cmp_expr
         | and_expr "&&" cmp_expr      -> and_
?cmp_expr: unary
         | cmp_expr "==" unary         -> eq
         | cmp_expr "!=" unary         -> ne
?unary: postfix
      | "!" unary                      -> not_
?postfix: atom
        | postfix "." NAME "(" [args] ")"   -> method
        | postfix "[" or_expr "]"           -> index
?atom: STRING                          -> string
     | RAW_STRING                      -> raw_string
     | NAME "(" [args] ")"             -> call
     | NAME                            -> name
     | "(" or_expr ")"
args: or_expr ("," or_expr)* [","]

NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/
STRING: /"(?:[^"\\\n]|\\.)*"/
RAW_STRING: /`[^`]*`/
%ignore /[ \t\r\n]+/
"""


class ConditionSyntaxError(ValueError):
    """The condition is not a well-formed expression (one line, with the position)."""


@dataclasses.dataclass(frozen=True)
class Node:
    pos: int  # 1-based column of the node's first character (for error messages)


@dataclasses.dataclass(frozen=True)
class Literal(Node):
    value: str


@dataclasses.dataclass(frozen=True)
class Name(Node):
    name: str


@dataclasses.dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Method(Node):
    receiver: Node
    name: str
    args: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Index(Node):
    target: Node
    key: Node


@dataclasses.dataclass(frozen=True)
class Unary(Node):
    op: str  # "!"
    operand: Node


@dataclasses.dataclass(frozen=True)
class Binary(Node):
    op: str  # "&&", "||", "==", "!="
    left: Node
    right: Node


_SIMPLE_ESCAPES = {
    "a": b"\a",
    "b": b"\b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "\\": b"\\",
    '"': b'"',
}


def unquote_go(literal: str) -> str:
    """The value of a Go interpreted string literal (quotes included), like strconv.Unquote.

    Octal and \\x escapes give bytes (Go strings are bytes), so the result is decoded as
    UTF-8 at the end, invalid sequences becoming U+FFFD as Go's range loop would show them.
    """
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ConditionSyntaxError("string literal ends with a lone backslash")
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc]
            i += 2
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ConditionSyntaxError(f"invalid octal escape \\{digits} in string literal")
            out.append(int(digits, 8))
            i += 4
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            try:
                if len(digits) != width:
                    raise ValueError
                code = int(digits, 16)
            except ValueError:
                raise ConditionSyntaxError(
                    f"invalid \\{esc} escape in string literal (needs {width} hex digits)"
                ) from None
            if esc == "x":
                out.append(code)
            else:
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise ConditionSyntaxError(f"escape \\{esc}{digits} is not a valid code point")
                out += chr(code).encode("utf-8")
            i += 2 + width
        else:
            raise ConditionSyntaxError(f"unknown escape sequence \\{esc} in string literal")
    return out.decode("utf-8", "replace")


@v_args(meta=False, inline=True)
class _ToAst(Transformer):
    def string(self, tok: Token) -> Literal:
        return Literal(tok.column or 0, unquote_go(str(tok)))

    def raw_string(self, tok: Token) -> Literal:
        # Go drops carriage returns from raw strings.
        return Literal(tok.column or 0, str(tok)[1:-1].replace("\r", ""))

    def name(self, tok: Token) -> Name:
        return Name(tok.column or 0, str(tok))

    def call(self, tok: Token, args: tuple[Node, ...] | None) -> Call:
        return Call(tok.column or 0, str(tok), args or ())

    def method(self, receiver: Node, tok: Token, args: tuple[Node, ...] | None) -> Node:
        name = str(tok)
        if "." in name:
            # `x.a.b(...)` after a call or index: only the last part can be a method.
            raise ConditionSyntaxError(f"column {tok.column}: unexpected selector {name!r}")
        return Method(receiver.pos, receiver, name, args or ())

    def index(self, target: Node, key: Node) -> Index:
        return Index(target.pos, target, key)

    def not_(self, operand: Node) -> Unary:
        return Unary(operand.pos, "!", operand)

    def or_(self, left: Node, right: Node) -> Binary:
        return Binary(left.pos, "||", left, right)

    def and_(self, left: Node, right: Node) -> Binary:
        return Binary(left.pos, "&&", left, right)

    def eq(self, left: Node, right: Node) -> Binary:
        return Binary(left.pos, "==", left, right)

    def ne(self, left: Node, right: Node) -> Binary:
        return Binary(left.pos, "!=", left, right)

    def args(self, *items: Node | None) -> tuple[Node, ...]:
        return tuple(i for i in items if i is not None)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


def parse(text: str) -> Node:
    """The AST of one condition; ConditionSyntaxError (one line, with a column) otherwise."""
    if not text.strip():
        raise ConditionSyntaxError("empty condition")
    try:
        tree = _parser().parse(text)
        return _ToAst().transform(tree)
    except UnexpectedEOF:
        raise ConditionSyntaxError("unexpected end of condition") from None
    except UnexpectedCharacters as exc:
        raise ConditionSyntaxError(
            f"column {exc.column}: unexpected character {text[exc.pos_in_stream or 0]!r}"
        ) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise ConditionSyntaxError("unexpected end of condition") from None
        raise ConditionSyntaxError(f"column {exc.column}: unexpected {str(exc.token)!r}") from None
    except LarkError as exc:
        # Transformer errors (our ConditionSyntaxError) arrive wrapped in VisitError.
        orig = getattr(exc, "orig_exc", None)
        if isinstance(orig, ConditionSyntaxError):
            raise orig from None
        raise ConditionSyntaxError(str(exc).splitlines()[0]) from None
