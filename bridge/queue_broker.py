"""django-q2's ORM broker with a push hand-off: the queue stays durable in our database,
and the pusher wakes the moment a task row commits instead of polling every 0.2 s.

Why not the stock ORM broker: its pusher sleeps `poll` seconds whenever the queue is
empty, which was ~115 ms of the ~130 ms from a new access request to its first post, and
polling faster cost idle CPU. Here `enqueue` adds a wake-up (bridge.wakeup: PostgreSQL
NOTIFY, or a datagram socket beside the SQLite file) and an empty `dequeue` waits on it;
`poll` (Q_POLL) remains as the fallback for a lost wake-up, so the pace when idle is one
cheap query per `poll` seconds.

Claiming is as in django-q2: a guarded UPDATE of the row's `lock` per task (two
clusters racing for the same row: only one UPDATE matches), and the row is deleted when
the worker's result is acknowledged; a claimed row whose lock expires (Q_RETRY) is handed
out again, which is what makes a task survive a killed worker.

Q_BROKER=redis uses bridge.redis_broker instead (kept apart: importing redis costs the
database-broker processes ~0.2 s of start-up for nothing).
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf

from bridge import wakeup


class PushORM(ORM):
    _listener: wakeup.Listener | None = None
    _listener_made = False

    def enqueue(self, task):
        pk = super().enqueue(task)
        # Inside the caller's transaction when there is one (notifications.tasks): the
        # wake-up goes out with its commit and is dropped with its rollback.
        wakeup.notify(Conf.ORM)
        return pk

    def _listen(self) -> wakeup.Listener | None:
        if not self._listener_made:
            # Made lazily, in the pusher process itself (the broker is pickled into it),
            # and before the pusher's first query: a wake-up sent between that query and
            # a later bind would reach no socket, and a task committed then would wait
            # for the fallback poll (Q_POLL, 5 s) on SQLite.
            self._listener = wakeup.listener(Conf.ORM)
            self._listener_made = True
        return self._listener

    def _wait(self, timeout: float) -> None:
        listener = self._listen()
        if listener is None:
            time.sleep(timeout)
        else:
            listener.wait(timeout)

    def dequeue(self):
        listener = self._listen()
        if listener is not None:
            # Wake-ups that arrived while we were busy: the query below covers them.
            listener.wait(0)
        tasks = list(
            self.get_connection()
            .filter(key=self.list_key, lock__lt=timezone.now())
            .order_by("pk")
            .values_list("pk", "lock", "payload")[: Conf.BULK]
        )
        claimed = []
        for pk, lock, payload in tasks:
            # Guarded by the lock we read: a concurrent cluster's claim makes this match 0.
            if (
                self.get_connection()
                .filter(pk=pk, lock=lock)
                .update(lock=timezone.now() + timedelta(seconds=Conf.RETRY))
            ):
                claimed.append((pk, payload))
        if claimed:
            return claimed
        if not tasks:
            self._wait(Conf.POLL)
        return None
