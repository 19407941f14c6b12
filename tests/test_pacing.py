"""The pacer spreads the starts of jobs while their durations are steady, and only then."""

from __future__ import annotations

import asyncio

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


def test_jobs_of_varying_durations_start_at_once():
    pacer = Pacer(4)
    for seconds in [0.5, 0.1, 0.9, 0.3, 0.7] * 4:  # a model's answers: some short, some long
        pacer.took(seconds)
    assert [pacer.delay(10.0) for _ in range(8)] == [0.0] * 8


def test_the_average_follows_the_durations_seen():
    pacer = Pacer(2)
    pacer.took(2.0)
    for _ in range(60):
        pacer.took(0.5)
    assert pacer.average is not None and abs(pacer.average - 0.5) < 0.01


def test_turn_waits_until_each_booked_start_on_the_event_loop():
    async def starts() -> tuple[float, list[float]]:
        pacer = Pacer(1)
        pacer.took(0.02)  # one worker: each start booked SLACK * 0.02 s after the last
        first = asyncio.get_running_loop().time()  # no later than the first booking
        return first, [await pacer.turn() for _ in range(3)]

    first, times = asyncio.run(starts())
    # The k-th start is booked at first + k * gap or later, and a sleep never ends before
    # its time (asyncio may run a timer up to its clock's resolution, 1 ns, early). A
    # bound from the booked schedule, not from the previous turn's return: a preempted
    # process returns late, which only makes the next gap look shorter.
    gap = SLACK * 0.02
    assert all(t >= first + k * gap - 1e-6 for k, t in enumerate(times))
