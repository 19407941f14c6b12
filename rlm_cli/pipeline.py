"""The steps behind the commands: map a workspace, reduce it, answer a one-off query."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rlm_cli import prompts
from rlm_cli.backends import Backend, Request, Response, check_credentials, make_backend
from rlm_cli.chunking import estimate_tokens, render_files
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.ledger import Budget, Ledger
from rlm_cli.mapper import MapSummary, last_map, map_jobs, record_map, shard_jobs
from rlm_cli.progress import Reporter, usage_line
from rlm_cli.reduce import Item, ReduceSummary, missing_footer, synthesize
from rlm_cli.runner import Job, Runner, Settings, cached, tally
from rlm_cli.sources import Filters, Report, iter_sources
from rlm_cli.tree import Tree
from rlm_cli.workspace import Workspace, atomic_write, read_json, sha256


class LazyBackend:
    """Creates the real backend (and imports its SDK) only when a call is actually made."""

    def __init__(self, name: str = "anthropic", tree: Tree | None = None) -> None:
        self.name = name
        self.tree = tree or Tree()
        self._backend: Backend | None = None

    def ready(self) -> Backend:
        """The real backend, created (and its SDK imported) now if not yet."""
        if self._backend is None:
            self._backend = make_backend(self.name, self.tree)
        return self._backend

    async def call(self, request: Request, timeout: float) -> Response:
        return await self.ready().call(request, timeout)

    async def count_tokens(self, request: Request) -> int:
        counter = getattr(self.ready(), "count_tokens", None)
        if counter is None:
            raise RlmError(f"--exact needs the Messages API; the {self.name} backend cannot count")
        return await counter(request)

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()


@dataclass
class Context:
    """What every step of one command shares: backend, settings, reporter, tree and ledger."""

    backend: Backend
    settings: Settings
    reporter: Reporter
    tree: Tree = field(default_factory=Tree)
    budget: Budget = field(default_factory=Budget)
    ledger: Ledger | None = None
    slots: asyncio.Semaphore | None = None  # calls in flight, across every runner of the process
    agentic: bool = False  # map's sub-agents are solve loops one level deeper (rlm_cli/solve.py)
    max_turns: int = 12
    shard: tuple[int, int] | None = None  # map only shard I of N of the chunks

    def runner(self, ws: Workspace | None, tree: Tree | None = None) -> Runner:
        """A runner booking its calls in the tree's ledger (the root's, or this workspace's).

        tree places the runner's calls deeper than this process, for in-process sub-agents.
        """
        if self.ledger is None:
            self.tree.check_can_call()
            path = self.tree.trace or (ws.trace_path if ws else None)
            self.ledger = Ledger(path, self.budget, self.tree.run)
            self.slots = asyncio.Semaphore(self.settings.concurrency)
        on_done = self.reporter.advance if tree is None else None
        return Runner(
            self.backend, self.settings, self.ledger, on_done, tree or self.tree, self.slots
        )

    def check_credentials(self) -> None:
        """Fail before any call when the backend cannot authenticate; else load it now.

        Loading here, before the first call is booked, keeps the SDK's import time out of
        the first calls' durations in the trace.
        """
        if getattr(self.backend, "name", "anthropic") == "anthropic":
            check_credentials()
        ready = getattr(self.backend, "ready", None)
        if ready is not None:
            ready()


async def map_step(ws: Workspace, task: str, ctx: Context, batch: str | None = None) -> MapSummary:
    """Call the model for every chunk without a cached answer; report on stderr.

    batch "submit" sends them through the Message Batches API, "resume" only fetches the
    batches saved by an earlier submission (rlm_cli/batch.py).
    """
    reporter, settings = ctx.reporter, ctx.settings
    manifest = ws.load_manifest()
    agentic = ctx.agentic and ctx.tree.children_may_delegate
    jobs = shard_jobs(map_jobs(ws, manifest, task, settings, agentic), ctx.shard)
    if agentic:
        from rlm_cli.solve import Solver

        root = Solver(ctx, ws, ctx.tree, True, ctx.max_turns, manifest["settings"]["chunk_tokens"])
        root.attach_agents(jobs, ws, task, "map")
    record_map(ws, task, settings, agentic)
    todo = [j for j in jobs if not cached(j)]
    summary = MapSummary(total=len(jobs), cached=len(jobs) - len(todo))
    summary.shard = f"{ctx.shard[0]}/{ctx.shard[1]}" if ctx.shard else None
    outcomes = []
    if batch:
        from rlm_cli.batch import batch_map

        outcomes, stopped = await batch_map(ws, task, jobs, todo, ctx, batch == "resume")
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
            outcomes = await runner.run(todo)
        summary.called = sum(o.status != "budget" for o in outcomes)
        summary.failed = [o for o in outcomes if o.status == "failed"]
        summary.budget_stop = runner.stopped
        summary.usage, summary.cost = tally(outcomes)
    answered = summary.cached + sum(o.status == "ok" for o in outcomes)
    summary.answered = answered
    reporter.info(
        f"map{f' (shard {summary.shard})' if summary.shard else ''}: {answered}/{summary.total} chunks answered ({summary.called} called, "
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


def collect_answers(
    ws: Workspace, manifest: dict[str, Any]
) -> tuple[list[Item], list[dict[str, Any]]]:
    """Map answers that belong to the current chunks and last map task, and the parts without one."""
    last = last_map(ws)
    if last is None:
        raise RlmError(f"no map results in {ws.root}: run `rlm-sub map PROMPT -w {ws.root}` first")
    settings = Settings(model=last["model"], max_tokens=last["max_tokens"])
    items, missing = [], []
    for job in map_jobs(ws, manifest, last["task"], settings, last.get("agentic", False)):
        outcome = cached(job)
        if outcome:
            items.append(Item(f"{job.id} ({job.meta['sources']})", outcome.text or ""))
            continue
        record = read_json(job.slot.with_suffix(".json")) if job.slot else None
        why = "not answered yet"
        if record and record.get("key") == job.key and record.get("status") in ("failed", "budget"):
            why = f"{record['status']}: {record.get('error')}"
        missing.append({"id": job.id, "sources": job.meta["sources"], "why": why})
    return items, missing


async def reduce_step(
    ws: Workspace, task: str, ctx: Context, reduce_tokens: int | None, partial: bool
) -> ReduceSummary:
    """Synthesize the map answers into final.md; the summary holds the answer and exit code."""
    reporter = ctx.reporter
    manifest = ws.load_manifest()
    items, missing = collect_answers(ws, manifest)
    if missing and not partial:
        first = missing[0]
        raise RlmError(
            f"{len(missing)} of {len(manifest['chunks'])} chunks have no answer "
            f"(first: {first['id']} {first['sources']}: {first['why']}). Re-run `rlm-sub map` to "
            "retry them (finished answers are reused), or pass --partial to synthesize without them",
            EXIT_PARTIAL,
        )
    if not items:
        raise RlmError("no chunk has an answer to synthesize: every map call failed", EXIT_PARTIAL)
    group_tokens = reduce_tokens or manifest["settings"]["chunk_tokens"]
    runner = ctx.runner(ws)

    def on_level(level: int, calls: int) -> None:
        if calls:
            ctx.check_credentials()

    text, summary = await synthesize(
        runner, ws, task, items, group_tokens, len(manifest["chunks"]), on_level
    )
    if missing:
        text = text.rstrip() + missing_footer(missing)
    atomic_write(ws.final_path, text if text.endswith("\n") else text + "\n")
    calls = sum(level["calls"] for level in summary.levels)
    reporter.info(
        f"reduce: {len(items)} answers -> 1 in {len(summary.levels)} level(s), {calls} call(s)"
        f"{f', {summary.dropped_irrelevant} with nothing relevant dropped' if summary.dropped_irrelevant else ''}; "
        f"{usage_line(summary.usage, summary.cost)}; answer in {ws.final_path}"
    )
    summary.text, summary.answers, summary.missing = text, len(items), missing
    if missing:
        reporter.warn(f"{len(missing)} part(s) not covered (listed at the end of {ws.final_path})")
        summary.exit_code = EXIT_PARTIAL
    return summary


async def query_step(task: str, paths: list[str], ctx: Context, max_input: int) -> str:
    """One sub-call over whole files or stdin; refuses inputs over the budget."""
    reporter = ctx.reporter
    report = Report()
    sources = list(iter_sources(paths, Filters(), report))
    for s in report.skipped:
        reporter.warn(f"skipped {s['path']}: {s['reason']}")
    if not sources:
        raise RlmError(f"no input text in {', '.join(paths)}")
    text = render_files(sources)
    tokens = estimate_tokens(text)
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
    return outcome.text or ""
