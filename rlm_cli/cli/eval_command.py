"""`rlm-sub eval`: benchmark direct calls against rlm-sub on generated tasks with known answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rlm_cli.cli.failures import cli_errors
from rlm_cli.cli.groups import Agents, Calls
from rlm_cli.cli.invoke import emit_json, open_context, run_async
from rlm_cli.cli.options import agent_options, json_option, model_options

TASK_NAMES = ("niah", "multi-niah", "aggregate", "pairs", "codeqa")
METHOD_NAMES = ("direct", "run", "solve")


def _int_list(ctx: Any, param: Any, value: str) -> list[int]:
    """'8000,64k' -> [8000, 64000]."""
    out = []
    for part in value.split(","):
        part = part.strip().lower()
        try:
            number = float(part[:-1]) * 1000 if part.endswith("k") else float(part)
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is not a size in tokens, e.g. 8000 or 64k"
            ) from None
        if number < 500:
            raise click.BadParameter(f"size {part!r} is below 500 tokens")
        out.append(int(number))
    return sorted(set(out))


def _methods(ctx: Any, param: Any, value: str) -> list[str]:
    methods = [m.strip() for m in value.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHOD_NAMES]
    if bad or not methods:
        raise click.BadParameter(f"choose from {', '.join(METHOD_NAMES)} (got {value!r})")
    return list(dict.fromkeys(methods))


@click.command(name="eval")
@click.argument("tasks", nargs=-1, required=True, type=click.Choice(TASK_NAMES))
@click.option(
    "--sizes",
    default="8000,64000",
    show_default=True,
    callback=_int_list,
    help="Input sizes in tokens, comma-separated (64k = 64000).",
)
@click.option(
    "--methods",
    default="direct,run",
    show_default=True,
    callback=_methods,
    help="Methods to compare: direct (one call, input cut to the window), run, solve.",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Trials per task, size and method (each a different generated input).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the generated inputs."
)
@click.option(
    "--output",
    "-o",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for results.jsonl, the chart, inputs and workspaces.",
)
@click.option(
    "--context-window",
    type=click.IntRange(min=1000),
    envvar="RLM_CONTEXT_WINDOW",
    help="The model's window in tokens: what direct may send [default: what a local engine "
    "reports, else 200000].",
)
@click.option(
    "--chunk-tokens",
    type=click.IntRange(min=200),
    default=20_000,
    show_default=True,
    help="Chunk budget of run and solve.",
)
@click.option(
    "--reduce-tokens",
    type=click.IntRange(min=500),
    default=None,
    help="Token budget of one synthesis request [default: the chunk budget, kept within "
    "4000 and half the window].",
)
@click.option(
    "--depth",
    type=click.FloatRange(0, 1),
    default=None,
    help="Where the needle (niah) or the asked definition (codeqa) sits, 0-1 [default: random per trial].",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A Python package directory for codeqa [default: rlm-sub's own source].",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the calls, tokens and dollars at most; no call."
)
@model_options
@agent_options
@json_option
@cli_errors
def eval_command(
    tasks: tuple[str, ...], sizes: list[int], methods: list[str], trials: int, seed: int, out: Path,
    context_window: int | None, chunk_tokens: int, reduce_tokens: int | None, depth: float | None,
    repo: Path | None, dry_run: bool, calls: Calls, agents: Agents, as_json: bool,
) -> None:  # fmt: skip
    """Score direct calls against rlm-sub on generated tasks whose answers code computes.

    \b
    Tasks (each input generated from --seed, so every run sees the same text):
      niah        one needle, "The special magic number for KEY is: DIGITS.", at a depth
      multi-niah  four needles; the score is the share found (recall)
      aggregate   labelled tickets: how many carry a label, which label is most frequent
      pairs       users with city and badge: pairs of gold users in one city (F1)
      codeqa      a real Python package (default rlm-sub's own): where is a name
                  defined, scored on PATH:LINE from its syntax tree

    Each trial appends one JSON line to DIR/results.jsonl (task, size, method, trial, score,
    calls, input_tokens, output_tokens, cost_usd, seconds, ...); trials already there are
    skipped, so a stopped eval resumes. Prints a table on stdout and draws DIR/chart.svg.
    Budgets (--max-calls, --max-tokens, --max-cost) hold across all trials.

    \b
    Examples:
      rlm-sub eval niah --sizes 8000,64000 --methods direct,run --trials 3 -o eval/
      rlm-sub eval niah aggregate pairs codeqa --sizes 4k,16k,64k --dry-run -o eval/
      rlm-sub eval niah --model my-local-model --context-window 8192 --chunk-tokens 1000 -o eval/
    """
    from rlm_cli.steps.eval_chart import chart, summarize, table
    from rlm_cli.steps.eval_run import EvalPlan, estimate, eval_step, setup_id
    from rlm_cli.workspace import atomic_write

    if context_window is None:
        from rlm_cli.calls.windows import context_window as model_window

        context_window = model_window(calls.settings.model)
    plan = EvalPlan(
        tasks=list(dict.fromkeys(tasks)), sizes=sizes, methods=methods, trials=trials, seed=seed,
        out=out, window=context_window, chunk_tokens=chunk_tokens, reduce_tokens=reduce_tokens,
        max_turns=agents.max_turns, depth=depth, repo=repo,
    )  # fmt: skip
    settings = calls.settings
    ctx = open_context(calls, agents)
    if "solve" in methods and not ctx.backend.supports_tools:
        raise click.UsageError("the solve method needs the Messages API: use --backend anthropic")
    if dry_run:
        found = estimate(plan, settings.model, settings.max_tokens)
        if as_json:
            emit_json(found, 0)
        for r in found["methods"]:
            dollars = "unknown" if r["max_cost_usd"] is None else f"${r['max_cost_usd']:.4f}"
            click.echo(
                f"{r['method']}: {r['trials']} trials, <= {r['calls']:,} calls, "
                f"~{r['input_tokens']:,} input tokens, <= {r['max_output_tokens']:,} output "
                f"tokens, <= {dollars} on {found['model']}"
            )
        if not found["methods"]:
            click.echo("nothing to run: every trial is already in results.jsonl")
        sys.exit(0)
    summary = run_async(ctx, lambda ctx: eval_step(plan, ctx))
    setup = setup_id(plan, settings.model, settings.max_tokens)
    lines = summarize([r for r in summary.rows if (r.get("seed"), r.get("setup")) == (seed, setup)])
    if lines:
        title = f"rlm-sub eval: score by input size ({settings.model}, seed {seed})"
        atomic_write(out / "chart.svg", chart(lines, title))
    if as_json:
        emit_json(
            {"results": str(out / "results.jsonl"), "chart": str(out / "chart.svg"),
             "ran": summary.ran, "skipped": summary.skipped, "stopped": summary.stopped,
             "summary": lines},
            summary.exit_code,
        )  # fmt: skip
    click.echo(table(lines) if lines else "no finished trials yet")
    sys.exit(summary.exit_code)
