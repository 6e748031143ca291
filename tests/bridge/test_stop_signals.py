"""bridge.stop_signals with real signals: a stop never writes into the middle of a log line.

Found by bench/perf_table: a SIGTERM that reached runwatcher while its main thread was
writing a log record (here: the handler of the first SIGTERM, when a second one came)
failed with "reentrant call inside BufferedWriter", a traceback on stderr and the line
lost. The stream below receives the signal half-way through a line, deterministically.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading

import pytest

from bridge.stop_signals import StopSignals
from tests.waiting import wait_until


class SignalMidLine(io.StringIO):
    """A log stream that sends this process `signum` after writing half of each of the
    next `times` lines: the Python handler runs at the next bytecode, with the logging
    handler's lock held and half the line written."""

    def __init__(self, signum: int, times: int) -> None:
        super().__init__()
        self.signum, self.times = signum, times

    def write(self, text: str) -> int:
        if self.times <= 0 or not text.strip():
            return super().write(text)
        self.times -= 1
        half = len(text) // 2
        written = super().write(text[:half])
        os.kill(os.getpid(), self.signum)
        for _ in range(1000):  # bytecodes: the handler runs among them
            pass
        return written + super().write(text[half:])


@pytest.fixture
def service_log():
    """The stop handlers' logger, writing bare messages to a stream the test sets."""
    logger = logging.getLogger("bridge.service")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def installed():
    """StopSignals on SIGTERM and SIGINT of this (the main) thread, put back afterwards."""
    signums = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.getsignal(s) for s in signums}
    stopped, forced = threading.Event(), threading.Event()
    signals = StopSignals(stop=stopped.set, force=forced.set, forced_after=3600)
    signals.install(signums)
    yield signals, stopped, forced
    if signals.timer is not None:
        signals.timer.cancel()
    for s, h in previous.items():
        signal.signal(s, h)


def lines_of(handler: logging.StreamHandler) -> list[str]:
    return handler.stream.getvalue().splitlines()


def test_a_stop_signal_in_the_middle_of_a_log_line_leaves_both_lines_whole(service_log, installed):
    logger, handler = service_log
    signals, stopped, _ = installed
    handler.setStream(SignalMidLine(signal.SIGTERM, times=2))

    logger.info("a line the main thread was writing")
    assert wait_until(stopped.is_set, timeout=10)
    # The shutdown thread's line is itself interrupted by a second SIGTERM.
    wait_until(lambda: len(lines_of(handler)) == 3, timeout=10, message="3 log lines")
    assert lines_of(handler) == [
        "a line the main thread was writing",
        "Got SIGTERM, shutting down",
        "Got SIGTERM, already shutting down",
    ]
    assert signals.received == {signal.SIGTERM}


def test_a_second_sigint_forces_the_stop_and_says_so(service_log, installed):
    _, handler = service_log
    _, stopped, forced = installed
    signal.raise_signal(signal.SIGINT)
    assert wait_until(stopped.is_set, timeout=10)
    signal.raise_signal(signal.SIGINT)
    assert wait_until(forced.is_set, timeout=10)
    wait_until(lambda: len(lines_of(handler)) == 2, timeout=10, message="2 log lines")
    assert lines_of(handler) == ["Got SIGINT, shutting down", "Got SIGINT again, forcing shutdown"]


def test_the_forced_stop_comes_after_its_delay(service_log, installed):
    _, handler = service_log
    signals, stopped, forced = installed
    signals.forced_after = 0.2
    signal.raise_signal(signal.SIGTERM)
    assert wait_until(forced.is_set, timeout=10)
    assert stopped.is_set()
    wait_until(lambda: len(lines_of(handler)) == 2, timeout=10, message="2 log lines")
    assert lines_of(handler)[1] == "Graceful shutdown took over 0.2s, forcing it"
