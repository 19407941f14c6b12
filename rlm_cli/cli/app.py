"""Command-line interface: parse, call the step, print. Logic lives in the other modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rlm_cli import __version__
from rlm_cli.cli.invoke import (
    cli_errors,
    default_workspace,
    emit_json,
    read_prompt,
    run_async,
    show_plan,
    stage_inputs,
    write_answer,
)
from rlm_cli.cli.options import (
    ENV_HELP,
    agent_options,
    batch_options,
    chunk_options,
    json_option,
    make_settings,
    model_options,
    output_option,
    plan_options,
    reduce_options,
    shard_option,
    workspace_option,
)
from rlm_cli.cli.views import install_skill, report, status, trace_command
from rlm_cli.errors import EXIT_BUDGET, EXIT_CODES_HELP, EXIT_PARTIAL, RlmError


@click.group(
    epilog="\b\n" + EXIT_CODES_HELP + "\n\n\b\n" + ENV_HELP,
    context_settings={"max_content_width": 100},
)
@click.version_option(__version__, prog_name="rlm-sub")
def cli() -> None:
    """Recursive sub-agents for inputs bigger than any context window.

    rlm-sub stages a repository, diff or log into token-budgeted chunks on disk, runs one
    model sub-call per chunk (many at once), writes each answer to a file, and combines
    the answers in a tree of synthesis calls. Every step is resumable: a re-run reuses
    every answer whose inputs did not change.

    \b
    One command for the whole job:
      rlm-sub run "Where is the retry policy decided? Cite path:line." src/
    Step by step, with the intermediate files in a workspace:
      rlm-sub chunk src/ -w .rlm/auth
      rlm-sub map "List every place that checks a password" -w .rlm/auth
      rlm-sub reduce "Summarise how passwords are checked" -w .rlm/auth
    One sub-call over a few files (the llm_query of a shell script):
      rlm-sub query "What does this module export?" src/api.py
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@workspace_option(required=True)
@chunk_options
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
@cli_errors
def chunk(paths: tuple[str, ...], workspace: Path, quiet: bool, **kw: Any) -> None:
    """Stage PATHS (files, directories, or - for stdin) as chunks in a workspace.

    In a git checkout a directory holds what git lists (tracked files, and untracked ones
    .gitignore does not exclude); elsewhere .gitignore files (nested ones too) are honoured.
    Skips .git and binary files, records every skipped file with its reason in
    manifest.json, and packs text into chunks of at most
    --chunk-tokens: small files together, large files split at blank lines and top-level
    definitions. Each chunk names its sources as PATH [lines A-B] so answers can cite
    PATH:LINE. Makes no model call.

    \b
    Examples:
      rlm-sub chunk . -w .rlm/repo
      rlm-sub chunk src/ tests/ --include '*.py' -w .rlm/py
      git diff main... | rlm-sub chunk - -w .rlm/diff
    """
    from rlm_cli.progress import Reporter

    stage_inputs(workspace, paths, kw, Reporter(quiet))


@cli.command(name="map")
@click.argument("prompt", required=False)
@workspace_option(required=True)
@model_options
@agent_options
@shard_option
@plan_options
@json_option
@batch_options(resume=True)
@cli_errors
def map_command(
    prompt: str | None,
    workspace: Path,
    quiet: bool,
    as_json: bool,
    dry_run: bool,
    exact: bool,
    batch: bool,
    resume_batch: bool,
    **kw: Any,
) -> None:
    """Run PROMPT on every chunk of a workspace, one sub-call per chunk, many at once.

    Answers go to results/<id>.md, with model, tokens, attempts, status and error in
    results/<id>.json. Chunks that already have an answer for the same prompt, model and
    text are not called again. A failed chunk is recorded as failed (never as an answer)
    and the command exits 3; re-running retries only what is missing. PROMPT may be
    @FILE to read it from a file. --shard I/N maps every N-th chunk, so N CI jobs can
    share one workspace; `reduce` afterwards works on the union of their results. With
    --batch the calls go through the Message Batches API at half price; --resume-batch
    picks up batches a stopped run left behind.

    \b
    Examples:
      rlm-sub map "List TODO comments with PATH:LINE" -w .rlm/repo
      rlm-sub map @review-rubric.md -w .rlm/diff -j 16
      rlm-sub map @rubric.md -w .rlm/diff --shard 2/4 --json > shard-2.json
      rlm-sub map "Find SQL built from strings" -w .rlm/repo --dry-run
      rlm-sub map @review-rubric.md -w .rlm/huge --batch
      rlm-sub map --resume-batch -w .rlm/huge
    """
    from rlm_cli.steps.map import map_step
    from rlm_cli.workspace import Workspace

    ws = Workspace(workspace)
    task = read_prompt(prompt) if prompt is not None else None
    if resume_batch:
        from rlm_cli.steps.batch_store import saved_task

        task, kw["model"], kw["max_output"] = saved_task(ws, task)
    elif task is None:
        raise click.UsageError("Missing argument 'PROMPT'.")
    if (batch or resume_batch) and kw["agentic"]:
        raise click.UsageError("--agentic sub-agents are loops, not single requests: drop --batch")
    if dry_run:
        show_plan(ws, task, kw, quiet, as_json, exact=exact, with_reduce=False)
    mode = "resume" if resume_batch else "submit" if batch else None
    summary = run_async(kw, quiet, lambda ctx: map_step(ws, task, ctx, mode))
    code = EXIT_BUDGET if summary.budget_stop else EXIT_PARTIAL if summary.failed else 0
    if as_json:
        emit_json({"workspace": str(workspace), **summary.to_dict()}, code)
    sys.exit(code)


