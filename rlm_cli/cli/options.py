"""The options the commands share, declared once; each group reaches a command as one value.

model_options gives a command `calls`, agent_options `agents`, chunk_options `staging`:
the typed values of groups.py, so no raw option name travels past the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rlm_cli.calls.backends.catalog import AUTO, BACKENDS, DEFAULT_BACKEND
from rlm_cli.cli.groups import Agents, grouped, make_calls, make_staging

ENV_HELP = """\
Environment:
  ANTHROPIC_API_KEY   API key (required for commands that call the Messages API)
  ANTHROPIC_BASE_URL  API endpoint (default: Anthropic's)
  RLM_MODEL, RLM_BACKEND, RLM_CONCURRENCY, RLM_CHUNK_TOKENS, RLM_MAX_OUTPUT, RLM_RETRIES,
  RLM_RETRY_DELAY, RLM_TIMEOUT, RLM_MAX_CALLS, RLM_MAX_TOKENS, RLM_MAX_COST, RLM_MAX_DEPTH,
  RLM_MAX_TURNS, RLM_MAX_INPUT, RLM_PRICE, RLM_WORKSPACE   defaults for the options of those names
  RLM_PROGRESS_INTERVAL  seconds between progress lines off a terminal (default 30)
  RLM_BATCH_POLL      first wait in seconds between polls of a --batch (default 5; backs off)
  RLM_DEPTH           this process's depth in a recursion tree (0 at the top; set for sub-agents)
  RLM_CLAUDE          the Claude Code program for --backend claude-code (default: claude)"""


def chunk_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that decide how inputs are staged: the command gets `staging`."""
    names = ("chunk_tokens", "include", "exclude", "no_gitignore", "per_file", "max_file_bytes")
    return grouped(
        "staging",
        make_staging,
        names,
        [
            click.option(
                "--chunk-tokens",
                type=click.IntRange(min=1),
                envvar="RLM_CHUNK_TOKENS",
                help="Token budget of one chunk (estimated) [default: 20000, or what fits the "
                "window a local engine reports].",
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
            click.option(
                "--no-gitignore",
                is_flag=True,
                help="Read files that .gitignore excludes (in a git checkout: the untracked "
                "ones it ignores; tracked files are always read).",
            ),
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
                help="Skip (and record) files larger than this found by walking a directory; "
                "a file you name (or -) is read whatever its size.",
            ),
        ],
    )(f)


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options that decide how the model is called: the command gets `calls`."""
    others = [
        f"{b.default_model} with --backend {n}" for n, b in BACKENDS.items() if n != DEFAULT_BACKEND
    ]
    defaults = "; ".join([BACKENDS[DEFAULT_BACKEND].default_model, *others])
    names = ("model", "backend", "max_output", "concurrency", "retries", "timeout")
    names += ("retry_delay", "max_calls", "max_tokens", "max_cost", "price", "max_depth", "quiet")
    return grouped(
        "calls",
        make_calls,
        names,
        [
            click.option(
                "--model",
                "-m",
                envvar="RLM_MODEL",
                help=f"Model for sub-calls [default: {defaults}].",
            ),
            click.option(
                "--backend",
                type=click.Choice([AUTO, *BACKENDS]),
                default=AUTO,
                show_default=True,
                envvar="RLM_BACKEND",
                help="How sub-agents run: the Messages API, or headless Claude Code (`claude -p`); "
                "auto: the Messages API with an API key, else Claude Code when `claude` is on PATH.",
            ),
            click.option(
                "--max-output",
                type=click.IntRange(min=1),
                envvar="RLM_MAX_OUTPUT",
                help="max_tokens of each answer [default: 4096; for a local engine an eighth "
                "of its window (less where a synthesis could not combine two), or 1024].",
            ),
            click.option(
                "--concurrency",
                "-j",
                type=click.IntRange(min=1, max=1000),
                envvar="RLM_CONCURRENCY",
                help="Calls in flight at once [default: 8; a llama-server's slot count; 1 for "
                "Ollama].",
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
            click.option(
                "--max-calls",
                type=click.IntRange(min=1),
                envvar="RLM_MAX_CALLS",
                help="Stop starting model calls after this many, across the whole recursion tree.",
            ),
            click.option(
                "--max-tokens",
                type=click.IntRange(min=1),
                envvar="RLM_MAX_TOKENS",
                help="Token budget (in + out, cache included) for the whole recursion tree.",
            ),
            click.option(
                "--max-cost",
                type=click.FloatRange(min=0, min_open=True),
                envvar="RLM_MAX_COST",
                help="Dollar budget for the whole recursion tree, at list prices (or --price).",
            ),
            click.option(
                "--price",
                metavar="IN/OUT",
                envvar="RLM_PRICE",
                help="Dollars per million input/output tokens, for a model not in the price "
                "table (e.g. 0/0 for a local model); without one its cost reads 'unknown'.",
            ),
            click.option(
                "--max-depth",
                type=click.IntRange(min=0),
                envvar="RLM_MAX_DEPTH",
                help="Deepest level of delegation (RLM_DEPTH counts from 0 at the top) [default: 2].",
            ),
            click.option("--quiet", "-q", is_flag=True, help="No progress or summaries on stderr."),
        ],
    )(f)


def agent_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options for sub-agents that are tool-using loops (steps/solve.py): gives `agents`."""
    return grouped(
        "agents",
        Agents,
        ("agentic", "max_turns"),
        [
            click.option(
                "--agentic",
                is_flag=True,
                help="Sub-agents are solve loops one level deeper (they can grep, peek and "
                "delegate again) until the depth limit; plain calls at the limit.",
            ),
            click.option(
                "--max-turns",
                type=click.IntRange(min=2),
                default=12,
                show_default=True,
                envvar="RLM_MAX_TURNS",
                help="Turns of each solve loop; the last one must call final.",
            ),
        ],
    )(f)


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


def output_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the answer to this file.",
    )(f)


