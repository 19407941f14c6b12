"""The query step: one sub-call over whole files or stdin."""

from __future__ import annotations

import math
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.context import Context
from rlm_cli.calls.runner import Job, tally
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.chunking import BYTES_PER_TOKEN, estimate_tokens, render_files
from rlm_cli.inputs.sources import Filters, Report, iter_sources, release
from rlm_cli.progress import usage_line
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
    for s in report.skipped:
        reporter.warn(f"skipped {s['path']}: {s['reason']}")
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
    job = Job(
        id="query",
        kind="query",
        system=system,
        material=lambda: text,
        render=lambda t: prompts.QUERY_USER.format(text=t),
        slot=None,
        key=sha256(system, text),
    )
    [outcome] = await runner.run([job])
    if outcome.status == "budget":
        raise RlmError(f"budget reached: {runner.stopped}", EXIT_BUDGET)
    if outcome.status == "failed":
        raise RlmError(f"the model call failed: {outcome.record.get('error')}", EXIT_PARTIAL)
    usage, cost = tally([outcome])
    reporter.info(f"query: 1 call; {usage_line(usage, cost)}")
    return outcome.text or "", {"usage": usage, "cost_usd": round(cost, 6)}
