"""Escaping and hardening of user-supplied text in the posts, and the post size limits.

The strict (plugin-identical) reason escaping lives here too, as ``escape_reason(..., safe=False)``;
see :mod:`notifications.render` for why there are two outputs.

Hardening, and why it is the smallest change that works:

* Names (``safe_inline``): collapsed onto one line, Mattermost's markdown specials
  backslash-escaped, ``://`` and ``www.`` defused so nothing auto-links, and a zero-width
  space after every ``@`` that could start a mention. An ``@`` preceded by a letter or digit
  (``bob@example.com``) is an e-mail address, not a mention, and is left alone.
* Reasons (``escape_reason(..., safe=True)``): the plugin wraps them in an inline code span,
  but CommonMark parses blocks before inlines, so a reason line that is blank or starts with a
  block marker (``#``, ``>``, ``-``, ``~~~``, ``1.``, ``|``...) ends the paragraph, the code span
  never closes and the rest renders as markdown. The Mattermost server has the same weakness in
  its mention scanner (its inline-code regex cannot span a blank line and stops at the first
  backtick inside the reason). So in safe mode: (1) a U+FEFF is written at the start of every
  reason line that is blank or starts with a block-level character - invisible inside code, but
  it makes the line ordinary paragraph text for both the renderer and the server's regex;
  (2) ``@`` gets the same zero-width space as in names, which makes mentions impossible even if
  some parser disagrees about where the code span ends. Truncation still counts the bytes of the
  *original* text, so the cut point is the plugin's; the guards do not count against the limit.
  We chose invisible guards over visibly rewriting newlines so multi-line reasons keep their
  look, and over escaping every line so single-line ordinary reasons stay byte-identical.
* Size: the only unbounded parts of a root post are the user and role names (reasons are capped
  at 500). When the post would exceed ``max_runes`` the role list is shortened to
  ``a, b, … (+N more)``, and ``fit_message`` truncates with a marker as the last resort.
"""

from __future__ import annotations

import re

from notifications.gotext import go_runes, go_to_bytes, go_trim_space

__all__ = [
    "FEFF",
    "MAX_POST_BYTES",
    "MAX_POST_RUNES",
    "MAX_POST_RUNES_V1",
    "REASON_LIMIT",
    "TRUNCATION_MARKER",
    "ZWSP",
    "escape_reason",
    "fit_message",
    "post_fits",
    "safe_inline",
]

#: Mattermost ``PostMessageMaxRunesV2`` (current DB schema).
MAX_POST_RUNES = 16383
#: Mattermost ``PostMessageMaxRunesV1``: servers still on the old schema reject more than this.
MAX_POST_RUNES_V1 = 4000
#: Mattermost ``PostMessageMaxBytesV2``.
MAX_POST_BYTES = 65535
#: The plugin caps request, resolution and review reasons at 500 (bytes, despite its comment).
REASON_LIMIT = 500
#: Appended by :func:`fit_message`. Starts with a blank line so it can never end up inside a
#: half-written code span or emphasis.
TRUNCATION_MARKER = "\n\n… (message truncated)"

FEFF = "\ufeff"  # zero width no-break space: the plugin's backtick breaker, our line guard
ZWSP = "\u200b"  # zero width space: breaks @mentions


# --------------------------------------------------------------------------------------------
# Reasons
# --------------------------------------------------------------------------------------------

# Characters that can open a block-level construct when they start a line (CommonMark, GFM
# tables, and the older marked parser Mattermost's webapp uses: headings, quotes, lists,
# fences, thematic breaks, setext underlines, HTML blocks, link definitions, table delimiter
# rows, indented code). Letters never can, so ordinary text lines get no guard.
_BLOCK_START = frozenset("#>-+*=_`~<|:[ \t")
_ORDERED_LIST = re.compile(r"[0-9]{1,9}[.)](?:[ \t]|$)")


def _line_needs_guard(line: str) -> bool:
    if not line.strip(" \t\f\v\r"):
        return True  # a blank line ends the paragraph (and the server's inline-code regex)
    return line[0] in _BLOCK_START or _ORDERED_LIST.match(line) is not None


def _guarded_indexes(chars: list[str]) -> set[int]:
    """Indexes of the characters that start a reason line needing a U+FEFF guard."""
    guarded: set[int] = set()
    start = 0
    i, n = 0, len(chars)
    while i <= n:
        if i == n or chars[i] in "\r\n":
            line = "".join(chars[start:i])
            if _line_needs_guard(line) and start < n:
                guarded.add(start)
            if i < n and chars[i] == "\r" and i + 1 < n and chars[i + 1] == "\n":
                i += 1
            start = i + 1
        i += 1
    return guarded


def _mention_capable(prev: str) -> bool:
    """Whether an ``@`` after ``prev`` could start a mention (e-mail addresses cannot)."""
    return not prev or not prev.isalnum()


