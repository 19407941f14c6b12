"""What a workspace holds and what its recursion tree has spent, during a run or after it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rlm_cli.calls.ledger import read_events
from rlm_cli.calls.pricing import round_cost, show_cost
from rlm_cli.errors import RlmError
from rlm_cli.observe.trace import Call, build, groups, run_ids, total
from rlm_cli.progress import Reporter
from rlm_cli.workspace import Workspace, read_json


def gather(ws: Workspace) -> dict[str, Any]:
    """Chunks and their results, and calls, tokens and dollars by depth and by model."""
    manifest = read_json(ws.manifest_path)
    if manifest is None and not ws.trace_path.exists():
        raise RlmError(f"{ws.root} is not an rlm-sub workspace (no manifest.json or trace.jsonl)")
    statuses: Counter[str] = Counter()
    for path in ws.results_dir.glob("*.json"):
        record = read_json(path)
        statuses[record.get("status", "unknown") if record else "unreadable"] += 1
    chunks = len(manifest["chunks"]) if manifest else 0
    events = list(read_events(ws.trace_path, Reporter().warn))
    calls = [c for run in run_ids(events) for c in build(events, run).calls]
    return {
        "workspace": str(ws.root),
        "chunks": chunks,
        "results": dict(statuses),
        "missing": max(0, chunks - sum(statuses.values())),
        "final": ws.final_path.exists(),
        "calls": _spend(calls),
    }


def _spend(calls: list[Call]) -> dict[str, Any]:
    """Calls, tokens and dollars of every run in the trace, in all and by depth and model."""

    def rows(key: Any) -> list[dict[str, Any]]:
        return [
            {"key": g.key, "calls": g.calls, "tokens": g.tokens, "cost_usd": round_cost(g.cost)}
            for g in groups(calls, key)
        ]

    t = total(calls)
    return {
        "total": t.calls,
        "in_flight": t.open,
        "failed": t.failed,
        "tokens": t.tokens,
        "cost_usd": round_cost(t.cost),
        "by_depth": rows(lambda c: c.depth),
        "by_model": rows(lambda c: c.model),
    }


def render(status: dict[str, Any]) -> str:
    """The status as a few lines and two small tables of plain text."""
    results = status["results"]
    calls = status["calls"]
    lines = [
        f"workspace  {status['workspace']}",
        f"chunks     {status['chunks']}: {results.get('ok', 0)} answered, "
        f"{results.get('failed', 0)} failed, {results.get('budget', 0)} stopped by a budget, "
        f"{status['missing']} not yet called",
        f"final.md   {'written' if status['final'] else 'not yet'}",
        f"calls      {calls['total']} ({calls['in_flight']} in flight, {calls['failed']} failed), "
        f"{calls['tokens']:,} tokens, {show_cost(calls['cost_usd'])}",
    ]
    for title, key in (("depth", "by_depth"), ("model", "by_model")):
        if not calls[key]:
            continue
        width = max(len(title), *(len(str(r["key"])) for r in calls[key]))
        lines.append("")
        lines.append(f"{title:<{width}}  {'calls':>7}  {'tokens':>12}  {'dollars':>10}")
        for r in calls[key]:
            lines.append(
                f"{r['key']!s:<{width}}  {r['calls']:>7}  {r['tokens']:>12,}  {show_cost(r['cost_usd']):>10}"
            )
    return "\n".join(lines)
