"""The call tree of a ledger: calls linked to their parents, tool notes under their turns, totals.

Pure functions over the events of trace.jsonl (see ledger.py), shared by `rlm-sub trace`
(a tree in the terminal) and `rlm-sub report` (one HTML file). A call's parent is the call on
whose behalf it was made: a solve turn, or a sub-agent whose own rlm-sub made it. Calls with
no parent, or whose parent is not in the selected runs, are the roots of their run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.calls.ledger import alive, read_events
from rlm_cli.calls.pricing import add_cost
from rlm_cli.errors import RlmError
from rlm_cli.progress import Reporter
from rlm_cli.redact import scrub
from rlm_cli.workspace import Workspace, read_json

OPEN = "open"  # a start with no end, its process still running: in flight
KILLED = "killed"  # a start with no end whose process is gone (killed, or crashed)
RESULT_DIRS = {"results", "queries"}  # folders whose <id>.json records name their call_ids


@dataclass
class Call:
    """One model call, as its start and end events tell it."""

    call: str
    run: str
    id: str
    kind: str
    depth: int
    parent: str | None
    model: str
    start: float
    end: float | None = None
    status: str = OPEN
    attempts: int = 0
    tokens: int = 0
    cost: float | None = 0.0  # None: the model has no known price
    error: str | None = None
    queued: float = 0.0  # seconds waiting for a --concurrency slot, before start
    first_token: float | None = None  # streamed calls: seconds from start to the first text
    children: list[Call] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while the call has no end."""
        return None if self.end is None else max(0.0, self.end - self.start)

    @property
    def failed(self) -> bool:
        """Whether the call failed: not ok, nor stopped on purpose (Ctrl-C: cancelled)."""
        return self.status not in ("ok", "cancelled", OPEN)


@dataclass
class Run:
    """The calls of one run of a tree, in start order, and the roots of its call tree."""

    run: str
    calls: list[Call]
    roots: list[Call]
    notes: list[dict[str, Any]]  # notes whose turn is not among the calls
    first: float
    last: float

    @property
    def wall(self) -> float:
        """Seconds from the run's first call to its last event."""
        return max(0.0, self.last - self.first)


@dataclass
class Group:
    """Totals of a set of calls: one depth, or one model."""

    key: Any
    calls: int = 0
    failed: int = 0
    open: int = 0
    tokens: int = 0
    cost: float | None = 0.0  # None once any call's price is unknown


def run_ids(events: Iterable[dict[str, Any]]) -> list[str]:
    """The run ids of the events, in order of their first event."""
    return list(dict.fromkeys(str(e["run"]) for e in events if e.get("run")))


def pick_runs(ids: list[str], choice: str) -> list[str]:
    """'latest' (the last run started), 'all', or one run id (a unique prefix will do)."""
    if not ids:
        return []
    if choice == "latest":
        return ids[-1:]
    if choice == "all":
        return ids
    matches = [r for r in ids if r.startswith(choice)]
    if len(matches) != 1:
        listed = ", ".join(ids[-10:])
        raise RlmError(
            f"no single run matches {choice!r} in this trace; pick one of: {listed} "
            "(or --run latest, --run all)"
        )
    return matches


def build(events: Iterable[dict[str, Any]], run: str) -> Run:
    """The call tree of one run from ledger events (events of other runs are ignored)."""
    calls: dict[str, Call] = {}
    notes: list[dict[str, Any]] = []
    last = 0.0
    for e in events:
        if e.get("run") != run:
            continue
        last = max(last, float(e.get("t") or 0.0))
        kind = e.get("ev")
        if kind == "start" and e.get("call"):
            calls[e["call"]] = Call(
                call=e["call"],
                run=run,
                id=str(e.get("id") or "?"),
                kind=str(e.get("kind") or "?"),
                depth=int(e.get("depth") or 0),
                parent=e.get("parent"),
                model=str(e.get("model") or "?"),
                start=float(e.get("t") or 0.0),
            )
            pid = e.get("pid")
            if not e.get("batch") and isinstance(pid, int) and not alive(pid):
                calls[e["call"]].status = KILLED  # until an end event says otherwise (a batch
                # request stays in flight at the API after its submitter stopped)
        elif kind == "end" and e.get("call") in calls:
            _finish(calls[e["call"]], e)
        elif kind == "note":
            notes.append(e)
    ordered = sorted(calls.values(), key=lambda c: c.start)
    roots = []
    for c in ordered:
        parent = calls.get(c.parent) if c.parent else None
        (parent.children if parent else roots).append(c)
    stray = []
    for n in notes:
        turn = calls.get(n.get("call") or "")
        (turn.notes if turn else stray).append(n)
    first = ordered[0].start if ordered else last
    return Run(run, ordered, roots, stray, first, max(last, first))


