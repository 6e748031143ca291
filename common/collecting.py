"""A block that collects, per thread, what the code running inside it produces.

Deferred writes use it (the delivery results in notifications.claims, their history in
notifications.attempts): the code deep inside the block appends to the list the context
variable holds, and whoever opened the block writes the lot at once. A context variable,
so each worker thread (and each asyncio task) collects its own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def collecting(var: contextvars.ContextVar[list[T] | None]) -> Iterator[list[T] | None]:
    """Set a fresh list on `var` for the block and yield it. Inside a block that already
    collects on `var`, yield None instead: the outer block owns what is collected."""
    if var.get() is not None:
        yield None
        return
    items: list[T] = []
    token = var.set(items)
    try:
        yield items
    finally:
        var.reset(token)
