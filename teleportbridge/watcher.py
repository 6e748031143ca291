"""The watcher: one WatchEvents stream, level-triggered resync, reconnect forever.

Each (re)connection waits for INIT, then lists every access request and applies the
difference (so events missed while disconnected are not lost; the official plugin
skips this), then applies events as they come. Any failure closes the connection and
tries again after a jittered exponential backoff; `stop()` interrupts at any point.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import grpc
from django.db import close_old_connections, transaction
from django.utils import timezone

from common.backoff import Backoff
from common.request_log import request_context
from teleportbridge import sync
from teleportbridge.models import WatcherState
from teleportbridge.teleport.client import TeleportClient, WatchStream
from teleportbridge.teleport.connection import Connection
from teleportbridge.teleport.errors import (
    TeleportError,
    TeleportUnavailable,
    classify_rpc_error,
)
from teleportbridge.teleport.proto import authservice_pb2 as pb

log = logging.getLogger(__name__)

ConnectFn = Callable[[], tuple[Connection, pb.PingResponse]]
GroupFn = Callable[[], AbstractContextManager[None]]
INIT_TIMEOUT = 15.0
#: Most events applied in one transaction (Watcher.handle_all). In a burst the events
#: wait on the stream while the watcher stores the previous ones; taking them together
#: costs one commit and one queue hand-off per batch instead of per event. Idle, a batch
#: is the one event that arrived, so the first post is not delayed.
EVENT_BATCH_MAX = 64
# Events read ahead of the watcher (bounded: the reader waits while it is full, and the
# stream's own flow control then holds Teleport back).
READ_AHEAD = 1024
# last_event_at is for the health page; writing it once per event would add a commit per
# event in a burst, so it is written at most this often (it lags by less than that).
EVENT_STAMP_INTERVAL = 1.0
# grpcio wakes a thread blocked on a stream every 0.1 s (grpc._common.MAXIMUM_WAIT_TIMEOUT)
# so that a signal handler in the main thread never waits longer (grpc/grpc#19464, about
# platforms where a lock wait cannot be interrupted; on Linux a signal interrupts it and
# the handler runs at once). The watch stream sits idle for hours, and those 10 wake-ups
# a second were ~0.18% of a core, a third of the idle tree's CPU. stop() cancels the
# stream, which wakes the wait at once, so the longer slice delays nothing. A private
# attribute: should grpcio drop it, setting it does nothing.
STREAM_WAIT_SLICE = 2.0


def _longer_stream_wait_slices() -> None:
    common = getattr(grpc, "_common", None)
    current = getattr(common, "MAXIMUM_WAIT_TIMEOUT", None)
    if isinstance(current, float) and current < STREAM_WAIT_SLICE:
        common.MAXIMUM_WAIT_TIMEOUT = STREAM_WAIT_SLICE  # type: ignore[union-attr]


class Watcher:
    """Runs until stop(); `run_once()` is one connection's life, for tests to step through."""

    def __init__(
        self,
        connect: ConnectFn,
        *,
        on_change: sync.ChangeHook,
        group_changes: GroupFn = contextlib.nullcontext,
        init_timeout: float = INIT_TIMEOUT,
        backoff: Backoff | None = None,
        fail_fast: bool = False,
    ) -> None:
        self._connect = connect
        # What to do when a request changed (the service wiring passes the Mattermost side's
        # enqueue_reconcile); the Teleport side never names its consumer.
        self.on_change = on_change
        # Wraps a transaction's worth of changes so the consumer can take them as one
        # hand-off (the wiring passes notifications.tasks.grouped_enqueues).
        self.group_changes = group_changes
        # TELEPORT_PLUGIN_FAIL_FAST: let a supervisor (systemd, Kubernetes) restart us
        # instead of reconnecting in-process, as the official plugin does.
        self.fail_fast = fail_fast
        self.init_timeout = init_timeout
        self.backoff = backoff or Backoff(base=0.5, cap=15.0)
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set after each successful INIT + resync
        self.client: TeleportClient | None = None
        self.proxy_public_addr = ""
        # The current stream, so stop() (from a signal handler thread) can cancel it.
        self._stream_lock = threading.Lock()
        self._stream: WatchStream | None = None
        self.connections = 0
        self._stamped_at = float("-inf")  # monotonic time of the last last_event_at write

    # -- control ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to end; cancels the open stream so it returns within moments."""
        self.stopping.set()
        with self._stream_lock:
            if self._stream is not None:
                self._stream.cancel()

    def run(self) -> None:
        """Connect, watch, and on any failure back off and reconnect, until stop().

        With fail_fast the first failure raises TeleportError instead.
        """
        _longer_stream_wait_slices()
        while not self.stopping.is_set():
            try:
                self.run_once()
                if self.stopping.is_set():
                    break
                error = "the server closed the watch stream"
            except TeleportError as exc:
                error = str(exc)
            except Exception as exc:  # a DB outage, a bug: keep watching, resync will repair
                log.exception("Watcher failed unexpectedly")
                error = f"{type(exc).__name__}: {exc}"
            if self.stopping.is_set():
                break
            self.ready.clear()
            _safe_state(connected=False, last_error=error[:2000])
            if self.fail_fast:
                raise TeleportError(
                    f"watcher lost its connection: {error} "
                    "(TELEPORT_PLUGIN_FAIL_FAST is set: exiting instead of reconnecting)"
                )
            delay = self.backoff.next()
            log.warning("Watcher disconnected (%s); reconnecting in %.1fs", error, delay)
            self.stopping.wait(delay)
        _safe_state(connected=False)
        log.info("Watcher stopped")

    # -- one connection ---------------------------------------------------------------------
    def run_once(self) -> None:
        conn, ping = self._connect()
        client = TeleportClient(conn)
        self.client = client
        self.proxy_public_addr = TeleportClient.web_proxy_addr(ping)
        self.connections += 1
        try:
            stream = client.watch()
            with self._stream_lock:
                self._stream = stream
                if self.stopping.is_set():
                    return
            self._wait_for_init(stream, client, ping, conn.path)
            for events in _EventPump(stream).batches():
                if self.stopping.is_set():
                    return
                self.handle_all(events)
        except grpc.RpcError as exc:
            if self.stopping.is_set():
                return
            raise classify_rpc_error(exc, "WatchEvents") from None
        finally:
            with self._stream_lock:
                self._stream = None
            self.client = None
            client.close()

    def _wait_for_init(self, stream, client: TeleportClient, ping, path: str) -> None:
        timed_out = threading.Event()

        def _expire() -> None:
            timed_out.set()
            stream.cancel()

        timer = threading.Timer(self.init_timeout, _expire)
        timer.daemon = True
        timer.start()
        try:
            first = next(stream)
        except grpc.RpcError:
            if timed_out.is_set():
                raise TeleportUnavailable("watcher initialization timed out") from None
            raise
        except StopIteration:
            raise TeleportUnavailable("the watch stream ended before INIT") from None
        finally:
            timer.cancel()
        if first.Type != pb.INIT:
            raise TeleportUnavailable(f'unexpected event type "{pb.Operation.Name(first.Type)}"')
        accepted = {k.Kind for k in first.WatchStatus.Spec.Kinds}
        if not first.HasField("WatchStatus"):
            accepted = {"access_request", "access_monitoring_rule"}  # older servers
        if "access_request" not in accepted:
            raise TeleportError(
                "failed to initialize watcher for all the required resources (Teleport "
                "refused to watch access_request: grant the role access_request [list, read])"
            )
        rules = 0
        if "access_monitoring_rule" in accepted:
            rules = sync.replace_rules(client.list_monitoring_rules())
        close_old_connections()
        changed, deleted = sync.resync_requests(
            client.list_access_requests(), on_change=self.on_change, group=self.group_changes
        )
        now = timezone.now()
        _safe_state(
            connected=True,
            cluster_name=ping.ClusterName,
            server_version=ping.ServerVersion,
            proxy_public_addr=self.proxy_public_addr,
            connection_path=path[:32],
            connected_since=now,
            last_resync_at=now,
            last_error="",
            reconnects=max(self.connections - 1, 0),
        )
        self.backoff.reset()
        self.ready.set()
        log.info(
            "Watcher connected to %s (%s, %s); resync: %d changed, %d deleted, %d rule(s). "
            "Plugin is ready",
            ping.ClusterName,
            ping.ServerVersion,
            path,
            changed,
            deleted,
            rules,
        )

    # -- events -----------------------------------------------------------------------------
    def handle(self, event: pb.Event) -> None:
        """Apply one event (handle_all of one)."""
        self.handle_all([event])

    def handle_all(self, events: list[pb.Event]) -> None:
        """Apply events in one transaction; malformed ones are logged and skipped.

        One commit, and the changes go to the consumer as one group (group_changes), which
        queues its tasks inside this transaction: stored changes and their hand-off commit
        together, or neither does. Each store is a savepoint of its own, so one bad record
        is still quarantined alone (sync.upsert_request). A database failure rolls back the
        whole batch and ends the connection; the resync after reconnecting stores it again.
        """
        # Before the transaction: inside one it would close the connection it is using.
        close_old_connections()
        with transaction.atomic(), self.group_changes():
            for event in events:
                self._apply(event)
        now = time.monotonic()
        if now - self._stamped_at >= EVENT_STAMP_INTERVAL:
            self._stamped_at = now
            _safe_state(last_event_at=timezone.now())

    def _apply(self, event: pb.Event) -> None:
        kind = event.WhichOneof("Resource")
        op = pb.Operation.Name(event.Type) if event.Type in (0, 1, 2) else str(event.Type)
        if event.Type == pb.PUT and kind == "AccessRequest":
            sync.upsert_request(event.AccessRequest, on_change=self.on_change)
        elif event.Type == pb.PUT and kind == "AccessMonitoringRule":
            sync.upsert_rule(event.AccessMonitoringRule)
            log.info("Access monitoring rule %s updated", event.AccessMonitoringRule.metadata.name)
        elif event.Type == pb.DELETE and kind == "ResourceHeader":
            header = event.ResourceHeader
            name = header.Metadata.Name
            if header.Kind == "access_request" and name:
                sync.mark_deleted(name, on_change=self.on_change)
            elif header.Kind == "access_monitoring_rule" and name:
                sync.delete_rule(name)
                log.info("Access monitoring rule %s deleted", name)
            else:
                log.warning("Skipping a malformed DELETE event (kind %r)", header.Kind)
        else:
            with request_context("-"):
                log.warning("Skipping an unexpected %s event carrying %s", op, kind or "nothing")


