"""A Redis for the Q_BROKER=redis tests: REDIS_URL when the environment sets it, else a
throwaway `redis-server` of our own (no disk, a free port, gone at the end).

Tests sharing one server never share a queue: each takes its own REDIS_QUEUE
(`unique_queue()`), which names the django-q2 list key, and removes its keys afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import redis

from bridge.proctree import spawn
from tests.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """The URL of a Redis to use, or None when there is none (no REDIS_URL and no
    redis-server binary: the caller skips)."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="test-redis-") as workdir:
        port = _free_port()  # another process may take it first: then PING never answers
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", workdir]
        # spawn(): the server dies with pytest, even if pytest is killed outright.
        proc = spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            wait_until(
                lambda: proc.poll() is not None or _answers(url),
                timeout=20,
                interval=0.05,
                message="the throwaway redis-server to answer PING",
            )
            assert proc.poll() is None, f"redis-server exited with {proc.returncode}"
            yield url
        finally:
            proc.kill()
            proc.wait(timeout=10)


def unique_queue() -> str:
    """A REDIS_QUEUE no other test (or test run on the same server) uses."""
    return f"test-{uuid.uuid4().hex[:16]}"


def remove_queue_keys(url: str, queue: str) -> None:
    """django-q2's keys for `queue` (the task list, its stats), so a shared server keeps
    nothing of the test."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"django_q:{queue}:*"))
        if keys:
            client.delete(*keys)
