"""The eval step: run every (task, size, method, trial), score it, append it to results.jsonl."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.backends.protocol import CallError, Request
from rlm_cli.calls.context import Context
from rlm_cli.calls.ledger import BudgetExceeded, Ledger
from rlm_cli.calls.pricing import cost, known
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.chunking import estimate_tokens, render_files
from rlm_cli.inputs.sources import Filters, Report, iter_sources
from rlm_cli.steps.eval_score import score
from rlm_cli.steps.eval_tasks import Case, make_case
from rlm_cli.workspace import Workspace, atomic_write, sha256

METHODS = ("direct", "run", "solve")
DIRECT_CUTS = 6  # direct: how often a rejected input is cut further before the trial fails


@dataclass
class EvalPlan:
    """What to run: the grid of trials and the settings every method shares."""

    tasks: list[str]
    sizes: list[int]
    methods: list[str]
    trials: int
    seed: int
    out: Path
    window: int
    chunk_tokens: int = 20_000
    reduce_tokens: int | None = None  # default: the chunk budget, within 4000..window/2
    max_turns: int = 12
    depth: float | None = None
    repo: Path | None = None

    @property
    def reduce_budget(self) -> int:
        """The synthesis budget: as given, else the chunk budget kept within 4000..window/2."""
        return self.reduce_tokens or min(max(self.chunk_tokens, 4000), self.window // 2)

    def grid(self) -> Iterator[tuple[str, int, str, int]]:
        for task in self.tasks:
            for size in self.sizes:
                for method in self.methods:
                    for trial in range(self.trials):
                        yield task, size, method, trial


@dataclass
class EvalSummary:
    """The rows of this eval directory and why the run stopped early, if it did."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0
    stopped: str | None = None
    exit_code: int = 0


def trial_id(task: str, size: int, method: str, trial: int) -> str:
    return f"{task}-{size}-{method}-t{trial}"


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Every complete line of results.jsonl (a torn last line from a kill is ignored)."""
    rows = []
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return rows


def setup_id(plan: EvalPlan, model: str, max_output: int) -> str:
    """A short hash of what decides a trial's answer besides its input: model and budgets."""
    what = [model, max_output, plan.window, plan.chunk_tokens, plan.reduce_budget, plan.max_turns]
    return sha256(*map(str, [*what, plan.depth, plan.repo]))[:8]


def done_ids(rows: list[dict[str, Any]], seed: int, setup: str) -> set[str]:
    """Trials already finished with this seed and setup; failed ones are tried again."""
    return {
        trial_id(r["task"], r["size"], r["method"], r["trial"])
        for r in rows
        if r.get("status") == "ok" and r.get("seed") == seed and r.get("setup") == setup
    }


def write_case(case: Case, folder: Path) -> Path:
    """Write a case's files under folder (once; the same seed writes the same text)."""
    for name, text in case.files.items():
        path = folder / name
        if not path.exists():
            atomic_write(path, text)
    return folder


def _usage_since(ledger: Ledger, offset: int) -> dict[str, Any]:
    """Calls, tokens and dollars of the ledger events written after offset."""
    calls, tin, tout, dollars = 0, 0, 0, 0.0
    if ledger.path is None or not ledger.path.exists():
        return {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0}
    with ledger.path.open("rb") as f:
        f.seek(offset)
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("run") != ledger.run:
                continue
            if event.get("ev") == "start":
                calls += 1
            elif event.get("ev") == "end":
                usage = event.get("usage") or {}
                tin += (
                    usage.get("input_tokens", 0)
                    + usage.get("cache_creation_input_tokens", 0)
                    + usage.get("cache_read_input_tokens", 0)
                )
                tout += usage.get("output_tokens", 0)
                dollars += event.get("cost_usd") or 0.0
    return {"calls": calls, "input_tokens": tin, "output_tokens": tout, "cost": dollars}


def _ledger_size(ledger: Ledger) -> int:
    try:
        return ledger.path.stat().st_size if ledger.path else 0
    except FileNotFoundError:
        return 0


