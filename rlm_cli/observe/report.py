"""`rlm-sub report`: one self-contained HTML file about the runs of a workspace.

The static parts (totals, tables, failures, the final answer) are HTML escaped here; the call
tree and the timeline are drawn by the page's script from one compact JSON block, so a run of
thousands of calls costs about a hundred bytes per call, and no chunk text is ever included.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rlm_cli.calls.pricing import round_cost, show_cost
from rlm_cli.observe import trace
from rlm_cli.observe.report_page import PAGE
from rlm_cli.observe.trace import Call, Group, Run
from rlm_cli.workspace import Workspace, atomic_write

MAX_ERROR = 300  # characters of an error kept per call
MAX_NOTES = 100  # tool notes kept per turn
MAX_ROWS = 200  # rows of the failed-calls table
MAX_FINAL = 500_000  # characters of final.md shown
SLOWEST = 10
SLOT = re.compile(r"\{\{(\w+)\}\}")
FIELDS = [
    "call", "parent", "run", "id", "kind", "depth", "model", "status",
    "start", "dur", "attempts", "tokens", "cost", "error", "link", "notes",
]  # fmt: skip


def esc(value: Any) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def script_json(obj: Any) -> str:
    """JSON that cannot end the <script> element it sits in, nor open a comment."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def href(target: Path, report_dir: Path) -> str:
    """A relative URL from the report's folder to a file, percent-encoded."""
    rel = os.path.relpath(target.resolve(), report_dir.resolve())
    return quote(Path(rel).as_posix())


