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
from rlm_cli.errors import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_PARTIAL, RlmError

DEFAULT_MODEL = "claude-haiku-5-5"

ENV_HELP = """\
Environment:
  ANTHROPIC_API_KEY   API key (required for commands that call the model)
  ANTHROPIC_BASE_URL  API endpoint (default: Anthropic's)
  RLM_MODEL, RLM_CONCURRENCY, RLM_CHUNK_TOKENS, RLM_MAX_OUTPUT, RLM_RETRIES,
  RLM_TIMEOUT, RLM_RETRY_DELAY  defaults for the options of the same names"""


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


def chunk_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that decide how inputs are staged."""
    options = [
        click.option(
            "--chunk-tokens",
            type=click.IntRange(min=1),
            default=20_000,
            show_default=True,
            envvar="RLM_CHUNK_TOKENS",
            help="Token budget of one chunk (estimated).",
        ),
        click.option(
            "--include",
            multiple=True,
            metavar="GLOB",
            help="Only read files matching GLOB (gitignore syntax; repeatable).",
        ),
        click.option(
            "--exclude",
            multiple=True,
            metavar="GLOB",
            help="Skip files and directories matching GLOB (repeatable).",
        ),
        click.option("--no-gitignore", is_flag=True, help="Read files that .gitignore excludes."),
        click.option(
            "--per-file",
            is_flag=True,
            help="Start every file in a chunk of its own (e.g. one review per file).",
        ),
        click.option(
            "--max-file-bytes",
            type=click.IntRange(min=1),
            default=10 * 1024 * 1024,
            show_default=True,
            help="Skip (and record) files larger than this.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that decide how the model is called."""
    options = [
        click.option(
            "--model",
            "-m",
            default=DEFAULT_MODEL,
            show_default=True,
            envvar="RLM_MODEL",
            help="Model for sub-calls.",
        ),
        click.option(
            "--max-output",
            type=click.IntRange(min=1),
            default=4096,
            show_default=True,
            envvar="RLM_MAX_OUTPUT",
            help="max_tokens of each answer.",
        ),
        click.option(
            "--concurrency",
            "-j",
            type=click.IntRange(min=1, max=1000),
            default=8,
            show_default=True,
            envvar="RLM_CONCURRENCY",
            help="Calls in flight at once.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=1),
            default=6,
            show_default=True,
            envvar="RLM_RETRIES",
            help="Attempts per call (429, 529, 5xx, dropped connections).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=600.0,
            show_default=True,
            envvar="RLM_TIMEOUT",
            help="Deadline in seconds per call, retries included.",
        ),
        click.option(
            "--retry-delay",
            type=click.FloatRange(min=0.0),
            default=0.5,
            show_default=True,
            envvar="RLM_RETRY_DELAY",
            help="First backoff delay in seconds (doubles each retry).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress or summaries on stderr."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def workspace_option(required: bool) -> Callable[..., Any]:
    return click.option(
        "--workspace",
        "-w",
        "workspace",
        required=required,
        metavar="DIR",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="RLM_WORKSPACE",
        help="Workspace directory (manifest, chunks, results, final.md).",
    )


def make_settings(kw: dict[str, Any]):
    from rlm_cli.runner import Settings

    return Settings(
        model=kw["model"],
        max_tokens=kw["max_output"],
        concurrency=kw["concurrency"],
        max_attempts=kw["retries"],
        call_timeout=kw["timeout"],
        backoff_base=kw["retry_delay"],
    )


def run_async(make: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Run one coroutine with a shared, lazily created backend; Ctrl-C keeps finished work."""
    import asyncio  # here, not at the top: it is ~60% of start-up for commands that make no call

    from rlm_cli.pipeline import LazyBackend

    async def main() -> Any:
        backend = LazyBackend()
        try:
            return await make(backend)
        finally:
            await backend.aclose()

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
    epilog=EXIT_CODES_HELP + "\n\n" + ENV_HELP, context_settings={"max_content_width": 100}
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
@click.argument("prompt")
@workspace_option(required=True)
@model_options
@cli_errors
def map_command(prompt: str, workspace: Path, quiet: bool, **kw: Any) -> None:
    """Run PROMPT on every chunk of a workspace, one sub-call per chunk, many at once.

    Answers go to results/<id>.md, with model, tokens, attempts, status and error in
    results/<id>.json. Chunks that already have an answer for the same prompt, model and
    text are not called again. A failed chunk is recorded as failed (never as an answer)
    and the command exits 3; re-running retries only what is missing. PROMPT may be
    @FILE to read it from a file.

    \b
    Examples:
      rlm-sub map "List TODO comments with PATH:LINE" -w .rlm/repo
      rlm-sub map @review-rubric.md -w .rlm/diff -j 16
    """
    from rlm_cli.pipeline import map_step
    from rlm_cli.progress import Reporter
    from rlm_cli.workspace import Workspace

    task, settings, reporter = read_prompt(prompt), make_settings(kw), Reporter(quiet)
    summary = run_async(lambda b: map_step(Workspace(workspace), task, settings, b, reporter))
    if summary.failed:
        sys.exit(EXIT_PARTIAL)


@cli.command()
@click.argument("prompt")
@workspace_option(required=True)
@model_options
@click.option(
    "--reduce-tokens",
    type=click.IntRange(min=500),
    default=None,
    help="Token budget of one synthesis request [default: the chunk budget].",
)
@click.option(
    "--partial",
    is_flag=True,
    help="Synthesize even if some chunks have no answer; the answer lists them (exit 3).",
)
@cli_errors
def reduce(
    prompt: str, workspace: Path, quiet: bool, reduce_tokens: int | None, partial: bool, **kw: Any
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
    from rlm_cli.progress import Reporter
    from rlm_cli.workspace import Workspace

    task, settings, reporter = read_prompt(prompt), make_settings(kw), Reporter(quiet)
    text, code = run_async(
        lambda b: reduce_step(
            Workspace(workspace), task, settings, b, reporter, reduce_tokens, partial
        )
    )
    click.echo(text.rstrip("\n"))
    sys.exit(code)


@cli.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1, required=True)
@workspace_option(required=False)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the answer to this file.",
)
@chunk_options
@model_options
@click.option(
    "--reduce-tokens",
    type=click.IntRange(min=500),
    default=None,
    help="Token budget of one synthesis request [default: the chunk budget].",
)
@click.option(
    "--partial",
    is_flag=True,
    help="Synthesize even if some chunks failed; the answer lists them (exit 3).",
)
@cli_errors
def run(
    prompt: str,
    paths: tuple[str, ...],
    workspace: Path | None,
    output: Path | None,
    quiet: bool,
    reduce_tokens: int | None,
    partial: bool,
    **kw: Any,
) -> None:
    """Chunk PATHS, map PROMPT over the chunks, reduce to one answer on stdout.

    Without -w the workspace is .rlm/<task-name>-<hash>, so running the same command
    again resumes: only chunks whose text changed are called again.

    \b
    Examples:
      rlm-sub run "Find every SQL query built by string concatenation; cite PATH:LINE" .
      rlm-sub run "Why does login fail with 'token expired'?" src/ logs/app.log -o answer.md
      git diff main... | rlm-sub run @review.md - --max-output 2000
    """
    from rlm_cli.pipeline import map_step, reduce_step
    from rlm_cli.progress import Reporter
    from rlm_cli.workspace import Workspace, slugify

    task, settings, reporter = read_prompt(prompt), make_settings(kw), Reporter(quiet)
    if workspace is None:
        digest = hashlib.sha256(
            "\0".join([task, *map(os.path.abspath, paths)]).encode()
        ).hexdigest()
        workspace = Path(".rlm") / f"{slugify(task)}-{digest[:8]}"
    stage_inputs(workspace, paths, kw, reporter)
    ws = Workspace(workspace)

    async def steps(backend):
        summary = await map_step(ws, task, settings, backend, reporter)
        if summary.failed and not partial:
            raise RlmError(
                f"{len(summary.failed)} chunk(s) failed; re-run the same command to retry them "
                "(finished answers are reused), or add --partial to synthesize without them",
                EXIT_PARTIAL,
            )
        return await reduce_step(ws, task, settings, backend, reporter, reduce_tokens, partial)

    text, code = run_async(steps)
    if output:
        from rlm_cli.workspace import atomic_write

        atomic_write(output, text if text.endswith("\n") else text + "\n")
    click.echo(text.rstrip("\n"))
    sys.exit(code)


@cli.command()
@click.argument("prompt")
@click.argument("paths", nargs=-1)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the answer to this file.",
)
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
    from rlm_cli.progress import Reporter

    task, settings, reporter = read_prompt(prompt), make_settings(kw), Reporter(quiet)
    text = run_async(
        lambda b: query_step(task, list(paths) or ["-"], settings, b, reporter, max_input)
    )
    if output:
        from rlm_cli.workspace import atomic_write

        atomic_write(output, text if text.endswith("\n") else text + "\n")
    click.echo(text.rstrip("\n"))


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
