"""Command-line interface: parse, call the step, print. Logic lives in the other modules."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rlm_cli import __version__
from rlm_cli.cli.confine import ConfinedGroup
from rlm_cli.cli.direct import query, solve
from rlm_cli.cli.eval_command import eval_command
from rlm_cli.cli.failures import cli_errors
from rlm_cli.cli.groups import Agents, Calls, Staging, batch_mode
from rlm_cli.cli.invoke import (
    default_workspace,
    emit_json,
    open_context,
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
    model_options,
    output_option,
    plan_options,
    reduce_options,
    shard_option,
    workspace_option,
)
from rlm_cli.cli.views import install_skill, report, status, trace_command
from rlm_cli.errors import EXIT_CODES_HELP


@click.group(
    cls=ConfinedGroup,
    epilog="\b\n" + EXIT_CODES_HELP + "\n\n\b\n" + ENV_HELP,
    context_settings={"max_content_width": 100, "help_option_names": ["-h", "--help"]},
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
@json_option
@cli_errors
def chunk(
    paths: tuple[str, ...], workspace: Path, quiet: bool, staging: Staging, as_json: bool
) -> None:
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
      rlm-sub chunk . -w .rlm/repo --json | jq .chunks
    """
    from rlm_cli.progress import Reporter

    staged = stage_inputs(workspace, paths, staging, Reporter(quiet))
    if as_json:
        emit_json(staged, 0)


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
    calls: Calls,
    agents: Agents,
    shard: tuple[int, int] | None,
    as_json: bool,
    dry_run: bool,
    exact: bool,
    batch: bool,
    resume_batch: bool,
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
    mode = batch_mode(agents, batch, resume_batch)
    if resume_batch:
        from dataclasses import replace

        from rlm_cli.steps.batch_store import saved_task

        task, model, max_output = saved_task(ws, task)
        calls = replace(calls, settings=replace(calls.settings, model=model, max_tokens=max_output))
    elif task is None:
        raise click.UsageError("Missing argument 'PROMPT'.")
    ctx = open_context(calls, agents, shard, calling=not dry_run)
    if dry_run:
        show_plan(ctx, ws, task, as_json, exact=exact, with_reduce=False)
    summary = run_async(ctx, lambda ctx: map_step(ws, task, ctx, mode))
    if as_json:
        emit_json({"workspace": str(workspace), **summary.to_dict()}, summary.exit_code)
    sys.exit(summary.exit_code)


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
    calls: Calls,
    reduce_tokens: int | None,
    partial: bool,
    as_json: bool,
) -> None:
    """Combine the map answers of a workspace into one answer, printed on stdout.

    Answers are grouped within the token budget and each group is synthesized; the
    syntheses are grouped again until one remains. The answer is also written to
    final.md. Answers that say NOTHING RELEVANT are dropped by code, not by the model.
    Every quote the sub-agents give as PATH:LINE: "words" is looked up in the input by
    code; the answer ends with those found (final.evidence.json, --json "evidence"), and
    quotes not found are dropped.

    \b
    Example:
      rlm-sub reduce "Which modules talk to the database, and how?" -w .rlm/repo
    """
    from rlm_cli.steps.reduce import reduce_step
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    ws = Workspace(workspace)
    summary = run_async(
        open_context(calls), lambda ctx: reduce_step(ws, task, ctx, reduce_tokens, partial)
    )
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
    staging: Staging,
    calls: Calls,
    agents: Agents,
    reduce_tokens: int | None,
    partial: bool,
    as_json: bool,
    dry_run: bool,
    exact: bool,
    batch: bool,
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
    from rlm_cli.steps.reduce import synthesis_budget
    from rlm_cli.steps.run import run_step
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    mode = batch_mode(agents, batch)
    synthesis_budget(task, calls.settings, reduce_tokens)  # refuse before anything is paid
    workspace = workspace or default_workspace(task, paths)
    ctx = open_context(calls, agents, calling=not dry_run)
    stage_inputs(workspace, paths, staging, Reporter(calls.quiet))
    ws = Workspace(workspace)
    if dry_run:
        show_plan(ctx, ws, task, as_json, exact=exact, reduce_tokens=reduce_tokens)
    summary = run_async(ctx, lambda ctx: run_step(ws, task, ctx, mode, reduce_tokens, partial))
    if summary.answer is not None:
        write_answer(output, text=summary.answer)
    if as_json:
        done = summary.answer is not None
        where = {
            "workspace": str(workspace),
            "final": str(ws.final_path) if done else None,
            "output": str(output) if output and done else None,
        }
        emit_json({**where, **summary.to_dict()}, summary.exit_code)
    if summary.stop:
        raise summary.stop
    click.echo(summary.answer.rstrip("\n"))
    sys.exit(summary.exit_code)


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
    staging: Staging,
    calls: Calls,
    reduce_tokens: int | None,
    partial: bool,
    exact: bool,
    as_json: bool,
) -> None:
    """What `run PROMPT PATHS` would call and cost, without calling the model.

    Stages PATHS (as run would, into the same workspace, so a later run reuses it) and
    prints the number of calls, input tokens, expected and worst-case output tokens, and
    dollars at the prices in rlm_cli/calls/pricing.py, with how many calls the cache saves.
    Same as `run --dry-run`.

    \b
    Examples:
      rlm-sub plan "Find every TODO" . --model claude-sonnet-5-5
      rlm-sub plan @review.md src/ --json | jq .max_cost_usd
    """
    from rlm_cli.progress import Reporter
    from rlm_cli.steps.reduce import synthesis_budget
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    synthesis_budget(task, calls.settings, reduce_tokens)  # refuse before staging
    workspace = workspace or default_workspace(task, paths)
    stage_inputs(workspace, paths, staging, Reporter(calls.quiet))
    ctx = open_context(calls, calling=exact)
    show_plan(ctx, Workspace(workspace), task, as_json, exact=exact, reduce_tokens=reduce_tokens)


# plan makes no call: how calls would be retried, timed, run at once or cut short is moot.
for _param in plan.params:
    if _param.name in ("retries", "retry_delay", "timeout", "concurrency", "partial"):
        _param.hidden = True

for _command in (query, solve, status, trace_command, report, install_skill, eval_command):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="rlm-sub")
