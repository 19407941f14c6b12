"""`rlm-sub solve`: a recursive language model loop over the Messages API.

The model sees an overview of the inputs, never the inputs themselves, and works through the
tools of tools.py plus two that delegate: `query` (one sub-call) and `map` (one sub-call per
chunk, all at once, from one tool call). With agentic sub-agents those sub-calls are
themselves solve loops one level deeper, until the depth limit makes them plain calls.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.backends.protocol import CallError, Request
from rlm_cli.calls.context import Context
from rlm_cli.calls.depth import Tree
from rlm_cli.calls.engine import NO_TOOLS_FIX, tools_problem
from rlm_cli.calls.records import Spend
from rlm_cli.calls.runner import Job, Outcome, Runner, cached, job_key
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.chunking import MIN_CHUNK_TOKENS, estimate_tokens, render_files
from rlm_cli.inputs.sources import Report, SourceFile
from rlm_cli.inputs.staging import stage_sources
from rlm_cli.progress import skipped_line
from rlm_cli.steps.jobs import map_jobs
from rlm_cli.steps.reduce import said_nothing
from rlm_cli.steps.tools import Index, Toolbox, ToolError, check_arguments, clip, definitions
from rlm_cli.workspace import Workspace, sha256

LOCAL_TOOLS = ["list_files", "peek", "grep", "save", "read"]
ALL_TOOLS = [*LOCAL_TOOLS, "query", "map", "final"]
QUERY_BUDGET_CHUNKS = 4  # a query may hold this many chunk budgets of text; beyond, use map


NO_TOOL_TURNS = 2  # the first turns answered without a tool call before solve gives up
NO_TOOL_WHAT = (
    f"the model answered its first {NO_TOOL_TURNS} turns in plain text without calling "
    "a tool: it (or its engine) may offer no tool use, as small local models often do"
)


def toolbox_used(messages: list[dict[str, Any]]) -> bool:
    """Whether any assistant turn so far called a tool."""
    return any(
        m["role"] == "assistant"
        and any(b.get("type") == "tool_use" for b in m["content"] if isinstance(b, dict))
        for m in messages
    )


@dataclass
class Solver:
    """One solve loop: its workspace, its place in the tree, and how it may delegate."""

    ctx: Context
    ws: Workspace
    tree: Tree
    agentic: bool
    max_turns: int
    chunk_tokens: int

    def __post_init__(self) -> None:
        self.runner: Runner = self.ctx.runner(self.ws, self.tree)
        self.turn_call = self.tree.parent  # the call that asked for the tool now running

    @property
    def label(self) -> str:
        return f"solve@{self.tree.depth}"

    async def solve(self, task: str, index: Index) -> str:
        """Run the loop until the model calls final; returns the answer."""
        toolbox = Toolbox(index, self.ws.root / "vars")
        system = prompts.SOLVE_SYSTEM.format(task=task)
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": prompts.SOLVE_USER.format(overview=index.overview())}
        ]
        s = self.ctx.settings
        for turn in range(1, self.max_turns + 1):
            last = turn == self.max_turns
            request = Request(
                system,
                "",
                s.model,
                s.max_tokens,
                messages=messages,
                tools=definitions(["final"] if last else ALL_TOOLS),
                tool_choice={"type": "tool", "name": "final"} if last else None,
            )
            spend = Spend()
            try:
                response = await self.runner.call(request, f"{self.label}-t{turn}", "solve", spend)
            except CallError as e:
                raise CallError("failed", f"solve loop turn {turn} failed: {e}") from None
            self.turn_call = self.runner.parent = spend.calls[-1]
            messages.append({"role": "assistant", "content": response.content})
            uses = [b for b in response.content if b.get("type") == "tool_use"]
            if not uses and turn >= NO_TOOL_TURNS and not toolbox_used(messages):
                raise CallError("failed", NO_TOOLS_FIX.format(what=NO_TOOL_WHAT))
            if not uses:
                messages.append({"role": "user", "content": prompts.SOLVE_NUDGE})
                continue
            results = []
            for use in uses:
                if use["name"] == "final" and _fits("final", use["input"]):
                    return self._final(toolbox, use["input"])
                text, is_error = await self._run_tool(toolbox, index, use["name"], use["input"])
                self.runner.ledger.note(
                    kind="tool",
                    call=self.turn_call,
                    depth=self.tree.depth,
                    tool=use["name"],
                    input=json.dumps(use["input"], ensure_ascii=False)[:300],
                    result_chars=len(text),
                    is_error=is_error,
                )
                results.append(
                    {"type": "tool_result", "tool_use_id": use["id"], "content": text}
                    | ({"is_error": True} if is_error else {})
                )
            messages.append({"role": "user", "content": results})
        raise CallError("failed", f"no final answer within {self.max_turns} turns")

    def _final(self, toolbox: Toolbox, args: dict[str, Any]) -> str:
        if args.get("name"):
            try:
                return toolbox.load(str(args["name"]))
            except ToolError as e:
                raise CallError("failed", f"final named no saved result: {e}") from None
        return str(args.get("text") or "")

    async def _run_tool(
        self, toolbox: Toolbox, index: Index, name: str, args: dict[str, Any]
    ) -> tuple[str, bool]:
        """Run one tool; a mistake of the model's comes back as an error result, not a crash."""
        try:
            check_arguments(name, args)
            if name == "grep":  # off the event loop: other agents' calls go on while it runs
                return await asyncio.to_thread(toolbox.grep, **args), False
            if name in LOCAL_TOOLS:
                return getattr(toolbox, name)(**args), False
            if name == "query":
                return await self._query(toolbox, index, **args), False
            if name == "map":
                return await self._map(toolbox, index, **args), False
            raise ToolError(f"no tool named {name!r}")
        except ToolError as e:
            return str(e), True

    def _child(self, name: str) -> Solver:
        """A solve loop one level deeper, for an agentic sub-agent."""
        tree = Tree(
            depth=self.tree.depth + 1,
            max_depth=self.tree.max_depth,
            parent=self.turn_call,
            trace=self.tree.trace,
            run=self.tree.run,
        )
        ws = Workspace(self.ws.root / "agents" / name)
        finer = max(MIN_CHUNK_TOKENS, self.chunk_tokens // 4)  # a sub-agent splits its part finer
        return Solver(self.ctx, ws, tree, self.agentic, self.max_turns, finer)

    @property
    def _delegates(self) -> bool:
        return self.agentic and self.tree.children_may_delegate

    async def _query(
        self,
        toolbox: Toolbox,
        index: Index,
        task: str,
        paths: list[str] | None = None,
        vars: list[str] | None = None,
    ) -> str:
        """One sub-agent over chosen files and saved results."""
        if not paths and not vars:
            raise ToolError("query needs paths, vars or both")
        sources = index.select(paths) if paths else []
        sources += [SourceFile(f"vars/{v}.md", toolbox.load(v), 0) for v in vars or []]
        text = render_files(sources)
        limit = QUERY_BUDGET_CHUNKS * self.chunk_tokens
        if estimate_tokens(text) > limit:
            raise ToolError(
                f"that is ~{estimate_tokens(text):,} tokens, over the {limit:,} a query may hold: "
                "use map over these paths, then query the saved answers"
            )
        key = sha256(task, text)[:16]
        if self._delegates:
            child = self._child(f"q-{key}")
            sub_index = Index({s.path: s for s in sources})
            job = self._job(f"q-{key}", "query", task, text, child, sub_index)
        else:
            job = self._job(f"q-{key}", "query", task, text)
        [outcome] = await self._run([job])
        return clip(outcome.text or "", "save it and read it in ranges")

    async def _map(
        self,
        toolbox: Toolbox,
        index: Index,
        task: str,
        paths: list[str],
        save_as: str,
        per_file: bool = False,
    ) -> str:
        """One sub-agent per chunk of the chosen files, all at once; answers saved by name."""
        toolbox.var_path(save_as)  # a bad name fails before any call
        sources = index.select(paths)
        sub = Workspace(self.ws.root / "maps" / save_as)
        settings = {"chunk_tokens": self.chunk_tokens, "per_file": per_file}
        manifest = stage_sources(sub, sources, paths, settings, Report())
        jobs = map_jobs(sub, manifest, task, self.ctx.settings, self._delegates)
        if self._delegates:
            self.attach_agents(jobs, sub, task, save_as)
        outcomes = {o.job.id: o for o in await self._run([j for j in jobs if not cached(j)])}
        answers, failed = [], []
        for job in jobs:
            outcome = outcomes.get(job.id) or cached(job)
            if outcome is None or outcome.status not in ("ok", "cached"):
                failed.append(job.id)
                continue
            answers.append((job, outcome.text or ""))
        kept, irrelevant = relevant_answers(answers)
        body = "\n\n".join(
            f"## {job.id} ({job.meta['sources']})\n{text.strip()}" for job, text in kept
        )
        if failed:
            body += f"\n\n(no answer from {len(failed)} chunk(s): {', '.join(failed)})"
        toolbox.save(save_as, body)
        return (
            f"{len(jobs)} chunks of {len(sources)} files: {len(answers)} answered "
            f"({len(outcomes)} called), {irrelevant} said nothing relevant, {len(failed)} failed. "
            f"The answers are saved as {save_as!r} ({len(body):,} characters): read it, or "
            f"combine it with query(vars=[{save_as!r}])."
        )

    def attach_agents(self, jobs: list[Job], ws: Workspace, task: str, prefix: str) -> None:
        """Make each map job an agentic sub-agent: a solve loop one level deeper on its chunk."""
        for job in jobs:
            child = self._child(f"{prefix}-{job.id}")
            chunk = SourceFile(f"{job.id}.txt", ws.read_chunk(job.id), 0)
            job.solve = self._solver(child, task, Index({chunk.path: chunk}, staged=True))

    def _job(
        self,
        jid: str,
        kind: str,
        task: str,
        text: str,
        child: Solver | None = None,
        index: Index | None = None,
    ) -> Job:
        system = prompts.QUERY_SYSTEM.format(task=task)
        s = self.ctx.settings
        return Job(
            id=jid,
            kind=kind,
            system=system,
            material=lambda: text,
            render=lambda t: prompts.QUERY_USER.format(text=t),
            slot=self.ws.root / "queries" / jid,
            key=job_key(s, kind + ("-agentic" if child else ""), system, sha256(text)),
            meta={"sources": kind},
            solve=self._solver(child, task, index) if child and index else None,
        )

    def _solver(self, child: Solver, task: str, index: Index):
        async def run() -> str:
            return await child.solve(task, index)

        return run

    async def _run(self, jobs: list[Job]) -> list[Outcome]:
        outcomes = await self.runner.run(jobs)
        if self.runner.stopped:
            raise RlmError(f"budget reached: {self.runner.stopped}", EXIT_BUDGET)
        return outcomes


def _fits(name: str, args: Any) -> bool:
    try:
        check_arguments(name, args)
    except ToolError:
        return False
    return True


def relevant_answers(answers: list[tuple[Job, str]]) -> tuple[list[tuple[Job, str]], int]:
    """Drop answers that say NOTHING RELEVANT (code decides, as in reduce)."""
    kept = [(j, t) for j, t in answers if not said_nothing(t)]
    return kept, len(answers) - len(kept)


async def solve_command(
    task: str,
    paths: list[str],
    ws: Workspace,
    ctx: Context,
    agentic: bool,
    max_turns: int,
    chunk_tokens: int,
) -> str:
    """Build the index of the inputs and run the root loop at this process's depth."""
    problem = tools_problem(ctx.settings.model)
    if problem:
        raise RlmError(problem)
    index = Index.build(paths, exclude=ws.root)
    if index.skipped:
        ctx.reporter.warn(skipped_line(index.skipped))
    ctx.check_credentials()
    solver = Solver(ctx, ws, ctx.tree, agentic, max_turns, chunk_tokens)
    try:
        return await solver.solve(task, index)
    except CallError as e:
        raise RlmError(
            f"solve failed: {e}; the calls so far are in {ws.trace_path}", EXIT_PARTIAL
        ) from None
