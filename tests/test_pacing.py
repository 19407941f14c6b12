"""The pacer spreads the starts of jobs without lowering the throughput."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from rlm_cli.calls.pacing import MAX_GAP, SLACK, Pacer


def test_jobs_start_at_once_until_one_has_finished():
    pacer = Pacer(4)
    assert [pacer.delay(10.0) for _ in range(8)] == [0.0] * 8


def test_a_bunch_of_starts_is_spread_at_slack_times_the_average_gap():
    pacer = Pacer(4)
    pacer.took(0.08)  # one job per 0.02 s on average with 4 workers
    gap = SLACK * 0.08 / 4
    delays = [pacer.delay(10.0) for _ in range(5)]  # five workers ask at the same moment
    assert delays == pytest.approx([k * gap for k in range(5)])


def test_starts_already_spread_are_never_delayed():
    pacer = Pacer(4)
    pacer.took(0.08)
    assert [pacer.delay(10.0 + k * 0.02) for k in range(8)] == [0.0] * 8  # the average gap


def test_a_slow_average_spaces_starts_by_at_most_max_gap():
    pacer = Pacer(2)
    pacer.took(60.0)  # one call that hung: its 27 s gap would hold every start back
    assert [pacer.delay(10.0) for _ in range(3)] == pytest.approx([0.0, MAX_GAP, 2 * MAX_GAP])


def test_the_average_follows_the_durations_seen():
    pacer = Pacer(2)
    pacer.took(2.0)
    for _ in range(60):
        pacer.took(0.5)
    assert pacer.average is not None and abs(pacer.average - 0.5) < 0.01


def test_turn_waits_its_booked_delay_on_the_event_loop():
    async def starts() -> list[float]:
        pacer = Pacer(1)
        pacer.took(0.02)  # one worker: each start at least SLACK * 0.02 s after the last
        return [await pacer.turn() for _ in range(3)]

    times = asyncio.run(starts())
    # asyncio may run a timer up to its clock's resolution early: 1 ms is far above that
    assert all(b - a >= SLACK * 0.02 - 0.001 for a, b in itertools.pairwise(times))