def reduce_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the synthesis step (reduce, and run's last step)."""
    f = click.option(
        "--partial",
        is_flag=True,
        help="Synthesize even if some chunks have no answer; the answer lists them (exit 3).",
    )(f)
    return click.option(
        "--reduce-tokens",
        type=click.IntRange(min=500),
        default=None,
        help="Token budget of one synthesis request [default: half the model's context "
        "window, less --max-output]. Must hold two answers of --max-output; checked before "
        "any call.",
    )(f)


def plan_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options to see what a command would spend before it spends it."""
    f = click.option(
        "--exact",
        is_flag=True,
        help="With --dry-run: count input tokens with the API's free count_tokens endpoint.",
    )(f)
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Print the calls, tokens and dollars this would spend, and make no model call.",
    )(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object on stdout: paths, counts, usage, cost, failures, exit code.",
    )(f)


class ShardType(click.ParamType):
    """I/N: shard I (1-based) of N."""

    name = "I/N"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            index, count = (int(part) for part in str(value).split("/"))
        except ValueError:
            self.fail(f"{value!r} is not I/N, e.g. 2/4", param, ctx)
        if not 1 <= index <= count:
            self.fail(f"shard {value!r}: I must be between 1 and N", param, ctx)
        return index, count


def shard_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--shard",
        type=ShardType(),
        envvar="RLM_SHARD",
        help="Map only shard I of N (every N-th chunk): split one workspace across CI jobs.",
    )(f)


def batch_options(resume: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--batch, and with resume --resume-batch: map calls through the Message Batches API."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        if resume:
            f = click.option(
                "--resume-batch",
                is_flag=True,
                help="Fetch the batches an earlier --batch saved in the workspace (batches.json), "
                "polling those not ended yet; submits nothing new. PROMPT may be left out.",
            )(f)
        return click.option(
            "--batch",
            is_flag=True,
            help="Send the map calls through the Message Batches API: half price, answers "
            "within 24 h. Waits and polls; the batch ids are saved first, so a stopped run "
            "resumes without submitting again.",
        )(f)

    return decorate


def run_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--run",
        "run_id",
        default="latest",
        show_default=True,
        metavar="ID|latest|all",
        help="Which run of the workspace to show (a unique prefix of its id will do).",
    )(f)