def escape_reason(text: str | bytes, limit: int = REASON_LIMIT, *, safe: bool = False) -> str:
    """Wrap a reason in the plugin's code span (``lib.MarkdownEscape``), optionally hardened.

    Strict algorithm: Go ``TrimSpace``; ``(empty)`` when nothing is left; ``"```\\n"``; each
    character, with U+FEFF after every backtick (which lowers the limit by one); before each
    character, if its byte offset in the trimmed UTF-8 text is >= the limit, write
    ``"``` (truncated)"`` and stop; else close with ``"```"`` glued to the text.

    ``safe=True`` adds the invisible guards described in the module docstring; it never moves
    the truncation point.
    """
    runes = go_trim_space(go_runes(go_to_bytes(text)))
    if not runes:
        return "(empty)"
    base = runes[0][0]
    chars = [r[2] for r in runes]
    guarded = _guarded_indexes(chars) if safe else set()

    out = ["```\n"]
    remaining = limit
    for index, (offset, _width, ch) in enumerate(runes):
        if offset - base >= remaining:
            out.append("``` (truncated)")
            return "".join(out)
        if index in guarded:
            out.append(FEFF)
        out.append(ch)
        if ch == "`":
            out.append(FEFF)
            remaining -= 1
        elif safe and ch == "@" and _mention_capable(chars[index - 1] if index else ""):
            out.append(ZWSP)
    out.append("```")
    return "".join(out)


_NEWLINES = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
# Always escaped: each can open emphasis, code, links, images, HTML, headings, quotes, tables,
# strikethrough or a ~channel link in Mattermost's markdown.
_ALWAYS_ESCAPE = frozenset("\\*`[]()#>|~!<")
_LEADING_LIST = re.compile(r"([0-9]{1,9})([.)])(?=[ \t]|$)")


def safe_inline(text: str) -> str:
    """Render a user-controlled name as plain text inside a markdown line.

    Used for user names, role names and review authors, which the plugin inserts verbatim.
    Ordinary names (``alice``, ``bob@example.com``, ``john_doe``, ``prod-access``) come out
    unchanged so the hardened post equals the plugin's; anything that could format, link or
    mention is neutralised:

    * newlines (and other line breaks) collapse to one space - a new line could start a list,
      quote or heading, and no escaping stops that;
    * ``\\ * ` [ ] ( ) # > | ~ ! <`` get a backslash; ``_`` only at a word boundary (intraword
      ``_`` never makes emphasis, and ``_`` is common in role names);
    * a leading ``-``, ``+``, ``=`` or ``1.`` gets a backslash (the review author starts a line);
    * ``://`` and a word-initial ``www.`` are defused so bare URLs are not auto-linked;
    * ``@`` that could start a mention gets a zero-width space after it.
    """
    text = _NEWLINES.sub(" ", text)
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        nxt = text[i + 1] if i + 1 < n else ""
        if ch in _ALWAYS_ESCAPE:
            out.append("\\" + ch)
        elif ch == "_":
            intraword = prev.isalnum() and nxt.isalnum()
            out.append(ch if intraword else "\\_")
        elif ch == "@":
            out.append("@" + ZWSP if _mention_capable(prev) else "@")
        elif ch == ":" and text.startswith("//", i + 1):
            out.append("\\:")
        elif (
            ch == "."
            and i >= 3
            and text[i - 3 : i].lower() == "www"
            and (i == 3 or not text[i - 4].isalnum())
        ):
            out.append("\\.")
        elif i == 0 and ch in "-+=":
            out.append("\\" + ch)
        else:
            out.append(ch)
    result = "".join(out)
    match = _LEADING_LIST.match(result)
    if match:
        result = match.group(1) + "\\" + match.group(2) + result[match.end() :]
    return result


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def post_fits(text: str, limit: int, max_bytes: int) -> bool:
    """Whether Mattermost accepts a post of this size (``limit`` runes, ``max_bytes`` bytes)."""
    return len(text) <= limit and _utf8_len(text) <= max_bytes


def fit_message(
    text: str,
    limit: int = MAX_POST_RUNES,
    *,
    max_bytes: int = MAX_POST_BYTES,
    marker: str = TRUNCATION_MARKER,
) -> str:
    """Return ``text`` unchanged if Mattermost accepts its size, else truncate with ``marker``.

    Mattermost rejects an over-long post with a 400 and the plugin has no fallback, so the
    request would silently go unannounced; a truncated post is better than none. ``limit`` is
    in runes (code points, as Mattermost counts), ``max_bytes`` in UTF-8 bytes.
    """
    if post_fits(text, limit, max_bytes):
        return text
    rune_budget = max(limit - len(marker), 0)
    byte_budget = max(max_bytes - _utf8_len(marker), 0)
    prefix = text[:rune_budget]
    encoded = prefix.encode("utf-8", "surrogatepass")
    if len(encoded) > byte_budget:
        prefix = encoded[:byte_budget].decode("utf-8", "ignore")
    return (prefix + marker)[: max(limit, 0)]