def _finish(c: Call, e: dict[str, Any]) -> None:
    """Fold an end event into its call."""
    c.status = str(e.get("status") or "failed")
    c.start = float(e.get("start") or c.start)
    c.end = float(e.get("t") or c.start)
    if e.get("duration_s") is not None:
        c.end = c.start + float(e["duration_s"])
    c.attempts = int(e.get("attempts") or 0)
    c.tokens = sum(int(v or 0) for v in (e.get("usage") or {}).values())
    raw = e.get("cost_usd", 0.0)
    c.cost = None if raw is None else float(raw or 0.0)  # None: the model had no price
    c.error = scrub(str(e["error"])) if e.get("error") else None  # also a ledger written before
    c.queued = float(e.get("queued_s") or 0.0)
    c.first_token = e.get("first_token_s")


def load(ws: Workspace, choice: str = "latest") -> list[Run]:
    """The selected runs of a workspace's trace; an error that names the fix when there is none."""
    path = ws.trace_path
    if not path.exists():
        raise RlmError(
            f"no trace in {ws.root} (trace.jsonl is written by the calls of a run): run "
            f"`rlm-sub map`, `rlm-sub run` or `rlm-sub solve` with -w {ws.root} first"
        )
    events = list(read_events(path, Reporter().warn))
    ids = pick_runs(run_ids(events), choice)
    if not ids:
        raise RlmError(f"{path} holds no calls yet: run `rlm-sub map` or `rlm-sub run` first")
    return [build(events, r) for r in ids]


def groups(calls: Iterable[Call], key: Callable[[Call], Any]) -> list[Group]:
    """Calls, failures, open calls, tokens and dollars per key, sorted by key."""
    out: dict[Any, Group] = {}
    for c in calls:
        g = out.setdefault(key(c), Group(key(c)))
        g.calls += 1
        g.failed += c.failed
        g.open += c.status == OPEN
        g.tokens += c.tokens
        g.cost = add_cost(g.cost, c.cost)
    return [out[k] for k in sorted(out, key=str)]


def total(calls: Iterable[Call]) -> Group:
    """The totals of all these calls as one group."""
    [g] = groups(calls, lambda c: "all") or [Group("all")]
    return g


def slowest(calls: Iterable[Call], n: int) -> list[Call]:
    """The n calls that took longest (calls with no end are not ranked)."""
    timed = [c for c in calls if c.duration is not None]
    return sorted(timed, key=lambda c: c.duration or 0.0, reverse=True)[:n]


def failures(calls: Iterable[Call]) -> list[Call]:
    """Calls that ended in anything but ok, in start order."""
    return [c for c in calls if c.failed]


def descendants(c: Call) -> int:
    """How many calls were made on this call's behalf, at any depth below it."""
    return sum(1 + descendants(child) for child in c.children)


def collapse(siblings: list[Call], limit: int) -> list[Call | str]:
    """Siblings in order, keeping the first `limit` of each kind; one summary line per kind."""
    kinds: dict[str, list[Call]] = {}
    for c in siblings:
        kinds.setdefault(c.kind, []).append(c)
    out: list[Call | str] = []
    for kind, calls in kinds.items():
        out += calls[:limit]
        hidden = calls[limit:]
        if not hidden:
            continue
        statuses = Counter(c.status for c in hidden)
        parts = ", ".join(f"{v} {k}" for k, v in sorted(statuses.items(), key=_status_order))
        below = sum(descendants(c) for c in hidden)
        sub = f" (and {below} calls below them)" if below else ""
        n = len(hidden)
        out.append(f"... {n} more {kind} call{'s' if n != 1 else ''}: {parts}{sub}")
    return out


def _status_order(item: tuple[str, int]) -> tuple[int, str]:
    """ok first, then the failures, then calls with no end."""
    order = {"ok": 0, "failed": 1, "fatal": 2, "cancelled": 3, OPEN: 4}
    return order.get(item[0], 5), item[0]


def result_files(root: Path) -> dict[str, Path]:
    """Call id -> the result file it produced (answer, else record), from the records' call_ids.

    Looks in results/, queries/ and reduce/L<n>/ folders anywhere in the workspace (solve keeps
    its sub-agents' workspaces inside the root's); chunk texts are never opened.
    """
    found: dict[str, Path] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("chunks", "vars")]
        here = Path(folder)
        level = here.parent.name == "reduce" and here.name.startswith("L")
        if here.name not in RESULT_DIRS and not level:
            continue
        for name in files:
            if not name.endswith(".json"):
                continue
            record = read_json(here / name)
            if not isinstance(record, dict):
                continue
            answer = (here / name).with_suffix(".md")
            target = answer if answer.exists() else here / name
            for call in record.get("call_ids") or []:
                found[str(call)] = target
    return found


def fallback_file(root: Path, c: Call) -> Path | None:
    """The root workspace's file for a top-level map or reduce job, named by its job id."""
    if c.parent is not None:
        return None
    if c.kind == "map":
        stem = root / "results" / c.id
    elif c.kind == "reduce" and "-" in c.id:
        level, group = c.id.split("-", 1)
        stem = root / "reduce" / level / group
    else:
        return None
    for suffix in (".md", ".json"):
        if stem.with_suffix(suffix).exists():
            return stem.with_suffix(suffix)
    return None
