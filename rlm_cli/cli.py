"""Command-line interface: parse, call the step, print. Logic lives in the other modules."""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from rlm_cli import __version__
from rlm_cli.errors import EXIT_BUDGET, EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_PARTIAL, RlmError
from rlm_cli.options import (
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


def show_plan(
    ws: Any, task: str, kw: dict[str, Any], quiet: bool, as_json: bool, **how: Any
) -> None:
    """Print what a map (and its reduce) would spend, as text or JSON, and exit 0."""
    import json

    from rlm_cli.plan import plan_map, render

    plan = run_async(kw, quiet, lambda ctx: plan_map(ws, task, ctx, **how))
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


def run_async(
    kw: dict[str, Any], quiet: bool, make: Callable[[Any], Coroutine[Any, Any, Any]]
) -> Any:
    """Run one coroutine with the command's context (lazy backend, ledger); Ctrl-C keeps work."""
    import asyncio  # here, not at the top: it is ~60% of start-up for commands that make no call

    from rlm_cli.ledger import Budget
    from rlm_cli.pipeline import Context, LazyBackend
    from rlm_cli.progress import Reporter
    from rlm_cli.tree import Tree

    tree = Tree.from_env(kw["max_depth"])
    ctx = Context(
        backend=LazyBackend(kw["backend"], tree),
        settings=make_settings(kw),
        reporter=Reporter(quiet),
        tree=tree,
        budget=Budget(kw["max_calls"], kw["max_tokens"], kw["max_cost"]),
        agentic=kw.get("agentic", False),
        max_turns=kw.get("max_turns", 12),
        shard=kw.get("shard"),
    )

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


def stage_inputs(workspace: Path, paths: tuple[str, ...], kw: dict[str, Any], reporter) -> None:
    """Stage inputs into the workspace and print the summary."""
    from rlm_cli.progress import human
    from rlm_cli.sources import Filters
    from rlm_cli.stage import stage
    from rlm_cli.workspace import Workspace

    filters = Filters(
        include=list(kw["include"]),
        exclude=list(kw["exclude"]),
        gitignore=not kw["no_gitignore"],
        max_file_bytes=kw["max_file_bytes"],
    )
    manifest, s = stage(
        Workspace(workspace), list(paths), filters, kw["chunk_tokens"], kw["per_file"]
    )
    skipped = f", skipped {s.skipped} (see manifest.json)" if s.skipped else ""
    excluded = f", excluded {s.excluded}" if s.excluded else ""
    reporter.info(
        f"chunk: {s.files} files ({human(s.bytes)}B, ~{human(s.tokens)} tokens) -> {s.chunks} chunks "
        f"of <= {kw['chunk_tokens']:,} tokens{skipped}{excluded}; {s.seconds:.1f}s; in {workspace}"
    )
    for f in manifest["files"]:
        if f.get("note"):
            reporter.warn(f"{f['path']}: {f['note']}")


def cli_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn OS errors on the workspace into clear messages instead of tracebacks."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except OSError as e:
            raise RlmError(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from e

    return wrapper


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

    Honours .gitignore (nested ones too), skips .git and binary files, records every
    skipped file with its reason in manifest.json, and packs text into chunks of at most
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
    from rlm_cli.pipeline import map_step
    from rlm_cli.workspace import Workspace

    ws = Workspace(workspace)
    task = read_prompt(prompt) if prompt is not None else None
    if resume_batch:
        from rlm_cli.batch_store import saved_task

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
    from rlm_cli.pipeline import reduce_step
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
    from rlm_cli.pipeline import map_step, reduce_step
    from rlm_cli.progress import Reporter
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    if batch and kw["agentic"]:
        raise click.UsageError("--agentic sub-agents are loops, not single requests: drop --batch")
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
    from rlm_cli.pipeline import query_step

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
    from rlm_cli.solve import solve_command
    from rlm_cli.workspace import Workspace

    task = read_prompt(prompt)
    if kw["backend"] != "anthropic":
        raise RlmError(
            "solve drives a tool-using loop and needs the Messages API (--backend anthropic); "
            "with Claude Code, use `rlm-sub run --backend claude-code` instead"
        )
    if dry_run:
        import json

        from rlm_cli.plan import plan_solve, render_solve
        from rlm_cli.tools import Index

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


@cli.command()
@workspace_option(required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@cli_errors
def status(workspace: Path, as_json: bool) -> None:
    """Show a workspace's chunks and results, and what its whole recursion tree spent.

    Calls, tokens and dollars come from the workspace's trace.jsonl, where every process of
    the tree (sub-agents that ran rlm-sub themselves included) books its calls, broken down
    by depth and by model. Works while a run is going (calls in flight) and after it.

    \b
    Examples:
      rlm-sub status -w .rlm/repo
      rlm-sub status -w .rlm/repo --json | jq .calls.cost_usd
    """
    import json

    from rlm_cli.status import gather, render
    from rlm_cli.workspace import Workspace

    info = gather(Workspace(workspace))
    click.echo(json.dumps(info, indent=2) if as_json else render(info))


def run_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--run",
        "run_id",
        default="latest",
        show_default=True,
        metavar="ID|latest|all",
        help="Which run of the workspace to show (a unique prefix of its id will do).",
    )(f)


@cli.command(name="trace")
@workspace_option(required=True)
@run_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Siblings shown per node; the rest are summed up in one line per kind.",
)
@click.option(
    "--slowest",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many of the slowest calls to list.",
)
@cli_errors
def trace_command(workspace: Path, run_id: str, limit: int, slowest: int) -> None:
    """Draw the call tree of a workspace's run, with totals, the slowest and the failed calls.

    Reads trace.jsonl, where every process of the recursion tree booked its model calls.
    Each call sits under the call it was made for (a solve turn, or the sub-agent whose
    rlm-sub made it), with the tools a solve turn ran listed under the turn. Below the tree:
    calls, failures, tokens and dollars per depth, the slowest calls, and every failed call
    with its error. Makes no model call; works during a run too.

    \b
    Examples:
      rlm-sub trace -w .rlm/repo
      rlm-sub trace -w .rlm/repo --run all --limit 5
      rlm-sub trace -w .rlm/repo | less -R
    """
    from rlm_cli.trace import load
    from rlm_cli.trace_view import render
    from rlm_cli.workspace import Workspace

    render(load(Workspace(workspace), run_id), limit, slowest)


@cli.command()
@workspace_option(required=True)
@run_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML file [default: DIR/report.html].",
)
@cli_errors
def report(workspace: Path, run_id: str, output: Path | None) -> None:
    """Write one self-contained HTML file about a run: call tree, timeline, costs, answer.

    The file has everything inline (no network fetch of any kind): the call tree with a
    link from each call to its result file, a timeline with one bar per call (colour by
    status, retried calls marked), tokens and dollars by depth and by model, the failed
    and slowest calls, and final.md. Links are relative to where the report is written,
    so keep it inside the workspace to move both together. Prints the file's path.

    \b
    Examples:
      rlm-sub report -w .rlm/repo                  # .rlm/repo/report.html
      rlm-sub report -w .rlm/repo -o review.html --run all
    """
    from rlm_cli.report import write_report
    from rlm_cli.trace import load
    from rlm_cli.workspace import Workspace

    ws = Workspace(workspace)
    path = output or ws.root / "report.html"
    write_report(ws, load(ws, run_id), path)
    click.echo(str(path))


