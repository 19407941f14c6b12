"""The call ledger: every model call of a recursion tree, in one file, and the budgets over it.

Every process of a tree appends to the root workspace's trace.jsonl: a "start" event before a
call (with an upper estimate of what it may spend) and an "end" event after it (with what it
did spend). Appends happen under an exclusive lock, and the budget check reads everything
written since this process last looked, so limits hold across concurrent children. A start
with no end counts at its estimate while its process lives; a killed process's calls stop
counting, so a crash never blocks a budget for good. Budgets count one run of the tree:
events carry the root's run id, and a rerun in the same workspace starts afresh.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.workspace import alive

PEAK_MARGIN = 1.5  # a claude -p session is booked at 1.5x the most one such call spent yet
OVERHEAD_TOKENS = 16  # per text: role and block framing
TOOLS_TOKENS = 1_000  # the instructions the API adds when a request offers tools


def upper_tokens(*texts: str, tools: bool = False) -> int:
    """An upper bound of a request's input tokens: one token never covers less than a byte.

    Budgets book this, not the 3-bytes-a-token guess that chunking uses, so that dense
    input (punctuation, non-Latin text) cannot spend past a cap.
    """
    size = sum(len(t) if t.isascii() else len(t.encode("utf-8")) for t in texts)
    return size + OVERHEAD_TOKENS * len(texts) + (TOOLS_TOKENS if tools else 0)


class BudgetExceeded(Exception):
    """Starting this call could cross a budget of the tree."""


class BudgetBusy(Exception):
    """This call fits what is left only if calls now in flight spend less than their estimate."""


@dataclass
class Budget:
    """Limits over the whole recursion tree; None means no limit."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None

    def fields(self) -> dict[str, Any]:
        """The limits by name, for the ledger's limits record."""
        return {
            "max_calls": self.max_calls,
            "max_tokens": self.max_tokens,
            "max_cost": self.max_cost,
        }

    def clamp(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """Lower each limit to the recorded one (a root's); the values that were above it."""
        above = {}
        for name in ("max_calls", "max_tokens", "max_cost"):
            limit = recorded.get(name)
            if not isinstance(limit, int | float) or isinstance(limit, bool):
                continue
            own = getattr(self, name)
            if own is not None and own > limit:
                above[name] = own
            if own is None or own > limit:
                setattr(self, name, limit)
        return above

    def env(self) -> dict[str, str]:
        """The same limits as environment variables, for child processes."""
        values = {
            "RLM_MAX_CALLS": self.max_calls,
            "RLM_MAX_TOKENS": self.max_tokens,
            "RLM_MAX_COST": self.max_cost,
        }
        return {k: str(v) for k, v in values.items() if v is not None}


@dataclass
class Totals:
    """What the tree has spent, with breakdowns by depth and by model."""

    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    failed: int = 0
    open: dict[str, dict[str, Any]] = field(default_factory=dict)  # started, not yet ended
    peak: dict[str, tuple[int, float]] = field(default_factory=dict)  # most one call spent, by kind

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one ledger event into the totals."""
        if event.get("ev") == "start":
            self.calls += 1
            self.open[event["call"]] = event
        elif event.get("ev") == "end":
            started = self.open.pop(event["call"], None) or {}
            tokens = sum(v or 0 for v in (event.get("usage") or {}).values())
            cost = event.get("cost_usd") or 0.0
            kind = started.get("reserve")
            if isinstance(kind, str):
                top_tokens, top_cost = self.peak.get(kind, (0, 0.0))
                self.peak[kind] = (max(top_tokens, tokens), max(top_cost, cost))
            self.tokens += tokens
            self.cost += cost
            self.failed += event.get("status") != "ok"

    def in_flight(self, own_pid: int) -> tuple[int, float]:
        """Estimated tokens and dollars of calls still running in live processes."""
        tokens, cost = 0, 0.0
        for event in self.open.values():
            if event.get("pid") == own_pid or alive(event.get("pid")):
                tokens += event.get("est_tokens", 0)
                cost += event.get("est_cost", 0.0)
        return tokens, cost


def _calls(n: int) -> str:
    return "call" if n == 1 else f"{n:,} calls"


_TYPES: dict[str, type | tuple[type, ...]] = {
    "ev": str, "call": str, "run": str, "pid": int, "t": (int, float), "depth": int,
    "est_tokens": int, "est_cost": (int, float), "cost_usd": (int, float, type(None)),
    "duration_s": (int, float, type(None)), "start": (int, float), "attempts": int,
    "usage": dict, "parent": (str, type(None)), "queued_s": (int, float, type(None)),
    "first_token_s": (int, float, type(None)),
}  # fmt: skip


def valid_event(event: Any) -> bool:
    """Whether a parsed ledger line is an event the views and budgets can fold in."""
    if not isinstance(event, dict):
        return False
    for name, kind in _TYPES.items():
        value = event.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return False
    usage = event.get("usage")
    return usage is None or all(isinstance(v, int | type(None)) for v in usage.values())


def read_limits(path: Path, run: str) -> dict[str, Any] | None:
    """The limits record a root wrote for run at its start, or None when there is none."""
    for event in read_events(path):
        if event.get("ev") == "limits" and event.get("run") == run:
            return event
    return None


def read_events(path: Path, warn: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every well-formed event in a ledger file; other lines are skipped (and counted to warn).

    A torn last line (from a kill) is skipped silently: that is how a killed writer ends.
    """
    try:
        f = path.open("rb")
    except OSError:
        return
    bad: list[int] = []
    with f:
        for n, line in enumerate(f, 1):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if valid_event(event):
                yield event
            elif line.endswith(b"\n"):
                bad.append(n)
    if bad and warn is not None:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        warn(f"{path}: skipped {len(bad)} malformed line(s) (line {shown})")


class Ledger:
    """One process's handle on the tree's ledger (or an in-memory one when there is no file)."""

    def __init__(
        self,
        path: Path | None,
        budget: Budget | None = None,
        run: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        """run is the root's run id for a child; a root starts a new run past earlier events.

        A root records limits (its depth limit, budgets and scope) first, for descendants.
        """
        self.path = path
        self.budget = budget or Budget()
        self.totals = Totals()
        self.pid = os.getpid()
        self.run = run or uuid.uuid4().hex[:12]
        self._offset = 0
        if run is None and path is not None:
            with contextlib.suppress(OSError):
                self._offset = path.stat().st_size  # earlier runs do not count against budgets
        if run is None and limits is not None:
            event = {"ev": "limits", "run": self.run, "pid": self.pid, "t": round(time.time(), 3)}
            with self._locked() as f:
                self._catch_up(f)
                self._append(f, {**event, **limits})

    def start(self, est_tokens: int, est_cost: float, **fields: Any) -> str:
        """Record a call about to start; raises BudgetExceeded when it could cross a limit."""
        call = uuid.uuid4().hex[:12]
        event = {
            "ev": "start",
            "call": call,
            "run": self.run,
            "pid": self.pid,
            "t": round(time.time(), 3),
            "est_tokens": est_tokens,
            "est_cost": round(est_cost, 6),
            **fields,
        }
        with self._locked() as f:
            self._catch_up(f)
            self._check(est_tokens, est_cost)
            self._append(f, event)
        return call

    def start_many(self, calls: list[tuple[int, float, dict[str, Any]]]) -> list[str]:
        """Record many calls at once (a batch), all or none; BudgetExceeded if they could cross a limit.

        calls holds (est_tokens, est_cost, fields) per call; the budget check is for their sum.
        """
        if not calls:
            return []
        events = [
            {
                "ev": "start",
                "call": uuid.uuid4().hex[:12],
                "run": self.run,
                "pid": self.pid,
                "t": round(time.time(), 3),
                "est_tokens": tokens,
                "est_cost": round(dollars, 6),
                **fields,
            }
            for tokens, dollars, fields in calls
        ]
        with self._locked() as f:
            self._catch_up(f)
            self._check(sum(c[0] for c in calls), sum(c[1] for c in calls), len(calls))
            for event in events:
                self._append(f, event)
        return [e["call"] for e in events]

    def reserve(
        self, kind: str, est_tokens: int, est_cost: float, default: tuple[int, float]
    ) -> tuple[int, float]:
        """What to book for a call whose spend its estimate cannot bound (a claude -p session).

        The most any call of this kind has spent in the tree so far, with a margin, or a
        conservative default until one has ended; never less than the estimate.
        """
        with self._locked() as f:
            self._catch_up(f)
        seen = self.totals.peak.get(kind)
        tokens, dollars = (int(seen[0] * PEAK_MARGIN), seen[1] * PEAK_MARGIN) if seen else default
        return max(est_tokens, tokens), max(est_cost, dollars)

    def check(self, est_tokens: int, est_cost: float, calls: int = 1) -> None:
        """Raise BudgetExceeded (or BudgetBusy) if starting these calls could cross a limit."""
        with self._locked() as f:
            self._catch_up(f)
            self._check(est_tokens, est_cost, calls)

    def end(self, call: str, **fields: Any) -> None:
        """Record what a started call spent and how it ended."""
        event = {
            "ev": "end",
            "call": call,
            "run": self.run,
            "pid": self.pid,
            "t": round(time.time(), 3),
            **fields,
        }
        with self._locked() as f:
            self._catch_up(f)
            self._append(f, event)

    def end_many(self, ends: list[tuple[str, dict[str, Any]]]) -> None:
        """Record how many started calls ended (a batch's results), under one lock.

        A field "run" books an end under the run that started the call (a resumed fetch).
        """
        if not ends:
            return
        now = round(time.time(), 3)
        with self._locked() as f:
            self._catch_up(f)
            for call, fields in ends:
                event = {"ev": "end", "call": call, "run": self.run, "pid": self.pid, "t": now}
                self._append(f, {**event, **fields})

    def note(self, **fields: Any) -> None:
        """Record something that is not a call (a tool a solve loop ran), for the trace views."""
        event = {"ev": "note", "run": self.run, "pid": self.pid, "t": round(time.time(), 3)}
        with self._locked() as f:
            self._catch_up(f)
            self._append(f, {**event, **fields})

    def _check(self, est_tokens: int, est_cost: float, calls: int = 1) -> None:
        b, t = self.budget, self.totals
        if b.max_calls is not None and t.calls + calls > b.max_calls:
            if calls == 1:
                raise BudgetExceeded(f"the call budget of {b.max_calls} is spent")
            raise BudgetExceeded(
                f"the call budget of {b.max_calls} would be crossed "
                f"({t.calls} made, {calls} more asked for)"
            )
        if b.max_tokens is None and b.max_cost is None:
            return
        if b.max_tokens is not None and t.tokens + est_tokens > b.max_tokens:
            raise BudgetExceeded(
                f"the token budget of {b.max_tokens:,} would be crossed "
                f"({t.tokens:,} spent, the next {_calls(calls)} may use up to {est_tokens:,})"
            )
        if b.max_cost is not None and t.cost + est_cost > b.max_cost:
            raise BudgetExceeded(
                f"the cost budget of ${b.max_cost:g} would be crossed "
                f"(${t.cost:.4f} spent, the next {_calls(calls)} may cost up to ${est_cost:.4f})"
            )
        flying_tokens, flying_cost = t.in_flight(self.pid)
        if (b.max_tokens is not None and t.tokens + flying_tokens + est_tokens > b.max_tokens) or (
            b.max_cost is not None and t.cost + flying_cost + est_cost > b.max_cost
        ):
            raise BudgetBusy()

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        if self.path is None:
            yield None
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW  # never through a link
        with os.fdopen(os.open(self.path, flags, 0o644), "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield f
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _catch_up(self, f: Any) -> None:
        """Fold in every event appended since this process last read the file."""
        if f is None:
            return
        f.seek(self._offset)
        for line in f:
            if not line.endswith(b"\n"):
                break  # a torn line from a killed writer: the next full line follows it
            self._offset += len(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if valid_event(event) and event.get("run") == self.run:
                if event.get("ev") == "limits":
                    self.budget.clamp(event)  # a child's own limits never exceed the root's
                self.totals.apply(event)

    def _append(self, f: Any, event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        if f is None:
            self.totals.apply(event)
            return
        end = f.seek(0, os.SEEK_END)
        if end:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                f.write(b"\n")  # end a line torn by a killed writer, so ours stays whole
        f.write(line.encode("utf-8"))
        f.flush()
        self._catch_up(f)
