"""The map step: one sub-call per chunk without a cached answer, live or through batches."""

from __future__ import annotations

from rlm_cli.calls.context import Context
from rlm_cli.calls.runner import cached, tally
from rlm_cli.progress import plural, usage_line
from rlm_cli.steps.cut import retry_cut, was_cut
from rlm_cli.steps.jobs import MapSummary, map_jobs, record_map, shard_jobs
from rlm_cli.workspace import Workspace


async def map_step(ws: Workspace, task: str, ctx: Context, batch: str | None = None) -> MapSummary:
    """Call the model for every chunk without a cached answer; report on stderr.

    batch "submit" sends them through the Message Batches API, "resume" only fetches the
    batches saved by an earlier submission (steps/batch.py).
    """
    reporter, settings = ctx.reporter, ctx.settings
    manifest = ws.load_manifest()
    agentic = ctx.agentic and ctx.tree.children_may_delegate
    jobs = shard_jobs(map_jobs(ws, manifest, task, settings, agentic), ctx.shard)
    if agentic:
        from rlm_cli.steps.solve import Solver

        root = Solver(ctx, ws, ctx.tree, True, ctx.max_turns, manifest["settings"]["chunk_tokens"])
        root.attach_agents(jobs, ws, task, "map")
    record_map(ws, task, settings, agentic)
    todo = [j for j in jobs if not (done := cached(j)) or was_cut(done)]
    summary = MapSummary(total=len(jobs), cached=len(jobs) - len(todo))
    summary.shard = f"{ctx.shard[0]}/{ctx.shard[1]}" if ctx.shard else None
    outcomes = []
    if batch:
        from rlm_cli.steps.batch import batch_map

        outcomes, stopped = await batch_map(ws, task, jobs, todo, ctx, batch == "resume")
        if any(was_cut(o) for o in outcomes):
            ctx.check_credentials()
            outcomes = await retry_cut(ws, ctx, outcomes)  # live: one call each, with room
        summary.called = len(outcomes)
        summary.failed = [o for o in outcomes if o.status == "failed"]
        summary.budget_stop = stopped
        summary.usage, summary.cost = tally(outcomes)
    elif todo:
        runner = ctx.runner(ws)
        ctx.check_credentials()
        with reporter.task(
            f"map ({summary.cached} cached)" if summary.cached else "map", len(todo)
        ):
            outcomes = await runner.run(todo, light=True)  # answers stay on disk only
        outcomes = await retry_cut(ws, ctx, outcomes)  # its own progress: N of the cut ones
        summary.called = sum(o.status != "budget" for o in outcomes)
        summary.failed = [o for o in outcomes if o.status == "failed"]
        summary.budget_stop = runner.stopped
        summary.usage, summary.cost = tally(outcomes)
    answered = summary.cached + sum(o.status == "ok" for o in outcomes)
    summary.answered = answered
    reporter.info(
        f"map{f' (shard {summary.shard})' if summary.shard else ''}: {answered}/{plural(summary.total, 'chunk')} answered ({summary.called} called, "
        f"{summary.cached} cached{f', {len(summary.failed)} FAILED' if summary.failed else ''}); "
        f"{usage_line(summary.usage, summary.cost)}; results in {ws.results_dir}"
    )
    for o in summary.failed[:10]:
        reporter.warn(f"{o.job.id} ({o.job.meta['sources']}) failed: {o.record.get('error')}")
    if len(summary.failed) > 10:
        reporter.warn(
            f"... and {len(summary.failed) - 10} more failures: see {ws.results_dir}/*.json"
        )
    if summary.budget_stop:
        reporter.warn(
            f"budget reached, {summary.total - answered} chunk(s) not answered: "
            f"{summary.budget_stop}. Raise the limit and re-run; finished answers are reused"
        )
    return summary