@cli.command(name="install-skill")
@click.option(
    "--project",
    is_flag=True,
    help="Install into ./.claude/skills/rlm (this project) instead of ~/.claude/skills/rlm.",
)
@click.option(
    "--dir",
    "skills_dir",
    metavar="PATH",
    type=click.Path(file_okay=False, path_type=Path),
    help="Install into PATH/rlm: the skills folder of any agent.",
)
@click.option("--force", is_flag=True, help="Overwrite files that were edited since installed.")
@cli_errors
def install_skill(project: bool, skills_dir: Path | None, force: bool) -> None:
    """Install the rlm Agent Skill so a coding agent can use rlm-sub.

    Copies SKILL.md, its reference files (skill/) and the driver scripts (scripts/) into a
    folder named rlm in a skills folder, and prints the folder's path. Running it again
    updates the skill; files edited since the last install are kept unless --force.

    \b
    Examples:
      rlm-sub install-skill                      # ~/.claude/skills/rlm, for every project
      rlm-sub install-skill --project            # ./.claude/skills/rlm, to commit with a repo
      rlm-sub install-skill --dir ~/.agents/skills
    """
    from rlm_cli.install_skill import install_command

    click.echo(install_command(project, skills_dir, force))


def main() -> None:
    cli(prog_name="rlm-sub")
