"""Eval results as a table (mean per task, size and method) and an SVG chart of score by size."""

from __future__ import annotations

import math
from html import escape
from typing import Any

COLOURS = {"direct": "#c0392b", "run": "#2471a3", "solve": "#1e8449"}
PANEL_W, PANEL_H, PAD = 360, 240, 48


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (task, size, method): trials, mean score and mean spend of finished trials."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        latest[(r["task"], r["size"], r["method"], r["trial"], r.get("seed"))] = r
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in latest.values():
        groups.setdefault((r["task"], r["size"], r["method"]), []).append(r)
    out = []
    for (task, size, method), rs in sorted(groups.items()):
        n = len(rs)
        costs = [r.get("cost_usd") for r in rs]
        line = {
            "task": task,
            "size": size,
            "method": method,
            "trials": n,
            "failed": sum(r.get("status") != "ok" for r in rs),
            "score": round(sum(r["score"] for r in rs) / n, 3),
            "calls": round(sum(r["calls"] for r in rs) / n, 1),
            "input_tokens": round(sum(r["input_tokens"] for r in rs) / n),
            "output_tokens": round(sum(r["output_tokens"] for r in rs) / n),
            "cost_usd": None if None in costs else round(sum(costs), 4),
            "seconds": round(sum(r["seconds"] for r in rs) / n, 1),
        }
        found = [r["map_score"] for r in rs if "map_score" in r]
        if found:
            line["map_score"] = round(sum(found) / len(found), 3)
        out.append(line)
    return out


def table(lines: list[dict[str, Any]]) -> str:
    """The summary as a fixed-width text table."""
    head = ("task", "size", "method", "n", "score", "map", "calls", "in tok", "out tok", "$", "s")
    body = [
        (
            line["task"],
            f"{line['size']:,}",
            line["method"],
            f"{line['trials']}" + (f" ({line['failed']} failed)" if line["failed"] else ""),
            f"{line['score']:.3f}",
            f"{line['map_score']:.3f}" if "map_score" in line else "-",
            f"{line['calls']:g}",
            f"{line['input_tokens']:,}",
            f"{line['output_tokens']:,}",
            "unknown" if line["cost_usd"] is None else f"{line['cost_usd']:.4f}",
            f"{line['seconds']:g}",
        )
        for line in lines
    ]
    widths = [max(len(str(row[i])) for row in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*row) for row in [head, *body])


def chart(lines: list[dict[str, Any]], title: str) -> str:
    """An SVG with one panel per task: mean score (0-1) against input size (log scale) per method."""
    tasks = sorted({line["task"] for line in lines})
    methods = sorted(
        {line["method"] for line in lines},
        key=lambda m: list(COLOURS).index(m) if m in COLOURS else 9,
    )
    cols = min(len(tasks), 3) or 1
    rows = math.ceil(len(tasks) / cols) or 1
    found = any("map_score" in line for line in lines)
    top = 78 if found else 60  # the dashed line's legend gets a row of its own: one panel is narrow
    width, height = cols * (PANEL_W + PAD) + PAD, rows * (PANEL_H + 2 * PAD) + top
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{PAD}" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, method in enumerate(methods):
        x = PAD + i * 110
        colour = COLOURS.get(method, "#555")
        svg.append(
            f'<line x1="{x}" y1="42" x2="{x + 24}" y2="42" stroke="{colour}" stroke-width="3"/>'
        )
        svg.append(f'<text x="{x + 30}" y="46">{escape(method)}</text>')
    if found:
        svg.append(
            f'<line x1="{PAD}" y1="60" x2="{PAD + 24}" y2="60" stroke="#2471a3" stroke-width="2" '
            'stroke-dasharray="5,4"/>'
        )
        svg.append(
            f'<text x="{PAD + 30}" y="64">run: what the sub-agents found, before synthesis</text>'
        )
    for n, task in enumerate(tasks):
        ox = PAD + (n % cols) * (PANEL_W + PAD)
        oy = top + (n // cols) * (PANEL_H + 2 * PAD) + PAD // 2
        svg.extend(_panel([line for line in lines if line["task"] == task], task, ox, oy, methods))
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def _panel(
    lines: list[dict[str, Any]], task: str, ox: int, oy: int, methods: list[str]
) -> list[str]:
    sizes = sorted({line["size"] for line in lines})
    lo, hi = math.log10(min(sizes)), math.log10(max(sizes))
    span = hi - lo or 1.0

    def x(size: int) -> float:
        if len(sizes) == 1:
            return ox + PANEL_W / 2
        return ox + 20 + (math.log10(size) - lo) / span * (PANEL_W - 40)

    def y(value: float) -> float:
        return oy + PANEL_H - value * PANEL_H

    out = [
        f'<text x="{ox}" y="{oy - 8}" font-size="14" font-weight="bold">{escape(task)}</text>',
        f'<rect x="{ox}" y="{oy}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(
            f'<line x1="{ox}" y1="{y(tick):.1f}" x2="{ox + PANEL_W}" y2="{y(tick):.1f}" stroke="#eee"/>'
        )
        out.append(f'<text x="{ox - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for size in sizes:
        label = f"{size // 1000}K" if size >= 1000 else str(size)
        out.append(
            f'<text x="{x(size):.1f}" y="{oy + PANEL_H + 16}" text-anchor="middle">{label}</text>'
        )
    out.append(
        f'<text x="{ox + PANEL_W / 2}" y="{oy + PANEL_H + 34}" text-anchor="middle" fill="#555">'
        "input size (tokens, log scale)</text>"
    )
    out.append(
        f'<text x="{ox - 34}" y="{oy + PANEL_H / 2}" text-anchor="middle" fill="#555" '
        f'transform="rotate(-90 {ox - 34} {oy + PANEL_H / 2})">score</text>'
    )
    for k, method in enumerate(methods):
        points = sorted((line["size"], line["score"]) for line in lines if line["method"] == method)
        if not points:
            continue
        colour = COLOURS.get(method, "#555")
        nudge = (k - (len(methods) - 1) / 2) * 3  # keep equal scores of two methods apart
        path = " ".join(f"{x(s):.1f},{y(v) + nudge:.1f}" for s, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        found = sorted(
            (ln["size"], ln["map_score"])
            for ln in lines
            if ln["method"] == method and "map_score" in ln
        )
        if found:
            dashed = " ".join(f"{x(s):.1f},{y(v) + nudge + 2:.1f}" for s, v in found)
            out.append(
                f'<polyline points="{dashed}" fill="none" stroke="{colour}" stroke-width="2" '
                'stroke-dasharray="5,4"/>'
            )
        for s, v in points:
            out.append(
                f'<circle cx="{x(s):.1f}" cy="{y(v) + nudge:.1f}" r="4" fill="{colour}">'
                f"<title>{escape(method)} at {s:,} tokens: {v:.3f}</title></circle>"
            )
    return out
