"""Watcher fixtures: a Watcher connected straight to the simulator, run in a thread."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.connection import connect_direct
from teleportbridge.teleport.identity import load_identity_file
from teleportbridge.watcher import Watcher


class ChangeLog(list):
    """The watcher's change hook in Teleport-side tests: (request id, why) per change."""

    def __call__(self, request_id: str, *, why: str) -> None:
        self.append((request_id, why))


@pytest.fixture
def changes() -> ChangeLog:
    return ChangeLog()


def direct_connector(address: str, identity_path):
    creds = load_identity_file(str(identity_path))

    def connect():
        conn = connect_direct(address, creds)
        try:
            ping = TeleportClient(conn).ping(timeout=5)
        except Exception:
            conn.close()
            raise
        return conn, ping

    return connect


class WatcherThread:
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.watcher.run()
        finally:
            connection.close()

    def start(self) -> WatcherThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "watcher did not stop"


@pytest.fixture
def run_watcher(teleport, identity_file, changes):
    started: list[WatcherThread] = []

    def start(**kwargs) -> WatcherThread:
        kwargs.setdefault("on_change", changes)
        watcher = Watcher(direct_connector(teleport.address, identity_file), **kwargs)
        wt = WatcherThread(watcher).start()
        started.append(wt)
        return wt

    yield start
    for wt in started:
        wt.stop()