async def run_direct(case_dir: Path, question: str, ctx: Context, window: int) -> dict[str, Any]:
    """One call with as much of the input as fits the window; the rest is cut and recorded."""
    sources = list(iter_sources([str(case_dir)], Filters(gitignore=False), Report()))
    text = render_files(sources)
    system = prompts.QUERY_SYSTEM.format(task=question)
    overhead = estimate_tokens(system + prompts.QUERY_USER.format(text="")) + 64
    room = max(0, window - ctx.settings.max_tokens - overhead)
    total = estimate_tokens(text)
    keep = text if total <= room else _cut(text, room)
    runner = ctx.runner(None)
    for _ in range(DIRECT_CUTS):
        request = Request(
            system,
            prompts.QUERY_USER.format(text=keep),
            ctx.settings.model,
            ctx.settings.max_tokens,
        )
        try:
            response = await runner.call(request, "direct", "query")
        except CallError as e:
            if e.kind != "overflow":
                raise
            keep = _cut(keep, estimate_tokens(keep) * 3 // 4)
            continue
        kept = estimate_tokens(keep)
        return {"answer": response.text, "kept_tokens": kept, "cut_tokens": total - kept}
    raise CallError("failed", f"the input was still too long after {DIRECT_CUTS} cuts")


def _cut(text: str, tokens: int) -> str:
    """The head of text, ended at a line, of at most about `tokens` estimated tokens."""
    head = text.encode("utf-8")[: int(tokens * 3)].decode("utf-8", "ignore")
    return head[: head.rfind("\n") + 1] if "\n" in head else head


async def run_rlm(
    case_dir: Path, question: str, ctx: Context, ws_dir: Path, plan: EvalPlan
) -> dict[str, Any]:
    """rlm-sub run: stage, map, reduce; also how the map answers alone would score."""
    from rlm_cli.inputs.staging import stage
    from rlm_cli.steps.map import map_step
    from rlm_cli.steps.reduce import reduce_step

    ws = Workspace(ws_dir)
    stage(ws, [str(case_dir)], Filters(gitignore=False), plan.chunk_tokens)
    mapped = await map_step(ws, question, ctx)
    if mapped.budget_stop:
        raise BudgetExceeded(mapped.budget_stop)
    if mapped.failed and len(mapped.failed) == mapped.total:
        first = mapped.failed[0].record.get("error")
        raise CallError("failed", f"all {mapped.total} map call(s) failed (first: {first})")
    # failed parts are named in the answer's coverage note; a cut answer's quotes still count
    reduced = await reduce_step(ws, question, ctx, plan.reduce_budget, True)
    answers = [p.read_text(encoding="utf-8") for p in sorted(ws.results_dir.glob("c*.md"))]
    answers += [o.record.get("cut_answer") or "" for o in mapped.failed]
    got = {"answer": reduced.text, "map_answers": "\n".join(answers), "chunks": mapped.total}
    if mapped.failed:
        got["failed_chunks"] = len(mapped.failed)
        got["chunk_error"] = mapped.failed[0].record.get("error")
    return got


async def run_solve(
    case_dir: Path, question: str, ctx: Context, ws_dir: Path, plan: EvalPlan
) -> dict[str, Any]:
    """rlm-sub solve: the tool-using root loop over the case's files."""
    from rlm_cli.steps.solve import solve_command

    answer = await solve_command(
        question, [str(case_dir)], Workspace(ws_dir), ctx, False, plan.max_turns, plan.chunk_tokens
    )
    return {"answer": answer}


async def run_trial(
    plan: EvalPlan, ctx: Context, ledger: Ledger, task: str, size: int, method: str, trial: int
) -> dict[str, Any]:
    """Generate (or reuse) the case, run the method on it, score it; one results row."""
    case = make_case(task, size, trial, plan.seed, plan.depth, plan.repo)
    setup = setup_id(plan, ctx.settings.model, ctx.settings.max_tokens)
    tid = f"{trial_id(task, size, method, trial)}-s{plan.seed}-{setup}"
    case_dir = write_case(case, plan.out / "inputs" / f"{task}-{size}-t{trial}-s{plan.seed}")
    offset, started = _ledger_size(ledger), time.monotonic()
    row: dict[str, Any] = {
        "task": task, "size": size, "method": method, "trial": trial, "seed": plan.seed,
        "setup": setup,
        "model": ctx.settings.model, "input_tokens_est": case.tokens, **case.info,
    }  # fmt: skip
    error = None
    try:
        ws_dir = plan.out / "work" / tid
        if method == "direct":
            got = await run_direct(case_dir, case.question, ctx, plan.window)
        elif method == "run":
            got = await run_rlm(case_dir, case.question, ctx, ws_dir, plan)
        else:
            got = await run_solve(case_dir, case.question, ctx, ws_dir, plan)
    except CallError as e:
        got, error = {"answer": ""}, str(e)
    except RlmError as e:
        if e.exit_code == EXIT_BUDGET:
            raise BudgetExceeded(e.message) from None
        if e.exit_code != EXIT_PARTIAL and not _usage_since(ledger, offset)["calls"]:
            raise  # nothing was called: a setting or credential problem every trial would hit
        got, error = {"answer": ""}, e.message
    spent = _usage_since(ledger, offset)
    answer = got.pop("answer") or ""
    atomic_write(plan.out / "answers" / f"{tid}.md", answer)
    map_answers = got.pop("map_answers", None)
    if map_answers is not None and task in ("niah", "multi-niah"):
        row["map_score"] = score(case, map_answers)  # what the sub-agents found, before synthesis
    row.update(got)
    row.update(
        status="failed" if error else "ok",
        error=error,
        score=0.0 if error else score(case, answer),
        calls=spent["calls"],
        input_tokens=spent["input_tokens"],
        output_tokens=spent["output_tokens"],
        cost_usd=round(spent["cost"], 6) if known(ctx.settings.model) else None,
        seconds=round(time.monotonic() - started, 3),
    )
    return row


async def eval_step(plan: EvalPlan, ctx: Context) -> EvalSummary:
    """Run every trial not yet in results.jsonl, appending one line per trial as it ends."""
    results = plan.out / "results.jsonl"
    plan.out.mkdir(parents=True, exist_ok=True)
    summary = EvalSummary(rows=load_rows(results))
    done = done_ids(
        summary.rows, plan.seed, setup_id(plan, ctx.settings.model, ctx.settings.max_tokens)
    )
    todo = [g for g in plan.grid() if trial_id(*g) not in done]
    summary.skipped = sum(1 for _ in plan.grid()) - len(todo)
    if not todo:
        return summary
    ctx.tree.check_can_call()
    ledger = Ledger(plan.out / "trace.jsonl", ctx.budget, None)
    ctx.ledger, ctx.slots = ledger, asyncio.Semaphore(ctx.settings.concurrency)
    ctx.check_credentials()
    reporter = ctx.reporter
    for n, (task, size, method, trial) in enumerate(todo, 1):
        reporter.info(f"eval {n}/{len(todo)}: {trial_id(task, size, method, trial)}")
        try:
            row = await run_trial(plan, ctx, ledger, task, size, method, trial)
        except BudgetExceeded as e:
            summary.stopped = str(e)
            summary.exit_code = EXIT_BUDGET
            reporter.warn(
                f"budget reached: {e}. Raise the limit and re-run; finished trials are kept"
            )
            break
        with results.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        summary.rows.append(row)
        summary.ran += 1
        if row["status"] != "ok":
            summary.exit_code = summary.exit_code or EXIT_PARTIAL
            reporter.warn(f"{trial_id(task, size, method, trial)} failed: {row['error']}")
    return summary


def estimate(plan: EvalPlan, model: str, max_output: int) -> dict[str, Any]:
    """What the trials not yet run would spend at most: calls, tokens and dollars (no call)."""
    done = done_ids(
        load_rows(plan.out / "results.jsonl"), plan.seed, setup_id(plan, model, max_output)
    )
    rows: dict[str, dict[str, Any]] = {}
    for task, size, method, trial in plan.grid():
        if trial_id(task, size, method, trial) in done:
            continue
        tokens = make_case(task, size, trial, plan.seed, plan.depth, plan.repo).tokens
        if method == "direct":
            calls, tin = 1, min(tokens, plan.window)
        else:
            chunks = max(1, math.ceil(tokens / plan.chunk_tokens))
            group = max(2, plan.reduce_budget // max_output)
            reduces = math.ceil((chunks - 1) / (group - 1)) if chunks > 1 else 0
            calls, tin = chunks + reduces, tokens + reduces * group * max_output
            if method == "solve":
                calls, tin = calls + plan.max_turns, tin + plan.max_turns * 4000
        r = rows.setdefault(method, {"method": method, "trials": 0, "calls": 0, "input_tokens": 0})
        r["trials"] += 1
        r["calls"] += calls
        r["input_tokens"] += tin
    for r in rows.values():
        r["max_output_tokens"] = r["calls"] * max_output
        dollars = cost(
            model, {"input_tokens": r["input_tokens"], "output_tokens": r["max_output_tokens"]}
        )
        r["max_cost_usd"] = None if dollars is None else round(dollars, 4)
    return {"model": model, "methods": list(rows.values())}
