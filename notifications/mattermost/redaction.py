"""Secrets never reach a page, a log line or the admin: the pattern-based redaction.

The client also replaces its own token in every error it raises (client.py); this is the
second line for text whose origin we do not control (an exception from a library that
echoed an Authorization header or a token query parameter).
"""

from __future__ import annotations

import re

_SECRET = re.compile(
    r"(?i)(authorization\s*[=:]\s*(?:bearer\s+)?|bearer\s+"
    r"|\b[a-z_]*token[\"']?\s*[=:]\s*[\"']?)[^\s,;\"'&]+"
)


def redact(text: str) -> str:
    """Replace anything that looks like a bearer token with a placeholder."""
    return _SECRET.sub(r"\1[redacted]", text or "")
