"""How a command runs: its prompt, workspace and context, its answer files, JSON and errors."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rlm_cli.cli.groups import Agents, Calls, Staging
from rlm_cli.errors import EXIT_INTERRUPTED, RlmError

if TYPE_CHECKING:
    from rlm_cli.calls.context import Context
    from rlm_cli.workspace import Workspace


def read_prompt(prompt: str) -> str:
    """The task text; '@FILE' reads it from a file, so long prompts never need to fit in argv."""
    if prompt.startswith("@") and len(prompt) > 1:
        try:
            prompt = Path(prompt[1:]).read_text(encoding="utf-8")
        except OSError as e:
            raise RlmError(f"cannot read prompt file {prompt[1:]}: {e.strerror}") from e
    if not prompt.strip():
        raise RlmError("the prompt is empty: say what the sub-agents should do")
    return prompt.strip()


def default_workspace(task: str, paths: tuple[str, ...]) -> Path:
    """.rlm/<task-name>-<hash of task and inputs>: the same command resumes in the same place."""
    from rlm_cli.workspace import slugify

    digest = hashlib.sha256("\0".join([task, *map(os.path.abspath, paths)]).encode()).hexdigest()
    return Path(".rlm") / f"{slugify(task)}-{digest[:8]}"


def write_answer(*paths: Path | None, text: str) -> None:
    """Write the answer, atomically and newline-terminated, to each path given."""
    from rlm_cli.workspace import atomic_write

    for path in paths:
        if path is not None:
            atomic_write(path, text if text.endswith("\n") else text + "\n")


def show_plan(ctx: Context, ws: Workspace, task: str, as_json: bool, **how: Any) -> None:
    """Print what a map (and its reduce) would spend, as text or JSON, and exit 0."""
    import json

    from rlm_cli.steps.plan import plan_map, render

    plan = run_async(ctx, lambda ctx: plan_map(ws, task, ctx, **how))
    click.echo(json.dumps(plan, indent=2) if as_json else render(plan))
    sys.exit(0)


def emit_json(obj: dict[str, Any], code: int) -> None:
    """Print a command's result as one JSON object with its exit code and what it means."""
    import json

    from rlm_cli.errors import EXIT_MEANINGS

    click.echo(
        json.dumps({**obj, "exit_code": code, "exit_meaning": EXIT_MEANINGS[code]}, indent=2)
    )
    sys.exit(code)


def open_context(
    calls: Calls,
    agents: Agents | None = None,
    shard: tuple[int, int] | None = None,
    calling: bool = True,
) -> Context:
    """The context a command's steps share: lazy backend, settings, budgets, depth, reporter.

    When the command is `calling` the model, a backend that cannot run fails here, before
    the command writes anything.
    """
    from rlm_cli.calls.context import Context, LazyBackend, check_ready
    from rlm_cli.calls.depth import Tree
    from rlm_cli.progress import Reporter

    agents = agents or Agents()
    tree = Tree.from_env(calls.max_depth)
    reporter = Reporter(calls.quiet)
    for notice in tree.inherit(calls.budget):  # a child's limits never exceed the root's
        reporter.warn(notice)
    if calling:
        check_ready(calls.backend)
    return Context(
        backend=LazyBackend(calls.backend, tree),
        settings=calls.settings,
        reporter=reporter,
        tree=tree,
        budget=calls.budget,
        agentic=agents.agentic,
        max_turns=agents.max_turns,
        shard=shard,
    )


def run_async(ctx: Context, make: Callable[[Context], Coroutine[Any, Any, Any]]) -> Any:
    """Run one coroutine with the command's context, then close its backend; Ctrl-C keeps work."""
    import asyncio  # here, not at the top: it is ~60% of start-up for commands that make no call

    async def main() -> Any:
        try:
            return await make(ctx)
        finally:
            await ctx.backend.aclose()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        click.echo("interrupted: finished results are kept; re-run to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)


def stage_inputs(
    workspace: Path, paths: tuple[str, ...], staging: Staging, reporter
) -> dict[str, Any]:
    """Stage inputs into the workspace, print the summary, and return its figures."""
    from rlm_cli.inputs.staging import stage
    from rlm_cli.progress import human, plural
    from rlm_cli.workspace import Workspace, ignore_in_git, remove_empty

    new = not workspace.exists()
    try:
        manifest, s = stage(
            Workspace(workspace),
            list(paths),
            staging.filters,
            staging.chunk_tokens,
            staging.per_file,
        )
    except BaseException:
        if new:
            remove_empty(workspace)  # a failed first staging leaves no empty folders behind
        raise
    ignore_in_git(workspace)
    skipped = f", skipped {s.skipped} (see manifest.json)" if s.skipped else ""
    excluded = f", excluded {s.excluded}" if s.excluded else ""
    processes = f" ({s.processes} processes)" if s.processes > 1 else ""
    reporter.info(
        f"chunk: {plural(s.files, 'file')} ({human(s.bytes)}B, ~{human(s.tokens)} tokens) -> "
        f"{plural(s.chunks, 'chunk')} of <= {staging.chunk_tokens:,} tokens{skipped}{excluded}; "
        f"{s.seconds:.1f}s{processes}; in {workspace}"
    )
    for f in manifest["files"]:
        if f.get("note"):
            reporter.warn(f"{f['path']}: {f['note']}")
    figures = {k: v for k, v in vars(s).items() if k not in ("seconds", "processes")}
    return {"workspace": str(workspace), **figures}
