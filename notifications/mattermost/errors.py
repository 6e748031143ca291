"""Errors raised by the Mattermost client.

Callers only need to know one thing about a failure: may the same call succeed later
(``TransientError``: back off, honour ``retry_after``, try again) or not (``PermanentError``:
stop and tell a human). ``classify`` is the single place that makes that decision, so the
retry policy of every caller stays consistent.

Messages are one line and never contain the token: they end up in the database, the admin
and logs. Text from outside (a server's message, an exception's reason) is redacted with the
caller's ``redact`` *before* it is shortened: a cut through the token would leave a part
of it that no redaction recognises.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import requests

# A JSON error from the server may carry a long "message"; keep stored errors short.
_MAX_DETAIL = 200

# Mattermost answers this 500 while the same pending_post_id is still being processed: the
# first request may yet succeed, so retrying later with the same key is the right move.
DEDUP_PENDING_ID = "api.post.deduplicate_create_post.pending"


class MattermostError(Exception):
    """Base class: any failure of a Mattermost call."""

    status: int | None = None
    error_id: str = ""
    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TransientError(MattermostError):
    """The call may succeed later: connection problems, timeouts, 5xx, 429."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        error_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.error_id = error_id

    def __repr__(self) -> str:
        return (
            f"TransientError({self.message!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r})"
        )


