"""Removing a secret from text in every form it can take on the way there.

A token rarely shows up verbatim in an error: `requests` quotes a bad header with repr()
(`'BEARER abc\\ndef'`), a proxy echoes the URL-encoded form, a JSON body escapes it, a
one-line helper folds its line breaks into spaces. Redacting only the raw string misses
all of these, so `Redactor` knows each form; callers redact *before* shortening a message
(a cut through the middle of a token leaves half of it, which no pattern recognises).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"


def secret_forms(secret: str) -> set[str]:
    """The raw secret and how repr(), JSON, URL encoding and line folding render it."""
    forms = {
        secret,
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        " ".join(secret.split()),  # whitespace folded, as one-line messages do
        "".join(secret.split()),
    }
    for encoding in ("utf-8", "latin-1"):
        with contextlib.suppress(UnicodeEncodeError):
            forms.add(repr(secret.encode(encoding))[2:-1])  # b'...' as in a bytes repr
    # Percent-encoding is case-insensitive: %2f is %2F.
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return {f for f in forms if f.strip()}


# Shorter forms are only redacted as whole words: a one-letter database password must not
# turn every "p" of an error message into [redacted].
_WHOLE_WORD_BELOW = 8


def _pattern_for(form: str) -> str:
    if len(form) >= _WHOLE_WORD_BELOW:
        return re.escape(form)
    return rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])"


class Redactor:
    """Callable that replaces every known form of the given secrets with `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        # Longest first: a form that contains another must win the alternation.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(_pattern_for, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def __repr__(self) -> str:
        return "Redactor(...)"
