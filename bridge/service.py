"""`runwatcher` as a process: start-up checks, workers, watcher, audit poller, shutdown.

Order matters: the start-up checks run first, so a bad token or an unreachable cluster is
one clear line and exit code 1 with nothing started; they run in a forked child
(bridge.startup.run_in_child) because the django-q2 workers are forked next and no gRPC
channel may exist in this process before that (grpcio does not survive fork).

Stopping: a graceful stop ends within GRACEFUL_STOP_SECONDS whatever the load (see
`Service._stop_workers()` for what used to hold it up), and however runwatcher ends, even
by SIGKILL, its forked workers end with it (`proctree.forks_die_with_parent()`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from bridge import wakeup
from bridge.followup_loop import alert_scan_seconds, scan_alerts, scan_reminders
from bridge.leader import LeaderLock
from bridge.logsetup import configure_logging
from bridge.proctree import descendants, forks_die_with_parent, kill_all, kill_tree_and_exit
from bridge.startup import mattermost_failure, run_in_child, teleport_failure
from bridge.status import StatusServer
from bridge.stop_signals import StopSignals
from notifications.tasks import enqueue_reconcile, grouped_enqueues, sweep_due_posts
from teleportbridge.audit_poller import AuditPoller
from teleportbridge.config import Config, ConfigError, load_config
from teleportbridge.models import WatcherState
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import TeleportError
from teleportbridge.teleport.identity import CredentialSource
from teleportbridge.watcher import ConnectFn, Watcher

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
SWEEP_SECONDS = 5.0
#: How often the leader confirms it still holds the lock: the longest two watchers overlap.
LEADER_CHECK_SECONDS = 2.0
#: What a graceful stop (SIGTERM, SIGINT) promises, under any load.
GRACEFUL_STOP_SECONDS = 5.0
#: The part of it the django-q2 workers get to finish the delivery in hand; the rest is
#: for the watcher's own bookkeeping and the interpreter's exit.
WORKER_DRAIN_SECONDS = 3.0
#: Signals that stop runwatcher gracefully. SIGHUP reloads instead (`Service.reload`): it
#: is systemd's `ExecReload=/bin/kill -HUP $MAINPID` and what logrotate's postrotate sends
#: (the Go plugin dies from it). A closed terminal therefore no longer stops runwatcher.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class Options:
    config_path: str
    workers: bool = True
    audit_interval: float = 30.0
    init_timeout: float = 15.0
    fail_fast: bool = False
    status_addr: str = ""  # HOST:PORT of /healthz, /readyz, /metrics ("" none: bridge/status.py)
    audit_denied_interval: float = 3600.0  # audit polls while the role lacks event read
    debug: bool = False  # -d: debug logging, kept across reloads


def make_connector(cfg: Config, creds: CredentialSource) -> ConnectFn:
    """Direct mTLS or through the Proxy, whichever the address turns out to be."""
    from teleportbridge.teleport.dialer import Dialer

    return Dialer(cfg.teleport, creds).connect


def _dialer_of(connect: ConnectFn):
    """The Dialer behind a connect function (None for one a test passed in)."""
    from teleportbridge.teleport.dialer import Dialer

    owner = getattr(connect, "__self__", None)
    return owner if isinstance(owner, Dialer) else None


_WORKER_MODULES = (
    "django_q.monitor",
    "django_q.pusher",
    "django_q.worker",
    "grpc",
    "requests",
    "notifications.reconcile",
    "teleportbridge.teleport.dialer",
    "teleportbridge.teleport.identity",
)


def _preload_worker_modules() -> None:
    """Import what every worker imports on its first task, once, before the fork: the
    forks share these pages instead of each importing (and paying ~60 ms for) its own."""
    for name in _WORKER_MODULES:
        importlib.import_module(name)


def check_mattermost(cfg: Config) -> str:
    """The plugin's health check (GET users/me); returns the bot's username."""
    from notifications.mattermost.client import MattermostClient
    from notifications.mattermost.errors import MattermostError

    client = MattermostClient(cfg.mattermost.url, cfg.mattermost.token)
    try:
        me = client.get_me()
    except MattermostError as exc:
        raise mattermost_failure(exc) from None
    finally:
        client.close()
    return str(me.get("username", ""))


class Service:
    """Owns the threads and processes of one `runwatcher`; `stop()` is signal-safe."""

    def __init__(self, cfg: Config, opts: Options, connect: ConnectFn | None = None) -> None:
        self.cfg = cfg
        self.opts = opts
        self.creds = CredentialSource(cfg.teleport)
        self.connect = connect or make_connector(cfg, self.creds)
        # The wiring of the one-way flow: the Teleport side reports changes, the Mattermost
        # side's task queue hears them (teleportbridge never imports notifications).
        self.watcher = Watcher(
            self.connect,
            on_change=enqueue_reconcile,
            group_changes=grouped_enqueues,
            init_timeout=opts.init_timeout,
            fail_fast=opts.fail_fast,
        )
        self.stopping = threading.Event()
        self.lock = LeaderLock()
        self.cluster: Any = None  # django-q2's Cluster (untyped), once started
        self._threads: list[threading.Thread] = []
        # SIGTERM/SIGINT (bridge.stop_signals); installed by run() and again after the
        # django-q2 Cluster replaced them.
        self.stop_signals = StopSignals(
            stop=self.stop,
            force=lambda: kill_tree_and_exit(1),
            forced_after=settings.FORCED_STOP_SECONDS,
        )
        # monotonic time the stop was asked for: every wait of the stop counts from it.
        self._stop_asked_at: float | None = None
        # One reload at a time (two SIGHUPs in a row start two reload threads).
        self._reload_lock = threading.Lock()
        self._pid = os.getpid()  # forked django-q2 processes inherit the signal handlers
        # Serialises _stop_workers() between the shutdown thread and the main thread.
        self._workers_lock = threading.Lock()
        self._workers_stopped = False
        self.status: StatusServer | None = None
        self.audit = AuditPoller(denied_interval=opts.audit_denied_interval)
        # Why run() ended on its own (not a signal): the command exits 1 with this line.
        self.failure: str | None = None

    def stop(self) -> None:
        """Stop everything, from a helper thread (never inside the signal handler itself:
        stop() takes the watcher's stream lock, which the main thread may be holding).

        The workers are told to stop here rather than after the watcher has wound down,
        so their drain runs in parallel with it and does not depend on the main thread
        returning promptly."""
        self._mark_stop_asked()
        self.stopping.set()
        self.watcher.stop()
        self._stop_workers()

    def _mark_stop_asked(self) -> float:
        # Benign race: the shutdown thread and the main thread may both get here; either
        # value is within moments of the other.
        if self._stop_asked_at is None:
            self._stop_asked_at = time.monotonic()
        return self._stop_asked_at

    def install_signal_handlers(self) -> None:
        """As the plugin: SIGTERM/SIGINT stop gracefully, forced after FORCED_STOP_SECONDS
        (15 s); a second SIGINT forces at once; SIGUSR1 is ignored instead of killing us.
        SIGHUP reloads the configuration (`reload`; the plugin dies from it)."""

        def reload_handler(_signum, _frame) -> None:
            # Not here: reading files and replacing log handlers inside a signal handler
            # could interrupt the main thread in the middle of writing a log record.
            # The django-q2 processes inherit this handler (forked after it was set).
            target = self.reload if os.getpid() == self._pid else self._reload_forked
            threading.Thread(target=target, name="reload", daemon=True).start()

        self.stop_signals.install(STOP_SIGNALS)
        signal.signal(signal.SIGHUP, reload_handler)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)

    def reload(self) -> bool:
        """SIGHUP: re-read the TOML and reopen the log (closed and opened again, so a file
        logrotate moved away is replaced). Recipients, role routing, [mattermost] and [log]
        take effect; [teleport] (address, credentials) needs a restart, and a change there
        is logged as such. A file that does not load is refused in one line and the last
        good configuration stays, logging included.

        The workers read the TOML themselves when it changes (notifications.runtime) and
        keep their last good one the same way."""
        with self._reload_lock:
            path = self.opts.config_path
            try:
                cfg = load_config(path)
                configure_logging(cfg.log, debug=self.opts.debug)
            except ConfigError as exc:
                log.error(
                    "Got SIGHUP; configuration reload refused, keeping the last good one: %s", exc
                )
                return False
            if cfg.teleport != self.cfg.teleport:
                log.warning(
                    "Got SIGHUP; [teleport] changed in %s: restart to apply it (still using %s)",
                    path,
                    self.cfg.teleport.addr,
                )
                cfg = dataclasses.replace(cfg, teleport=self.cfg.teleport)
            for warning in cfg.warnings:
                log.warning("%s", warning)
            self.cfg = cfg
            log.info("Got SIGHUP; reloaded the configuration from %s and reopened the log", path)
            self._forward_reload()
            return True

    def _forward_reload(self) -> None:
        """The django-q2 sentinel, pusher, monitor and workers log through handlers
        inherited at fork: they reopen the log and take the new [log] section too."""
        if self.cluster is None:
            return
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def _reload_forked(self) -> None:
        """SIGHUP forwarded to a django-q2 process: the [log] section only, quietly (the
        watcher logged the reload; recipients are read per task, notifications.runtime)."""
        with contextlib.suppress(ConfigError):
            configure_logging(load_config(self.opts.config_path).log, debug=self.opts.debug)

    def start_workers(self) -> None:
        from django_q.brokers import get_broker
        from django_q.cluster import Cluster

        if settings.Q_CLUSTER.get("sync"):
            # Q_SYNC: every task runs in place, in the thread that queues it; a cluster
            # would have nothing to do, and forking it with sync set shared this
            # process's PostgreSQL socket with the pusher (django-q2 closes connections
            # before a fork only when not in sync mode).
            log.info("Q_SYNC is set: tasks run in the watcher process, no workers started")
            return

        _preload_worker_modules()
        # The forked workers must not share our DB sockets.
        connections.close_all()
        # Objects that exist now are shared with the forks copy-on-write; frozen, the
        # collector never writes to them, so those pages stay shared (PSS of the tree).
        gc.freeze()
        # The sentinel and, through it, every worker die the moment we do, even by SIGKILL:
        # workers left behind would keep draining the queue with no watcher and no leader.
        forks_die_with_parent()
        self.cluster = Cluster(get_broker())
        # Cluster() installs its own SIGTERM/SIGINT handlers (stop the workers only); put
        # ours back before start() so a signal during the start-up stops everything.
        self.install_signal_handlers()
        try:
            self.cluster.start()
        except RuntimeError:
            if self.stopping.is_set():
                return  # a stop during start-up ended the sentinel before it was ready
            raise
        log.info("Started %s in-process django-q2 worker(s)", settings.Q_CLUSTER["workers"])

    def _stop_workers(self) -> None:
        """Stop the django-q2 cluster within WORKER_DRAIN_SECONDS of the stop request.

        django-q2's own Cluster.stop() has no bound, and under load it took long enough
        to hit the 15 s forced stop: its sentinel first waits for the pusher, which may be
        blocked handing a task to a full worker queue; it then queues one STOP *behind*
        every task already handed to the pool (up to workers² of them); each worker
        finishes its task first, and one delivery can spend the HTTP client's 10 s timeout
        on a Mattermost that stopped answering, several calls in a row; finally it waits
        up to Q_TIMEOUT for the monitor to save every result.

        So the workers get a drain window, and whatever is still running after it is
        killed. That is safe by design (notifications.delivery): a post is committed as
        SENDING with its key before the HTTP call, and the next runwatcher's sweep adopts
        a post that reached Mattermost instead of sending it again; a task that was
        queued but not finished is never acknowledged, so the broker delivers it again
        (with Q_BROKER=redis, which has no acknowledgement, it is gone from Redis: the
        sweep at the next start queues the posts it left due).

        Called by the shutdown thread and by run()'s cleanup; the lock makes the second
        caller wait for the first instead of joining the sentinel concurrently."""
        with self._workers_lock:
            cluster = self.cluster
            sentinel = getattr(cluster, "sentinel", None)
            if sentinel is None or self._workers_stopped:
                # Not started (yet: then run()'s cleanup calls us again), or done already.
                return
            self._workers_stopped = True
            if cluster.stop_event is not None:
                cluster.stop_event.set()  # the sentinel's own graceful stop begins
            deadline = self._mark_stop_asked() + WORKER_DRAIN_SECONDS
            self._join_waking_the_pusher(sentinel, deadline)
            if sentinel.is_alive():
                # The sentinel first: with it gone nothing can reincarnate a worker, and its
                # children get their parent-death SIGKILL anyway; listed ones are killed too.
                busy = [sentinel.pid, *descendants(sentinel.pid)]
                log.warning(
                    "The workers were still busy %ss after the stop; stopped them "
                    "(unfinished deliveries resume at the next start)",
                    f"{WORKER_DRAIN_SECONDS:g}",
                )
                kill_all(busy)
                sentinel.join(timeout=2)

    @staticmethod
    def _join_waking_the_pusher(sentinel: Any, deadline: float) -> None:
        """Wait for the sentinel until `deadline`, waking the pusher meanwhile.

        Race: the sentinel tells the pusher to stop (its own event) some moments after it
        saw ours, and a wake-up sent before that only starts another idle wait of up to
        Q_POLL. So one goes out every 0.1 s until the sentinel has ended; each costs the
        pusher one empty query. Redis' BLPOP returns within its own short timeout."""
        alias = str(settings.Q_CLUSTER.get("orm", ""))
        waker = wakeup.Waker(alias) if settings.Q_BROKER == "database" and alias else None
        try:
            while sentinel.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if waker is not None:
                    waker.wake()
                sentinel.join(timeout=min(0.1, left))
        finally:
            if waker is not None:
                waker.close()

    # -- the status listener (bridge/status.py) ---------------------------------------------
    def start_status(self) -> None:
        """Bind /healthz, /readyz, /metrics first: a taken port is a start-up error, and a
        standby (waiting for the leader lock) is alive to its supervisor from the start."""
        if self.opts.status_addr:
            self.status = StatusServer(
                self.opts.status_addr,
                self.not_ready_reason,
                ready_watcher=self.watcher.ready.is_set,
            ).start()

    def stop_status(self) -> None:
        if self.status is not None:
            self.status.stop()

    def not_ready_reason(self) -> str | None:
        """/readyz's answer after the database check: None once INIT has been received
        since the last (re)connect; the watcher clears `ready` whenever the stream drops."""
        if self.stopping.is_set():
            return "shutting down"
        if self.watcher.ready.is_set():
            return None
        if self.watcher.connections == 0:
            return "starting (start-up checks, leader lock or first connection to Teleport)"
        return "the Teleport watch stream is down (no INIT since the last reconnect)"

    def startup_checks(self) -> bool:
        """Teleport and Mattermost answer as they must (False: stopped meanwhile)."""
        result = run_in_child(self._probe, self.stopping)
        if result is None:
            return False
        cluster, version, bot, decision, events_readable = result
        dialer = _dialer_of(self.connect)
        if dialer is not None:
            dialer.adopt(decision)  # the watcher goes the way the probe found (direct or Proxy)
        log.info(
            "Start-up checks passed: Teleport %s (%s), Mattermost bot @%s", cluster, version, bot
        )
        if self.opts.audit_interval > 0:
            self.audit.permission(granted=events_readable)  # one warning if not
        return True

    def _probe(self) -> tuple[str, str, str, object, bool]:
        """Runs in the child process: connect, ping, permissions, Mattermost's users/me;
        also whether the audit log is readable (not fatal: the audit pages need it)."""
        try:
            conn, ping = self.connect()
        except TeleportError as exc:
            raise teleport_failure(exc) from None
        try:
            TeleportClient.check_version(ping)
            TeleportClient(conn).check_permissions()
            events_readable = TeleportClient(conn).can_read_events()
        except TeleportError as exc:
            raise teleport_failure(exc) from None
        finally:
            conn.close()
        bot = check_mattermost(self.cfg)
        dialer = _dialer_of(self.connect)
        decision = dialer.decision() if dialer else None
        return ping.ClusterName, ping.ServerVersion, bot, decision, events_readable

    def _loop(self, name: str, interval: float, fn: Callable[[], object]) -> None:
        def body() -> None:
            while not self.stopping.wait(interval):
                try:
                    close_old_connections()
                    fn()
                except Exception as exc:
                    log.exception("%s failed: %s", name, exc)
            close_old_connections()

        t = threading.Thread(target=body, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _heartbeat(self) -> None:
        WatcherState.set(heartbeat_at=timezone.now(), pid=os.getpid())

    def _check_leadership(self) -> None:
        """Stop if another watcher took the leader lock (our database session ended)."""
        if self.lock.still_held() is not False or self.stopping.is_set():
            return
        self.failure = (
            "lost the leader lock: the database session that held it ended and another "
            "watcher took it; exiting so the supervisor restarts this one as a standby"
        )
        log.error("%s", self.failure)
        threading.Thread(target=self.stop, name="shutdown", daemon=True).start()

    def _poll_audit(self) -> None:
        client = self.watcher.client
        if client is None or not self.watcher.ready.is_set():
            return
        # The poll records its own failures on the cursor (last_error); a missing
        # permission makes the poller ask only every --audit-denied-interval.
        stored = self.audit.step(client)
        if stored:
            log.info("Audit poll stored %d event(s)", stored)

    def run(self) -> None:
        os.environ["TELEPORT_MATTERMOST_CONFIG"] = self.opts.config_path
        settings.TELEPORT_MATTERMOST_CONFIG = self.opts.config_path
        self.install_signal_handlers()
        self.start_status()
        # Before the leader lock (a standby must fail now too) and before any worker.
        if not self.startup_checks() or not self.lock.wait(self.stopping):
            return
        try:
            if self.opts.workers and not self.stopping.is_set():
                self.start_workers()
            self._heartbeat()
            # At once, not a sweep interval later: posts a killed predecessor left in flight
            # are settled within seconds of the restart (notifications.claims).
            try:
                sweep_due_posts(at_start=True)
            except Exception as exc:
                log.exception("sweeper failed: %s", exc)
            self._loop("heartbeat", HEARTBEAT_SECONDS, self._heartbeat)
            if self.lock.supported:
                self._loop("leader-check", LEADER_CHECK_SECONDS, self._check_leadership)
            if self.opts.audit_interval > 0:
                self._loop("audit-poller", self.opts.audit_interval, self._poll_audit)
            # Short: a due retry (e.g. Retry-After: 2) waits at most this long extra.
            self._loop("sweeper", SWEEP_SECONDS, sweep_due_posts)
            # Follow-ups (off unless the TOML enables them); self.cfg follows SIGHUP.
            self._loop("reminders", SWEEP_SECONDS, lambda: scan_reminders(self.cfg))
            self._loop("alerts", alert_scan_seconds(), lambda: scan_alerts(self.cfg))
            if not self.stopping.is_set():
                self.watcher.run()
        finally:
            stop_asked_at = self._mark_stop_asked()
            self.stopping.set()
            self._stop_workers()
            # The loops finish their current round; all of them share one deadline. The
            # audit poller's GetEvents is cancelled by the watcher closing its connection.
            # A loop still busy after it (a slow query) is a daemon thread: it ends with
            # the process and its open transaction is rolled back.
            deadline = stop_asked_at + WORKER_DRAIN_SECONDS
            for t in self._threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
                if t.is_alive():
                    log.warning("The %s loop was still busy at shutdown; not waiting", t.name)
            self.lock.release()
            self.stop_status()
            try:
                WatcherState.set(connected=False, pid=None)
            except Exception as exc:
                log.warning("Could not record the shutdown: %s", exc)
            log.info("Successfully shut down")
