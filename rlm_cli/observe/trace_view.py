"""`rlm-sub trace` in the terminal: the call tree, totals per level, slowest and failed calls."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from rlm_cli.calls.pricing import show_cost
from rlm_cli.observe import trace
from rlm_cli.observe.trace import OPEN, Call, Run

STATUS_STYLE = {"ok": "green", "failed": "red", "fatal": "bold red", "cancelled": "yellow"}
MAX_FAILURES = 50  # failed calls listed in full; the rest are counted


def seconds(value: float | None) -> str:
    """A duration for people: 0.31s, 12.4s, 3m05s; '-' when unknown."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"
    return f"{int(value // 60)}m{int(value % 60):02d}s"


def label(c: Call) -> Text:
    """One call as a line: kind, job id, status, duration, tokens, dollars, retries."""
    status = "no end (in flight or killed)" if c.status == OPEN else c.status
    text = Text.assemble(
        (f"{c.kind} ", "bold"),
        (c.id, "cyan"),
        "  ",
        (status, STATUS_STYLE.get(c.status, "magenta")),
        f"  {seconds(c.duration)}  {c.tokens:,} tok  {show_cost(c.cost)}",
        (f"  d{c.depth}", "dim"),
    )
    if c.first_token is not None:
        text.append(f"  first token {seconds(c.first_token)}", "dim")
    if c.queued >= 0.05:
        text.append(f"  after {seconds(c.queued)} queued", "dim")
    if c.attempts > 1:
        text.append(f"  {c.attempts} attempts", "yellow")
    return text


def note_label(note: dict[str, Any]) -> Text:
    """A tool a solve turn ran: its name, its input (clipped), the size of its result."""
    bad = bool(note.get("is_error"))
    text = Text.assemble(
        ("tool ", "dim"),
        (str(note.get("tool") or "?"), "red" if bad else "blue"),
        " ",
        (str(note.get("input") or "")[:120], "dim"),
        f"  -> {int(note.get('result_chars') or 0):,} chars",
    )
    if bad:
        text.append("  (error)", "red")
    return text


def add_calls(node: Tree, calls: list[Call], limit: int) -> None:
    """Add calls (and, below each, its tool notes and sub-calls) to a tree node."""
    for c in trace.collapse(calls, limit):
        if isinstance(c, str):
            node.add(Text(c, "dim italic"))
            continue
        branch = node.add(label(c))
        for note in c.notes[:limit]:
            branch.add(note_label(note))
        if len(c.notes) > limit:
            branch.add(Text(f"... {len(c.notes) - limit} more tool calls", "dim"))
        add_calls(branch, c.children, limit)


def run_header(r: Run) -> Text:
    """A run's id, start time and totals on one line."""
    t = trace.total(r.calls)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.first)) if r.calls else "-"
    text = Text.assemble(
        ("run ", "bold"),
        (r.run, "bold cyan"),
        f"  {when}  {t.calls} call{'' if t.calls == 1 else 's'}, ",
        (f"{t.failed} failed", "red" if t.failed else ""),
        f", {t.tokens:,} tokens, {show_cost(t.cost)}, wall {seconds(r.wall)}",
    )
    if t.open:
        text.append(f", {t.open} with no end", "magenta")
    return text


def levels_table(calls: list[Call]) -> Table:
    """Calls, failures, tokens and dollars per depth, with a total row."""
    table = Table(title="Totals by depth", title_justify="left", show_edge=False)
    for name in ("depth", "calls", "failed", "no end", "tokens", "dollars"):
        table.add_column(name, justify="left" if name == "depth" else "right")
    rows = trace.groups(calls, lambda c: c.depth)
    for g in [*rows, trace.total(calls)]:
        if g.key == "all":
            table.add_section()
        table.add_row(
            str(g.key),
            f"{g.calls:,}",
            Text(f"{g.failed:,}", "red" if g.failed else ""),
            f"{g.open:,}",
            f"{g.tokens:,}",
            show_cost(g.cost),
        )
    return table


def slowest_table(calls: list[Call], n: int) -> Table:
    """The n slowest calls."""
    table = Table(title=f"Slowest {n} calls", title_justify="left", show_edge=False)
    for name in ("call", "depth", "status", "seconds", "attempts", "call id"):
        table.add_column(name, justify="right" if name in ("seconds", "attempts") else "left")
    for c in trace.slowest(calls, n):
        table.add_row(
            f"{c.kind} {c.id}",
            str(c.depth),
            Text(c.status, STATUS_STYLE.get(c.status, "")),
            seconds(c.duration),
            str(c.attempts),
            c.call,
        )
    return table


def failures_view(calls: list[Call]) -> Group | Text:
    """Every failed call with its error (the first MAX_FAILURES; the rest counted)."""
    failed = trace.failures(calls)
    if not failed:
        return Text("Failed calls: none", "green")
    lines: list[Any] = [Text(f"Failed calls: {len(failed)}", "bold red")]
    for c in failed[:MAX_FAILURES]:
        lines.append(
            Text.assemble(
                "  ",
                (f"{c.kind} {c.id}", "cyan"),
                f"  d{c.depth}  {c.status} after {c.attempts} attempt(s), {seconds(c.duration)}",
                (f"  [{c.call}]", "dim"),
            )
        )
        lines.append(Text(f"    {c.error or '(no error recorded)'}", "red"))
    if len(failed) > MAX_FAILURES:
        lines.append(Text(f"  ... {len(failed) - MAX_FAILURES} more failed calls", "dim"))
    return Group(*lines)


def render(
    runs: list[Run], limit: int = 20, n_slowest: int = 5, console: Console | None = None
) -> None:
    """Print each run's tree, then totals, slowest and failed calls over all the runs shown."""
    # Piped (less, a CI log, a file), lines keep their length instead of breaking at 80.
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 1000)
    calls = [c for r in runs for c in r.calls]
    for r in runs:
        root = Tree(run_header(r), guide_style="dim")
        add_calls(root, r.roots, limit)
        for note in r.notes[:limit]:
            root.add(note_label(note))
        console.print(root)
        console.print()
    console.print(levels_table(calls))
    console.print()
    if n_slowest:
        console.print(slowest_table(calls, n_slowest))
        console.print()
    console.print(failures_view(calls))