class _EventPump:
    """Reads the watch stream on a thread of its own, so the watcher can take every event
    already waiting at once: grpcio's stream iterator cannot say "is there more?" without
    blocking. The reader ends with the stream: its end, its error (re-raised by batches()
    in the watcher's thread), or the cancel of stop() or of the connection's close."""

    _END = object()

    def __init__(self, stream: WatchStream, limit: int = EVENT_BATCH_MAX) -> None:
        self._stream = stream
        self._limit = limit
        self._queue: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._closed = threading.Event()  # the watcher stopped taking: the reader gives up
        self._thread = threading.Thread(target=self._read, name="watch-reader", daemon=True)

    def _read(self) -> None:
        end: object = self._END
        try:
            for event in self._stream:
                if not self._put(event):
                    return
        except BaseException as exc:  # grpc.RpcError mostly: raised where events are used
            end = exc
        finally:
            # Always a last item, so the watcher never waits on a reader that is gone.
            self._put(end)

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def batches(self) -> Iterator[list[pb.Event]]:
        """Lists of up to `limit` events: the next one (waiting for it), then those behind it."""
        self._thread.start()
        try:
            item = self._queue.get()
            while True:
                events: list[pb.Event] = []
                while isinstance(item, pb.Event) and len(events) < self._limit:
                    events.append(item)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = None
                if events:
                    yield events
                if isinstance(item, pb.Event):
                    continue  # the batch was full: this one starts the next
                if item is None:
                    item = self._queue.get()
                elif item is self._END:
                    return
                elif isinstance(item, BaseException):
                    raise item
                else:
                    raise TypeError(f"unexpected item from the watch stream: {type(item)}")
        finally:
            self._closed.set()


def _safe_state(**fields: object) -> None:
    """Health bookkeeping must never take the watcher down (e.g. during a DB blip)."""
    try:
        WatcherState.set(**fields)
    except Exception as exc:
        log.warning("Could not record watcher state: %s", exc)