def clip(text: str | None, limit: int) -> str | None:
    """Text cut to limit characters, marked when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def links(ws: Workspace, calls: list[Call], report_dir: Path) -> dict[str, str]:
    """Call id -> relative link to the result file it produced, where one exists."""
    files = trace.result_files(ws.root)
    out = {}
    for c in calls:
        target = files.get(c.call) or trace.fallback_file(ws.root, c)
        if target is not None:
            out[c.call] = href(target, report_dir)
    return out


def data(ws: Workspace, runs: list[Run], report_dir: Path) -> dict[str, Any]:
    """The calls as compact rows (see FIELDS), with the runs and models they refer to."""
    calls = sorted((c for r in runs for c in r.calls), key=lambda c: c.start)
    t0 = min((r.first for r in runs), default=0.0)
    t1 = max((r.last for r in runs), default=t0)
    index = {c.call: i for i, c in enumerate(calls)}
    run_index = {r.run: i for i, r in enumerate(runs)}
    models: dict[str, int] = {}
    linked = links(ws, calls, report_dir)
    rows = []
    for c in calls:
        notes = [
            [str(n.get("tool")), str(n.get("input") or ""), int(n.get("result_chars") or 0),
             bool(n.get("is_error"))]
            for n in c.notes[:MAX_NOTES]
        ]  # fmt: skip
        row = {
            "call": c.call,
            "parent": index.get(c.parent or "", -1),
            "run": run_index[c.run],
            "id": c.id,
            "kind": c.kind,
            "depth": c.depth,
            "model": models.setdefault(c.model, len(models)),
            "status": c.status,
            "start": round(c.start - t0, 3),
            "dur": None if c.duration is None else round(c.duration, 3),
            "attempts": c.attempts,
            "tokens": c.tokens,
            "cost": round_cost(c.cost),
            "error": clip(c.error, MAX_ERROR),
            "link": linked.get(c.call),
            "notes": notes or 0,
        }
        rows.append([row[f] for f in FIELDS])
    return {
        "fields": FIELDS,
        "calls": rows,
        "models": list(models),
        "runs": [{"run": r.run, "calls": len(r.calls)} for r in runs],
        "span": round(t1 - t0, 3),
    }


def group_table(title: str, groups: list[Group], total: Group) -> str:
    """One totals table (by depth or by model) with a sum row."""
    head = "".join(f"<th>{h}</th>" for h in (title, "calls", "failed", "no end", "tokens", "$"))
    body = []
    for g, cls in [*((g, f"{title}-row") for g in groups), (total, "sum")]:
        cells = [g.key, f"{g.calls:,}", f"{g.failed:,}", f"{g.open:,}", f"{g.tokens:,}"]
        tds = "".join(f"<td>{esc(v)}</td>" for v in cells)
        body.append(f'<tr class="{cls}">{tds}<td>{show_cost(g.cost)}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def call_table(calls: Iterable[Call], linked: dict[str, str], cls: str, errors: bool) -> str:
    """Failed or slowest calls as a table, each linked to its result file."""
    head = ["call", "depth", "status", "attempts", "seconds", "result"] + (["error"] * errors)
    rows = []
    for c in calls:
        link = linked.get(c.call)
        result = f'<a href="{esc(link)}">{esc(link)}</a>' if link else "-"
        dur = "-" if c.duration is None else f"{c.duration:.2f}"
        tds = [
            f'<td class="text">{esc(c.kind)} <span class="cid">{esc(c.id)}</span></td>',
            f"<td>{c.depth}</td>",
            f'<td class="st st-{esc(c.status)}">{esc(c.status)}</td>',
            f"<td>{c.attempts}</td><td>{dur}</td><td class='text'>{result}</td>",
        ]
        if errors:
            tds.append(f'<td class="error">{esc(clip(c.error, MAX_ERROR * 3) or "")}</td>')
        rows.append(f'<tr class="{cls}">{"".join(tds)}</tr>')
    ths = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def final_block(ws: Workspace) -> str:
    """final.md as escaped preformatted text, or a line saying there is none yet."""
    try:
        text = ws.final_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return '<p class="meta">No final.md in this workspace yet.</p>'
    note = ""
    if len(text) > MAX_FINAL:
        note = f'<p class="meta">The first {MAX_FINAL:,} of {len(text):,} characters.</p>'
        text = text[:MAX_FINAL]
    return f'{note}<pre class="answer">{esc(text)}</pre>'


def render(ws: Workspace, runs: list[Run], report_dir: Path) -> str:
    """The whole page as one string."""
    calls = [c for r in runs for c in r.calls]
    total = trace.total(calls)
    payload = data(ws, runs, report_dir)
    at = FIELDS.index("link")
    linked = {row[0]: row[at] for row in payload["calls"] if row[at]}
    first = min((r.first for r in runs), default=0.0)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(first))
    names = ", ".join(r.run for r in runs)
    failed = trace.failures(calls)
    shown = failed[:MAX_ROWS]
    failures = (
        call_table(shown, linked, "failed-row", errors=True)
        + (
            f'<p class="meta">... and {len(failed) - len(shown)} more.</p>'
            * (len(failed) > len(shown))
        )
        if failed
        else '<p class="st-ok">None.</p>'
    )
    slots = {
        "title": esc(f"rlm-sub report: {ws.root.name}"),
        "meta": esc(f"workspace {ws.root} \u00b7 run {names} \u00b7 started {when}"),
        "totals": (
            f"<b>{total.calls:,}</b> calls \u00b7 <b>{total.failed:,}</b> failed \u00b7 "
            f"<b>{total.open:,}</b> with no end \u00b7 <b>{total.tokens:,}</b> tokens \u00b7 "
            f"<b>{show_cost(total.cost)}</b> \u00b7 wall {payload['span']:.1f}s"
        ),
        "tables": group_table("depth", trace.groups(calls, lambda c: c.depth), total)
        + group_table("model", trace.groups(calls, lambda c: c.model), total),
        "failures": failures,
        "slowest": call_table(trace.slowest(calls, SLOWEST), linked, "slow-row", errors=False),
        "final": final_block(ws),
        "data": script_json(payload),
    }
    return SLOT.sub(lambda m: slots.get(m[1], m[0]), PAGE)  # one pass: no slot fills another


def write_report(ws: Workspace, runs: list[Run], path: Path) -> None:
    """Render the report and write it atomically to path."""
    atomic_write(path, render(ws, runs, path.parent))
