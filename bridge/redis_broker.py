"""django-q2's Redis broker (Q_BROKER=redis) on one connection pool per process.

For scale-out (one watcher and N `qcluster` processes, possibly on other machines) where
the queue should not live in the database. What it trades against the database broker
(bridge.queue_broker): no enqueue inside the caller's transaction (notifications.tasks
queues after the commit) and no acknowledgement (see PooledRedis).
"""

from __future__ import annotations

import os
import threading

import redis
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf

#: Seconds to open a TCP connection to Redis: a Redis that does not answer fails an
#: enqueue within this (logged; the sweeper re-queues what is due) instead of hanging the
#: watcher for the kernel's minutes-long connect timeout.
REDIS_CONNECT_TIMEOUT = 5.0
#: Seconds a command may wait for its reply; above the broker's 1 s BLPOP.
REDIS_SOCKET_TIMEOUT = 15.0

_shared: redis.Redis | None = None
_shared_key: tuple[int, str, str] = (0, "", "")
_shared_lock = threading.Lock()


def shared_redis() -> redis.Redis:
    """This process's Redis client (one connection pool), made on first use.

    Re-made in a forked child (django-q2's pusher, workers and monitor are forks): a pool
    inherited across fork() shares its sockets with the parent, and two processes reading
    replies from one socket would take each other's answers. The old pool is only
    dropped: redis-py then closes this process's copies of its sockets without a shutdown,
    so the parent's connections stay usable. Also re-made if the URL or the queue changes
    (only tests do that)."""
    global _shared, _shared_key
    key = (os.getpid(), str(Conf.REDIS), str(Conf.PREFIX))
    # Threads of one process (the watcher's sweeper and its event loop) may ask at once:
    # the lock makes sure they share one pool instead of each making its own.
    with _shared_lock:
        if _shared is None or _shared_key != key:
            if _shared is not None and _shared_key[0] == key[0]:
                _shared.close()  # ours (same process): a changed URL or queue
            _shared = redis.Redis.from_url(
                key[1],
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                socket_timeout=REDIS_SOCKET_TIMEOUT,
                # A connection idle for this long is PINGed before use, so one that a
                # Redis restart (or a NAT) dropped is replaced instead of failing a task.
                health_check_interval=30,
                # Named per process in CLIENT LIST: who holds which connection.
                client_name=f"{key[2]}.{key[0]}",
            )
            _shared_key = key
        return _shared


class PooledRedis(Redis):
    """django-q2's Redis broker (Q_BROKER=redis), with one connection pool per process.

    Why: django-q2 builds a broker for every `async_task`, and the stock broker built a new
    client, hence a new connection pool, hence a new TCP connection (and, with a password,
    an AUTH round trip) for every enqueue, closed again when the broker was dropped.
    Profiling a burst showed as many connections as tasks. Here every broker of a process
    uses `shared_redis()`; redis-py's pool hands each thread its own connection while
    it runs a command, so threads never share a socket mid-command.

    Delivery is as in django-q2: a worker takes a task with BLPOP, so the task is gone
    from Redis the moment it is handed out (there is no acknowledgement, and Q_RETRY
    plays no part). A worker killed mid-task loses it; the outbox recovers the work:
    its posts stay due and the sweeper (notifications.tasks.sweep_due_posts) queues the
    request again, and reconcile is idempotent.
    """

    @staticmethod
    def get_connection(list_key: str | None = None) -> redis.Redis:
        return shared_redis()
