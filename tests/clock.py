"""A clock the test controls, for the simulators' `clock` hook: no test reads the calendar."""

from __future__ import annotations

import datetime as dt

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class StepClock:
    """Every call is one second later than the last: events get distinct, predictable times."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now
