"""Answers cut at --max-output: map answers retried once with room, then counted as failures;
a cut synthesis redone over smaller groups."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from rlm_cli.calls.context import Context
from rlm_cli.calls.pricing import add_cost, round_cost
from rlm_cli.calls.runner import Job, Outcome, Runner, cached, store_result
from rlm_cli.errors import EXIT_PARTIAL, RlmError
from rlm_cli.workspace import Workspace

T = TypeVar("T")
ROOM_FACTOR = 2  # a cut answer is asked again with this many times the output budget


class SynthesisCut(RlmError):
    """A synthesis answer too long for --max-output even over the fewest answers."""


def was_cut(outcome: Outcome) -> bool:
    """Whether an answer stopped at its output limit instead of finishing."""
    return outcome.status in ("ok", "cached") and bool(outcome.record.get("truncated"))


async def retry_cut(ws: Workspace, ctx: Context, outcomes: list[Outcome]) -> list[Outcome]:
    """Ask every cut answer again once with ROOM_FACTOR times the room; one still cut fails.

    A failure names the limit, is written as the job's record (so reduce lists the part as
    not covered) and its spend stays counted.
    """
    cut = [o for o in outcomes if was_cut(o)]
    if not cut:
        return outcomes
    limit = ctx.settings.max_tokens
    room = limit * ROOM_FACTOR
    ctx.reporter.info(
        f"map: {len(cut)} answer(s) cut at --max-output {limit:,} tokens; asking again "
        f"with {room:,}"
    )
    runner = ctx.runner(ws)
    runner.settings = replace(runner.settings, max_tokens=room)
    with ctx.reporter.task("map: cut answers asked again", len(cut)):
        again = {o.job.id: o for o in await runner.run([o.job for o in cut])}
    first = {o.job.id: o for o in cut}
    merged = []
    for outcome in outcomes:
        retry = again.get(outcome.job.id)
        if retry is None:
            merged.append(outcome)
            continue
        _add_spend(retry, first[outcome.job.id])
        if was_cut(retry):
            retry = await _as_failure(retry, limit, room)
        merged.append(retry)
    return merged


def _add_spend(outcome: Outcome, earlier: Outcome) -> None:
    """Count the cut attempt's tokens and dollars in the retry's record."""
    usage = outcome.record.setdefault("usage", {})
    for k, v in earlier.record.get("usage", {}).items():
        usage[k] = usage.get(k, 0) + v
    outcome.record["cost_usd"] = round_cost(  # an unknown price stays unknown (None)
        add_cost(outcome.record.get("cost_usd", 0.0), earlier.record.get("cost_usd", 0.0))
    )
    outcome.record["calls"] = outcome.record.get("calls", 0) + earlier.record.get("calls", 0)


async def _as_failure(outcome: Outcome, limit: int, room: int) -> Outcome:
    """A twice-cut answer as a failed outcome, recorded on disk in place of the answer."""
    record = {
        **outcome.record,
        "status": "failed",
        "error": f"answer cut at the output limit twice ({limit:,} then {room:,} tokens): "
        "raise --max-output, or ask for a shorter answer",
        "cut_answer": outcome.text,  # reduce still carries the verified quotes it holds
    }
    if outcome.job.slot is not None:
        await asyncio.to_thread(store_result, outcome.job.slot, None, record)
    return Outcome(outcome.job, "failed", None, record)


async def redo_smaller(
    runner: Runner,
    group: list[T],
    make_job: Callable[[list[T], str], Job | None],
    make_item: Callable[[list[T], str], T],
) -> tuple[list[T], list[Outcome]]:
    """A synthesis cut at the output limit, redone as two halves, each combined on its own.

    The halves go up to the next level in its place (one more level). A group of two
    cannot get smaller, and a half cut again means the answer itself is too long: both
    stop with an error naming --max-output instead of passing a cut answer on.
    """
    limit = runner.settings.max_tokens
    too_long = (
        f"a synthesis answer was cut at --max-output {limit:,} tokens even over fewer "
        "answers: raise --max-output (finished work is cached)"
    )
    if len(group) <= 2:
        raise SynthesisCut(too_long, EXIT_PARTIAL)
    middle = len(group) // 2
    halves = [group[:middle], group[middle:]]
    jobs = [make_job(half, suffix) for half, suffix in zip(halves, "ab", strict=True)]
    todo = [j for j in jobs if j is not None and ((done := cached(j)) is None or was_cut(done))]
    outcomes = await runner.run(todo)
    ran = {o.job.id: o for o in outcomes}
    items = []
    for job, half in zip(jobs, halves, strict=True):
        if job is None:
            items.append(half[0])
            continue
        outcome = ran.get(job.id) or cached(job)
        if outcome is None or (outcome.status != "ok" and outcome.status != "cached"):
            error = outcome.record.get("error") if outcome else "no answer"
            raise RlmError(f"a synthesis call failed ({error}); re-run to retry it", EXIT_PARTIAL)
        if was_cut(outcome):
            raise SynthesisCut(too_long, EXIT_PARTIAL)
        items.append(make_item(half, outcome.text or ""))
    return items, outcomes