class PermanentError(MattermostError):
    """Retrying the same call cannot help: bad token, no permission, not found, bad input."""

    def __init__(self, message: str, *, status: int | None, error_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id

    def __repr__(self) -> str:
        return (
            f"PermanentError({self.message!r}, status={self.status!r}, error_id={self.error_id!r})"
        )


Redact = Callable[[str], str]


def _unchanged(text: str) -> str:
    return text


def _one_line(text: object, redact: Redact, limit: int = _MAX_DETAIL) -> str:
    text = " ".join(redact(str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_seconds(value: str | None) -> float | None:
    """Parse a delay header: delta-seconds, or an HTTP date for Retry-After."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def retry_after_from(response: requests.Response) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` or else ``X-RateLimit-Reset``.

    Mattermost's limiter sends ``X-RateLimit-Reset`` as *seconds until reset* (its docs say a
    timestamp, the code sends seconds), so it is a usable fallback when ``Retry-After`` is
    missing, e.g. when a proxy strips it.
    """
    delay = _parse_seconds(response.headers.get("Retry-After"))
    if delay is None:
        delay = _parse_seconds(response.headers.get("X-RateLimit-Reset"))
    return delay


def _json_error(response: requests.Response, redact: Redact) -> tuple[str, str]:
    """(error id, message) from a Mattermost JSON error body; empty strings otherwise.

    Plain-text 429 bodies and a proxy's HTML 502 are not JSON: that must not turn a clean
    "try again later" into a parsing crash.
    """
    try:
        body: Any = json.loads(response.content or b"")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error_id = _one_line(body.get("id") or "", redact, limit=100)
    return error_id, _one_line(body.get("message") or "", redact)


def _format_delay(seconds: float) -> str:
    return f"{seconds:g}s"


def _classify_response(response: requests.Response, redact: Redact) -> MattermostError:
    status = response.status_code
    if 200 <= status < 300 or status == 304:
        raise ValueError(f"classify() called for a successful response ({status})")
    error_id, detail = _json_error(response, redact)
    label = f"{status} {error_id}" if error_id else str(status)
    suffix = f": {detail}" if detail else ""

    if status == 429:
        delay = retry_after_from(response)
        when = f", retry after {_format_delay(delay)}" if delay is not None else ""
        return TransientError(
            f"Mattermost returned 429 (rate limited){when}",
            status=status,
            retry_after=delay,
            error_id=error_id,
        )
    if status >= 500 or status == 408:
        if error_id == DEDUP_PENDING_ID:
            message = (
                f"Mattermost is still processing a post with the same pending_post_id ({label})"
            )
        elif error_id:
            message = f"Mattermost returned {label}{suffix}"
        else:
            message = f"Mattermost returned {status} (non-JSON body, e.g. from a proxy)"
        return TransientError(
            message, status=status, retry_after=retry_after_from(response), error_id=error_id
        )
    if status == 401:
        return PermanentError(
            f"Mattermost rejected the token ({label}): check [mattermost] token",
            status=status,
            error_id=error_id,
        )
    if status == 403:
        return PermanentError(
            f"Mattermost denied permission ({label}){suffix}; check that the bot is a member "
            "of the team and channel",
            status=status,
            error_id=error_id,
        )
    if status == 404:
        return PermanentError(
            f"Mattermost returned 404 not found ({label}){suffix}",
            status=status,
            error_id=error_id,
        )
    if 400 <= status < 500:
        return PermanentError(
            f"Mattermost rejected the request ({label}){suffix}", status=status, error_id=error_id
        )
    # 1xx/3xx that requests did not resolve: a misconfigured URL (e.g. http -> https redirect
    # that turned a POST into a GET) rather than a passing outage.
    return PermanentError(
        f"Mattermost returned unexpected status {label}; check [mattermost] url",
        status=status,
        error_id=error_id,
    )


def _reason(exc: requests.RequestException, redact: Redact) -> str:
    """A short reason from a requests exception, without pool/object noise."""
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
    text = str(reason)
    marker = "Failed to establish a new connection: "
    if marker in text:
        text = text.split(marker, 1)[1]
    elif ">: " in text:  # "<urllib3.connection.HTTPConnection object at 0x..>: ..."
        text = text.split(">: ", 1)[1]
    return _one_line(text.strip("()'\" ") or type(exc).__name__, redact)


def _classify_exception(exc: BaseException, redact: Redact) -> MattermostError:
    if isinstance(exc, MattermostError):
        return exc
    # The only header carrying text from the configuration is Authorization: a header
    # that cannot be sent is the token's fault. (requests quotes the header in its error,
    # and a non-Latin-1 one would otherwise read as "the response is not JSON".)
    if isinstance(exc, UnicodeEncodeError):
        return PermanentError(
            "the Mattermost token contains non-ASCII characters, which cannot be sent in an "
            "HTTP header (a Mattermost token is letters and digits); check [mattermost] token",
            status=None,
        )
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return PermanentError(
            "the Mattermost token contains a line break or surrounding whitespace, which "
            "cannot be sent in an HTTP header; check [mattermost] token",
            status=None,
        )
    if isinstance(exc, requests.Timeout):
        if isinstance(exc, requests.ConnectTimeout):
            return TransientError(f"Timed out connecting to Mattermost: {_reason(exc, redact)}")
        return TransientError(f"Mattermost did not answer in time: {_reason(exc, redact)}")
    if isinstance(
        exc,
        requests.ConnectionError | requests.exceptions.ChunkedEncodingError,
    ):
        return TransientError(f"Cannot reach Mattermost: {_reason(exc, redact)}")
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return TransientError(f"Mattermost sent an undecodable body: {_reason(exc, redact)}")
    if isinstance(exc, requests.RequestException):
        # InvalidURL, MissingSchema, InvalidHeader...: configuration, not weather.
        return PermanentError(
            f"Cannot call Mattermost ({type(exc).__name__}): {_reason(exc, redact)}; "
            "check [mattermost] url",
            status=None,
        )
    if isinstance(exc, ValueError):
        # A 2xx whose body is not JSON: usually a proxy or captive portal answering for
        # Mattermost. The call may or may not have taken effect, so treat it as transient.
        return TransientError(
            f"Mattermost sent a response that is not JSON: {_one_line(exc, redact)}"
        )
    raise TypeError(f"classify() cannot handle {type(exc).__name__}") from exc


def classify(
    response_or_exception: requests.Response | BaseException, redact: Redact = _unchanged
) -> MattermostError:
    """Turn a failed response or a transport exception into Transient/PermanentError.

    ``redact`` removes secrets (the token) from any text taken from the response or the
    exception, before that text is shortened.
    """
    if isinstance(response_or_exception, requests.Response):
        return _classify_response(response_or_exception, redact)
    return _classify_exception(response_or_exception, redact)
