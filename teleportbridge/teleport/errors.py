"""Typed Teleport errors with one-line messages a person on call can act on."""

from __future__ import annotations

import re

import grpc


class TeleportError(Exception):
    """Base class; str() is a one-line, human-readable explanation."""

    transient = False
    #: The gRPC status name and details when the error came from a call ("" otherwise):
    #: callers that map Auth's exact texts (reviews from chat) read these.
    grpc_code = ""
    grpc_details = ""


class CredentialsError(TeleportError):
    """Missing, unreadable or expired identity: fix the files, restarting will not help."""


class TeleportUnavailable(TeleportError):
    """Network trouble or the server went away: reconnect with backoff."""

    transient = True


class HandshakeError(TeleportError):
    """TLS failed: wrong CA, wrong cluster, or a certificate the server does not trust."""


class PermissionDenied(TeleportError):
    """The plugin's role lacks a verb; the message lists what to grant."""

    def __init__(self, message: str, missing: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.missing = missing


class VersionError(TeleportError):
    """The server is too old for this plugin."""


class CompareFailed(TeleportError):
    """Plugin data changed under us (CAS mismatch): re-read and try again."""

    transient = True


class NotFound(TeleportError):
    """The resource does not exist (any more)."""


class Unimplemented(TeleportError):
    """The server does not have this RPC (older Teleport)."""


_DENIED = re.compile(r'access denied to perform action "([a-z_]+)" on "([a-z_]+)"')
_HANDSHAKE_HINTS = (
    "handshake",
    "certificate",
    "ssl",
    "tls",
    "alert",
)


def describe_missing(missing: list[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for verb, resource in missing:
        grouped.setdefault(resource, []).append(verb)
    return "; ".join(f"{res}: [{', '.join(verbs)}]" for res, verbs in grouped.items())


def classify_rpc_error(exc: grpc.RpcError, what: str) -> TeleportError:
    """Map a gRPC failure to a typed error; `what` names the call for the message."""
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else str(exc)) or ""
    details = " ".join(details.split())
    err = _classify(code, details, what)
    err.grpc_code = code.name if code is not None else "UNKNOWN"
    err.grpc_details = details
    return err


def _classify(code: grpc.StatusCode | None, details: str, what: str) -> TeleportError:
    if code == grpc.StatusCode.PERMISSION_DENIED:
        missing = _DENIED.findall(details)
        grant = (
            f" Grant the plugin's role {describe_missing(missing)} (the preset access-plugin "
            "role has them)."
            if missing
            else ""
        )
        if any(resource == "event" for _, resource in missing):
            # Not true of the audit log: the preset role has no event rule at all.
            grant = (
                " Add the rule `event: [list, read]` to the plugin's role (the preset "
                "access-plugin role lacks it)."
            )
        return PermissionDenied(f"{what}: permission denied: {details}.{grant}", missing)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return CompareFailed(f"{what}: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(f"{what}: {details}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Unimplemented(f"{what}: not supported by this Teleport server")
    if code == grpc.StatusCode.UNAVAILABLE:
        low = details.lower()
        if any(h in low for h in _HANDSHAKE_HINTS) and "connection refused" not in low:
            return HandshakeError(
                f"{what}: TLS handshake with Teleport failed ({details}); check that the "
                "identity belongs to this cluster and has not been revoked"
            )
        return TeleportUnavailable(f"{what}: Teleport is unreachable ({details})")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return TeleportUnavailable(f"{what}: Teleport did not answer in time")
    if code == grpc.StatusCode.CANCELLED:
        return TeleportUnavailable(f"{what}: call cancelled ({details})")
    if code in (grpc.StatusCode.UNAUTHENTICATED,):
        return HandshakeError(f"{what}: Teleport rejected the credentials: {details}")
    name = code.name if code is not None else "UNKNOWN"
    err = TeleportError(f"{what}: {name}: {details}")
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.ABORTED):
        err.transient = True
    return err
