"""Spacing the starts of calls, so that the answers of a steady endpoint do not come in waves."""

from __future__ import annotations

import asyncio

SLACK = 0.9  # starts may come this much closer than the average gap: room to catch up
MAX_GAP = 0.025  # seconds; the event loop's own work per call is a few milliseconds
STEADY = 0.1  # spread starts only while durations stray from their average by less than this
WEIGHT = 0.1  # how far each finished job moves the averages


class Pacer:
    """While job durations are steady, starts jobs at least SLACK * average / workers apart.

    Calls that start together end together when the endpoint's latency is steady, and one
    event loop then handles their answers in turns, each waiting for all the others: the
    bunch stays a bunch and grows with every hiccup, and every call in it waits. Spacing
    the starts (never by more than MAX_GAP) spreads the bunches out. When durations vary,
    as a model's answers usually do, bunches dissolve by themselves, and spacing would only
    add waits (measured: 5-13% longer runs), so then jobs start at once. The first jobs,
    before any has finished, start at once too.
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.average: float | None = None  # seconds per job, a moving average
        self.deviation = 0.0  # how far durations stray from it, a moving average
        self._next = 0.0  # the earliest time the next job may start

    def delay(self, now: float) -> float:
        """Seconds the job asking at `now` must wait; books its start."""
        if self.average is None or self.deviation > STEADY * self.average:
            return 0.0
        start = max(now, self._next)
        self._next = start + min(SLACK * self.average / self.workers, MAX_GAP)
        return start - now

    async def turn(self) -> float:
        """Wait until this worker's next job may start; return the (event loop) time it did."""
        loop = asyncio.get_running_loop()
        wait = self.delay(loop.time())
        if wait > 0:
            await asyncio.sleep(wait)
        return loop.time()

    def finished(self, began: float) -> None:
        """Fold in how long a job that began at `began` (event loop time) took."""
        self.took(asyncio.get_running_loop().time() - began)

    def took(self, seconds: float) -> None:
        """Fold in one job's duration."""
        if self.average is None:
            self.average = seconds
            return
        self.deviation += WEIGHT * (abs(seconds - self.average) - self.deviation)
        self.average += WEIGHT * (seconds - self.average)
