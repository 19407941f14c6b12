"""Know before you spend: what a map (and the reduce after it) would call, and cost, from disk.

No model call is made. Input tokens are estimated from the chunk sizes (or counted exactly
with the count_tokens endpoint, which is free); output is unknowable in advance, so the
plan shows an expected figure and the worst case where every answer fills --max-output.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.backends.protocol import Request
from rlm_cli.calls.pricing import PRICES_CHECKED, cost
from rlm_cli.calls.runner import Job, cached
from rlm_cli.inputs.chunking import estimate_tokens
from rlm_cli.steps.jobs import map_jobs, shard_jobs
from rlm_cli.steps.reduce import synthesis_budget
from rlm_cli.workspace import Workspace

EXPECTED_ANSWER_TOKENS = 400  # a terse, structured answer; the worst case is --max-output


def _dollars(model: str, calls: list[tuple[int, int]]) -> float | None:
    """Cost of calls given as (input tokens, output tokens); None for an unknown model."""
    total = 0.0
    for inp, out in calls:
        one = cost(model, {"input_tokens": inp, "output_tokens": out})
        if one is None:
            return None
        total += one
    return total


def _reduce_calls(answers: int, answer_tokens: int, budget: int) -> list[int]:
    """Calls per synthesis level when `answers` answers of a given size are combined."""
    levels = []
    while answers > 1:
        groups = max(1, min(answers - 1, math.ceil(answers * (answer_tokens + 20) / budget)))
        levels.append(groups)
        answers = groups
    return levels


async def count_exact(backend: Any, jobs: list[Job], model: str, concurrency: int) -> list[int]:
    """Input tokens of each job's request, from the count_tokens endpoint."""
    slots = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> int:
        request = Request(job.system, job.render(job.material()), model, 0)
        async with slots:
            return await backend.count_tokens(request)

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def plan_map(
    ws: Workspace,
    task: str,
    ctx: Any,
    reduce_tokens: int | None = None,
    exact: bool = False,
    with_reduce: bool = True,
) -> dict[str, Any]:
    """The calls, tokens and dollars a map (and its reduce) would spend, as plain data."""
    s = ctx.settings
    manifest = ws.load_manifest()
    agentic = ctx.agentic and ctx.tree.children_may_delegate
    jobs = shard_jobs(map_jobs(ws, manifest, task, s, agentic), ctx.shard)
    todo = [j for j in jobs if not cached(j)]
    tokens_of = {c["id"]: c["tokens"] for c in manifest["chunks"]}
    overhead = overhead_tokens(task)
    if exact:
        ctx.check_credentials()
        inputs = await count_exact(ctx.backend, todo, s.model, s.concurrency)
    else:
        inputs = [tokens_of[j.id] + overhead for j in todo]
    expected_out = min(s.max_tokens, EXPECTED_ANSWER_TOKENS)
    budget = synthesis_budget(task, s, reduce_tokens) if with_reduce else 0
    levels = _reduce_calls(len(jobs), expected_out, budget) if with_reduce else []
    group = min(budget, len(jobs) * (expected_out + 20))  # a synthesis request's input, at most
    reduce_in = [group + estimate_tokens(prompts.REDUCE_SYSTEM)] * sum(levels)
    expected = [(i, expected_out) for i in inputs] + [(i, expected_out) for i in reduce_in]
    worst = [(i, s.max_tokens) for i in inputs + reduce_in]
    plan = {
        "workspace": str(ws.root),
        "model": s.model,
        "prices_checked": PRICES_CHECKED,
        "chunks": len(jobs),
        "map_calls": len(todo),
        "cached": len(jobs) - len(todo),
        "reduce_calls": sum(levels),
        "reduce_levels": len(levels),
        "input_tokens": sum(inputs) + sum(reduce_in),
        "map_input_tokens": sum(inputs),
        "input_counted": "exactly (count_tokens)" if exact else "estimated from chunk sizes",
        "expected_output_tokens": sum(o for _, o in expected),
        "max_output_tokens": sum(o for _, o in worst),
        "expected_cost_usd": _round(_dollars(s.model, expected)),
        "max_cost_usd": _round(_dollars(s.model, worst)),
    }
    if agentic:
        plan["note"] = "agentic sub-agents make several calls each: these figures are a floor"
    return plan


def plan_solve(index: Any, task: str, s: Any, chunk_tokens: int, max_turns: int) -> dict[str, Any]:
    """What a solve loop would start from; its spend depends on the model's choices."""
    overview = estimate_tokens(prompts.SOLVE_SYSTEM.format(task=task) + index.overview())
    tokens = sum(estimate_tokens(f.text) for f in index.files.values())
    chunks = max(1, math.ceil(tokens / chunk_tokens))
    map_once = [(chunk_tokens + overhead_tokens(task), min(s.max_tokens, EXPECTED_ANSWER_TOKENS))]
    return {
        "model": s.model,
        "prices_checked": PRICES_CHECKED,
        "files": len(index.files),
        "input_tokens": tokens,
        "first_turn_tokens": overview,
        "max_turns": max_turns,
        "map_whole_input_calls": chunks,
        "map_whole_input_cost_usd": _round(_dollars(s.model, map_once * chunks)),
        "note": "the loop's spend depends on the tools the model uses; bound it with "
        "--max-cost or --max-calls",
    }


def overhead_tokens(task: str) -> int:
    """Tokens a map call spends besides its chunk: instructions, task and wrapper."""
    return estimate_tokens(prompts.MAP_SYSTEM.format(task=task) + prompts.MAP_USER)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def render(plan: dict[str, Any]) -> str:
    """The plan in a few lines a person reads before spending."""

    def money(x: float | None) -> str:
        return "unknown (model not in the price table)" if x is None else f"${x:,.4f}"

    lines = [
        f"plan for {plan['workspace']} with {plan['model']} (prices checked {plan['prices_checked']})",
        f"  calls         {plan['map_calls']:,} map ({plan['cached']:,} of {plan['chunks']:,} chunks "
        f"cached) + ~{plan['reduce_calls']:,} reduce in {plan['reduce_levels']} level(s)",
        f"  input tokens  {plan['input_tokens']:,} ({plan['input_counted']})",
        f"  output tokens ~{plan['expected_output_tokens']:,} expected, "
        f"at most {plan['max_output_tokens']:,} (every answer at --max-output)",
        f"  cost          ~{money(plan['expected_cost_usd'])} expected, "
        f"at most {money(plan['max_cost_usd'])}",
    ]
    if plan.get("note"):
        lines.append(f"  note          {plan['note']}")
    lines.append("No model call was made; to spend it: `rlm-sub run` (or drop --dry-run).")
    return "\n".join(lines)


def render_solve(plan: dict[str, Any]) -> str:
    """The solve plan in a few lines."""
    cost = plan["map_whole_input_cost_usd"]
    return "\n".join(
        [
            f"solve plan with {plan['model']} (prices checked {plan['prices_checked']})",
            f"  input         {plan['files']:,} files, ~{plan['input_tokens']:,} tokens",
            f"  first turn    ~{plan['first_turn_tokens']:,} tokens (overview, not the input)",
            f"  turns         at most {plan['max_turns']}",
            f"  one full map  {plan['map_whole_input_calls']:,} calls, "
            + ("unknown cost" if cost is None else f"~${cost:,.4f}"),
            f"  note          {plan['note']}",
            "No model call was made.",
        ]
    )
