"""Commands that read files themselves, not a staged workspace: query (one call), solve (a loop)."""

from __future__ import annotations

from pathlib import Path

import click

from rlm_cli.calls.backends.catalog import AUTO, BACKENDS
from rlm_cli.cli.failures import cli_errors
from rlm_cli.cli.groups import Agents, Calls
from rlm_cli.cli.invoke import (
    default_workspace,
    emit_json,
    open_context,
    read_prompt,
    run_async,
    write_answer,
)
from rlm_cli.cli.options import (
    agent_options,
    json_option,
    model_options,
    output_option,
    workspace_option,
)
from rlm_cli.errors import RlmError


@click.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1)
@output_option
@click.option(
    "--max-input",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    envvar="RLM_MAX_INPUT",
    help="Refuse inputs estimated above this many tokens.",
)
@model_options
@json_option
@cli_errors
def query(
    prompt: str,
    paths: tuple[str, ...],
    output: Path | None,
    max_input: int,
    calls: Calls,
    as_json: bool,
) -> None:
    """One sub-call: PROMPT over whole FILES (or stdin), answer on stdout.

    For inputs that fit one call. Larger inputs are refused with a pointer to `run`.
    With no PATHS, reads stdin.

    \b
    Examples:
      rlm-sub query "Summarise the public API, cite PATH:LINE" src/api.py src/models.py
      grep -rn "retry" src/ | rlm-sub query "Group these by module" -
      rlm-sub query "Merge these findings into one list" notes/*.md > notes/merged.md
      rlm-sub query "Is this file safe to delete?" old.py --json | jq .cost_usd
    """
    from rlm_cli.steps.query import query_step

    task = read_prompt(prompt)
    ctx = open_context(calls)
    text, spent = run_async(ctx, lambda ctx: query_step(task, list(paths) or ["-"], ctx, max_input))
    write_answer(output, text=text)
    if as_json:
        emit_json({"answer": text, "output": str(output) if output else None, **spent}, 0)
    click.echo(text.rstrip("\n"))


@click.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1, required=True)
@workspace_option(required=False)
@output_option
@click.option(
    "--chunk-tokens",
    type=click.IntRange(min=200),
    default=20_000,
    show_default=True,
    envvar="RLM_CHUNK_TOKENS",
    help="Token budget of one chunk when the model maps over files.",
)
@model_options
@agent_options
@click.option("--dry-run", is_flag=True, help="Print what the loop starts from; no model call.")
@json_option
@cli_errors
def solve(
    prompt: str,
    paths: tuple[str, ...],
    workspace: Path | None,
    output: Path | None,
    chunk_tokens: int,
    calls: Calls,
    agents: Agents,
    dry_run: bool,
    as_json: bool,
) -> None:
    """An RLM loop: a model explores PATHS with tools and delegates, then answers.

    The model never sees the whole input: it starts from the file list and sizes, and
    works with tools that run inside rlm-sub, confined to PATHS and the workspace: list,
    peek at lines, grep, query (one sub-call on chosen files), map (one sub-call per chunk,
    hundreds at once from one tool call), save and read named results, and final. With
    --agentic, the sub-agents of query and map are solve loops themselves, one level
    deeper, until the depth limit. Needs the Messages API (ANTHROPIC_API_KEY).

    \b
    Examples:
      rlm-sub solve "Which endpoints skip the auth check? Cite PATH:LINE." src/
      rlm-sub solve "Why do retries double-charge?" src/ logs/ --agentic -o why.md
    """
    from rlm_cli.steps.solve import solve_command
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    ctx = open_context(calls, agents, calling=False)
    if not ctx.backend.supports_tools:
        raise RlmError(
            f"solve drives a tool-using loop, which the {ctx.backend.name} backend cannot: "
            "use the Messages API (--backend anthropic), or `rlm-sub run` with this backend"
        )
    if not dry_run:
        from rlm_cli.calls.context import check_ready

        check_ready(calls.backend)
    if dry_run:
        import json

        from rlm_cli.steps.plan import plan_solve, render_solve
        from rlm_cli.steps.tools import Index

        index = Index.build(list(paths))
        found = plan_solve(index, task, calls.settings, chunk_tokens, agents.max_turns)
        click.echo(json.dumps(found, indent=2) if as_json else render_solve(found))
        return
    workspace = workspace or default_workspace("solve " + task, paths)
    ws = Workspace(workspace)
    text = run_async(
        ctx,
        lambda ctx: solve_command(
            task, list(paths), ws, ctx, agents.agentic, agents.max_turns, chunk_tokens
        ),
    )
    write_answer(ws.final_path, output, text=text)
    if not calls.quiet:
        from rlm_cli.observe.trace import load, total
        from rlm_cli.progress import plural

        spent = total(c for r in load(ws, "latest") for c in r.calls)
        click.echo(
            f"solve: {plural(spent.calls, 'call')} ({spent.failed} failed), {spent.tokens:,} "
            f"tokens, ${spent.cost:.4f}; calls in {ws.trace_path}",
            err=True,
        )
    if as_json:
        emit_json({"workspace": str(workspace), "final": str(ws.final_path), "answer": text}, 0)
    click.echo(text.rstrip("\n"))


# solve needs tool use: offer only the backends that support it.
for _param in solve.params:
    if _param.name == "backend":
        _param.type = click.Choice([AUTO, *(n for n, b in BACKENDS.items() if b.supports_tools)])