@cli.command()
@click.argument("prompt")
@workspace_option(required=True)
@model_options
@reduce_options
@json_option
@cli_errors
def reduce(
    prompt: str,
    workspace: Path,
    quiet: bool,
    reduce_tokens: int | None,
    partial: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Combine the map answers of a workspace into one answer, printed on stdout.

    Answers are grouped within the token budget and each group is synthesized; the
    syntheses are grouped again until one remains. The answer is also written to
    final.md. Answers that say NOTHING RELEVANT are dropped by code, not by the model.

    \b
    Example:
      rlm-sub reduce "Which modules talk to the database, and how?" -w .rlm/repo
    """
    from rlm_cli.steps.reduce import reduce_step
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    ws = Workspace(workspace)
    summary = run_async(kw, quiet, lambda ctx: reduce_step(ws, task, ctx, reduce_tokens, partial))
    if as_json:
        emit_json(
            {"workspace": str(workspace), "final": str(ws.final_path), "answer": summary.text,
             **summary.to_dict()},
            summary.exit_code,
        )  # fmt: skip
    click.echo(summary.text.rstrip("\n"))
    sys.exit(summary.exit_code)


@cli.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1, required=True)
@workspace_option(required=False)
@output_option
@chunk_options
@model_options
@agent_options
@reduce_options
@plan_options
@json_option
@batch_options(resume=False)
@cli_errors
def run(
    prompt: str,
    paths: tuple[str, ...],
    workspace: Path | None,
    output: Path | None,
    quiet: bool,
    reduce_tokens: int | None,
    partial: bool,
    as_json: bool,
    dry_run: bool,
    exact: bool,
    batch: bool,
    **kw: Any,
) -> None:
    """Chunk PATHS, map PROMPT over the chunks, reduce to one answer on stdout.

    Without -w the workspace is .rlm/<task-name>-<hash>, so running the same command
    again resumes: only chunks whose text changed are called again. With --json, stdout
    is one JSON object (answer, paths, counts, usage, cost, failures, exit code), also
    when some chunks failed or a budget stopped the run.

    \b
    Examples:
      rlm-sub run "Find every SQL query built by string concatenation; cite PATH:LINE" .
      rlm-sub run "Why does login fail with 'token expired'?" src/ logs/app.log -o answer.md
      git diff main... | rlm-sub run @review.md - --max-output 2000
      rlm-sub run @review.md src/ --max-cost 2 --json > review.json
      rlm-sub run "Where are secrets read?" . --dry-run     # or: rlm-sub plan ...
    """
    from rlm_cli.progress import Reporter
    from rlm_cli.steps.map import map_step
    from rlm_cli.steps.reduce import reduce_step, synthesis_budget
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    if batch and kw["agentic"]:
        raise click.UsageError("--agentic sub-agents are loops, not single requests: drop --batch")
    synthesis_budget(task, make_settings(kw), reduce_tokens)  # refuse before anything is paid
    workspace = workspace or default_workspace(task, paths)
    stage_inputs(workspace, paths, kw, Reporter(quiet))
    ws = Workspace(workspace)
    if dry_run:
        show_plan(ws, task, kw, quiet, as_json, exact=exact, reduce_tokens=reduce_tokens)

    async def steps(ctx):
        mapped = await map_step(ws, task, ctx, "submit" if batch else None)
        if mapped.budget_stop:
            stop = RlmError(
                f"budget reached before every chunk was answered ({mapped.budget_stop}); "
                "raise the limit and re-run the same command to continue",
                EXIT_BUDGET,
            )
            return mapped, None, stop
        if mapped.failed and not partial:
            stop = RlmError(
                f"{len(mapped.failed)} chunk(s) failed; re-run the same command to retry them "
                "(finished answers are reused), or add --partial to synthesize without them",
                EXIT_PARTIAL,
            )
            return mapped, None, stop
        return mapped, await reduce_step(ws, task, ctx, reduce_tokens, partial), None

    mapped, reduced, stop = run_async(kw, quiet, steps)
    code = stop.exit_code if stop else reduced.exit_code
    if reduced:
        write_answer(output, text=reduced.text)
    if as_json:
        emit_json(
            {
                "workspace": str(workspace),
                "final": str(ws.final_path) if reduced else None,
                "output": str(output) if output and reduced else None,
                "answer": reduced.text if reduced else None,
                "error": stop.message if stop else None,
                "map": mapped.to_dict(),
                "reduce": reduced.to_dict() if reduced else None,
            },
            code,
        )
    if stop:
        raise stop
    click.echo(reduced.text.rstrip("\n"))
    sys.exit(code)


@cli.command()
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
@cli_errors
def query(
    prompt: str, paths: tuple[str, ...], output: Path | None, max_input: int, quiet: bool, **kw: Any
) -> None:
    """One sub-call: PROMPT over whole FILES (or stdin), answer on stdout.

    For inputs that fit one call. Larger inputs are refused with a pointer to `run`.
    With no PATHS, reads stdin.

    \b
    Examples:
      rlm-sub query "Summarise the public API, cite PATH:LINE" src/api.py src/models.py
      grep -rn "retry" src/ | rlm-sub query "Group these by module" -
      rlm-sub query "Merge these findings into one list" notes/*.md > notes/merged.md
    """
    from rlm_cli.steps.query import query_step

    task = read_prompt(prompt)
    text = run_async(kw, quiet, lambda ctx: query_step(task, list(paths) or ["-"], ctx, max_input))
    write_answer(output, text=text)
    click.echo(text.rstrip("\n"))


@cli.command()
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
    quiet: bool,
    dry_run: bool,
    as_json: bool,
    **kw: Any,
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
    if kw["backend"] != "anthropic":
        raise RlmError(
            "solve drives a tool-using loop and needs the Messages API (--backend anthropic); "
            "with Claude Code, use `rlm-sub run --backend claude-code` instead"
        )
    if dry_run:
        import json

        from rlm_cli.steps.plan import plan_solve, render_solve
        from rlm_cli.steps.tools import Index

        index = Index.build(list(paths))
        found = plan_solve(index, task, make_settings(kw), chunk_tokens, kw["max_turns"])
        click.echo(json.dumps(found, indent=2) if as_json else render_solve(found))
        return
    workspace = workspace or default_workspace("solve " + task, paths)
    ws = Workspace(workspace)
    text = run_async(
        kw,
        quiet,
        lambda ctx: solve_command(
            task, list(paths), ws, ctx, kw["agentic"], kw["max_turns"], chunk_tokens
        ),
    )
    write_answer(ws.final_path, output, text=text)
    if as_json:
        emit_json({"workspace": str(workspace), "final": str(ws.final_path), "answer": text}, 0)
    click.echo(text.rstrip("\n"))


@cli.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1, required=True)
@workspace_option(required=False)
@chunk_options
@model_options
@reduce_options
@click.option("--exact", is_flag=True, help="Count input tokens with the count_tokens endpoint.")
@json_option
@cli_errors
def plan(
    prompt: str,
    paths: tuple[str, ...],
    workspace: Path | None,
    quiet: bool,
    reduce_tokens: int | None,
    partial: bool,
    exact: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """What `run PROMPT PATHS` would call and cost, without calling the model.

    Stages PATHS (as run would, into the same workspace, so a later run reuses it) and
    prints the number of calls, input tokens, expected and worst-case output tokens, and
    dollars at the prices in rlm_cli/pricing.py, with how many calls the cache saves.
    Same as `run --dry-run`.

    \b
    Examples:
      rlm-sub plan "Find every TODO" . --model claude-sonnet-5-5
      rlm-sub plan @review.md src/ --json | jq .max_cost_usd
    """
    from rlm_cli.progress import Reporter
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    workspace = workspace or default_workspace(task, paths)
    stage_inputs(workspace, paths, kw, Reporter(quiet))
    show_plan(
        Workspace(workspace), task, kw, quiet, as_json, exact=exact, reduce_tokens=reduce_tokens
    )


for _command in (status, trace_command, report, install_skill):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="rlm-sub")
