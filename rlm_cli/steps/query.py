"""The query step: one sub-call over whole files or stdin."""

from __future__ import annotations

import math
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.backends.protocol import Request
from rlm_cli.calls.context import Context
from rlm_cli.calls.engine import is_overflow
from rlm_cli.calls.pricing import round_cost
from rlm_cli.calls.runner import Job, tally
from rlm_cli.calls.windows import reported_window
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.chunking import BYTES_PER_TOKEN, estimate_tokens, render_files
from rlm_cli.inputs.sources import Filters, Report, iter_sources, release
from rlm_cli.progress import skipped_line, usage_line
from rlm_cli.workspace import sha256


async def query_step(
    task: str, paths: list[str], ctx: Context, max_input: int
) -> tuple[str, dict[str, Any]]:
    """One sub-call over whole files or stdin: the answer, and its usage and cost.

    Refuses inputs over the budget; the usage goes to stderr as well.
    """
    reporter = ctx.reporter
    report = Report()
    sources = list(iter_sources(paths, Filters(), report))
    if report.skipped:
        reporter.warn(skipped_line(report.skipped))
    if not sources:
        raise RlmError(f"no input text in {', '.join(paths)}")
    try:  # sizes first: a huge named file is refused before it is read into memory
        tokens = sum(math.ceil(s.size / BYTES_PER_TOKEN) for s in sources)
        text = render_files(sources) if tokens <= max_input else ""
    finally:
        for s in sources:
            release(s)
    tokens = max(tokens, estimate_tokens(text))
    if tokens > max_input:
        raise RlmError(
            f"input is ~{tokens:,} tokens, over the query budget of {max_input:,}: use "
            f"`rlm-sub run PROMPT PATH...` to chunk it and fan out, or raise --max-input"
        )
    runner = ctx.runner(None)
    ctx.check_credentials()
    system = prompts.QUERY_SYSTEM.format(task=task)
    await _check_window(ctx, system, prompts.QUERY_USER.format(text=text), tokens)
    job = Job(
        id="query",
        kind="query",
        system=system,
        material=lambda: text,
        render=lambda t: prompts.QUERY_USER.format(text=t),
        slot=None,
        key=sha256(system, text),
        split=False,  # two halves' answers side by side are not one answer: see _too_long
    )
    [outcome] = await runner.run([job])
    if outcome.status == "budget":
        raise RlmError(f"budget reached: {runner.stopped}", EXIT_BUDGET)
    if outcome.status == "failed" and is_overflow(str(outcome.record.get("error"))):
        raise _too_long(f"the model rejected it as too long ({outcome.record.get('error')})")
    if outcome.status == "failed":
        raise RlmError(f"the model call failed: {outcome.record.get('error')}", EXIT_PARTIAL)
    usage, cost = tally([outcome])
    reporter.info(f"query: 1 call; {usage_line(usage, cost)}")
    return outcome.text or "", {"usage": usage, "cost_usd": round_cost(cost)}


def _too_long(why: str) -> RlmError:
    """query is one call: an input over the window is refused, never split and pasted together."""
    return RlmError(
        f"the input does not fit the model's context window: {why}. query makes one call "
        "and has nothing to merge two partial answers with; use `rlm-sub run PROMPT PATH...`, "
        "which chunks the input, answers each chunk and synthesizes one answer"
    )


async def _check_window(ctx: Context, system: str, user: str, estimate: int) -> None:
    """Refuse before calling when the engine states a window the request cannot fit.

    The estimate decides when it is far off; near the edge the engine's own count_tokens
    (llama-server, Anthropic) decides, since tokenizers differ by a wide margin.
    """
    if getattr(ctx.backend, "name", "anthropic") != "anthropic":
        return
    window = reported_window(ctx.settings.model)
    if window is None:
        return
    room = window - ctx.settings.max_tokens
    if estimate < room // 2:
        return
    request = Request(system, user, ctx.settings.model, ctx.settings.max_tokens)
    try:
        counted = await ctx.backend.count_tokens(request)  # type: ignore[attr-defined]
    except RlmError:
        counted = estimate  # no count_tokens here: the estimate is all there is
    if counted > room:
        raise _too_long(
            f"{counted:,} input tokens + {ctx.settings.max_tokens:,} for the answer "
            f"(--max-output) > the window of {window:,} the engine reports"
        )
