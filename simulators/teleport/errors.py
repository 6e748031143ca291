"""Errors the simulator raises, each carrying the gRPC status Teleport would answer with.

The control API (used directly by tests) and the gRPC handlers share one code path, so a test
calling ``sim.review(...)`` on an unknown request sees the same failure a client would get over
the wire, just as an exception instead of a status.
"""

from __future__ import annotations

import grpc


class SimulatorError(Exception):
    """Base class: ``code`` is the gRPC status the handlers abort with, ``message`` its text."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SimulatorError):
    """Teleport's trace.NotFound."""

    code = grpc.StatusCode.NOT_FOUND


class BadParameter(SimulatorError):
    """Teleport's trace.BadParameter."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class CompareFailed(SimulatorError):
    """Teleport's trace.CompareFailed (a lost compare-and-swap)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class AccessDenied(SimulatorError):
    """Teleport's trace.AccessDenied (RBAC)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class AlreadyExists(SimulatorError):
    """Teleport's trace.AlreadyExists."""

    code = grpc.StatusCode.ALREADY_EXISTS
