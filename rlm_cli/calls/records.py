"""What a call leaves behind: its result record (results/<id>.json) and its ledger events.

Live calls (runner.py) and Message Batches (steps/batch.py) both write through here, so a
record or a ledger event has one shape whichever way the answer came. Booking a call waits
here too, in the one loop that waits while calls in flight may still settle under budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rlm_cli.calls.backends.protocol import USAGE_FIELDS
from rlm_cli.calls.ledger import BudgetBusy, Ledger
from rlm_cli.calls.pricing import cost, round_cost, unpriced
from rlm_cli.errors import RlmError
from rlm_cli.workspace import atomic_write, sha256, write_json

BUDGET_POLL = 0.1  # seconds between looks at the ledger while in-flight calls hold the budget

T = TypeVar("T")


@dataclass
class Spend:
    """What one job's calls spent and how they stopped, over its attempts and split parts."""

    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_FIELDS, 0))
    cost: float | None = 0.0  # None once a call's model has no known price
    attempts: int = 0
    calls: list[str] = field(default_factory=list)  # ledger ids of the calls made
    parts: int = 0  # parts answered: more than one after an input was split
    stops: set[str] = field(default_factory=set)

    def add_answer(self, usage: dict[str, int], stop_reason: str) -> None:
        """Count one answered part."""
        for f in USAGE_FIELDS:
            self.usage[f] += usage.get(f, 0)
        self.parts += 1
        self.stops.add(stop_reason)


@dataclass
class CallEnd:
    """How one booked call ended: the body of its ledger end event."""

    status: str = "cancelled"  # until the call returns: a cancelled call books as such
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = 0.0  # None: the model has no known price
    error: str | None = None
    attempts: int = 0
    queued_s: float = 0.0  # waiting for a --concurrency slot, before the call's start
    first_token_s: float | None = None  # streamed: seconds from start to the first text

    def fields(self, job_id: str, depth: int, model: str, started: float, **extra: Any) -> dict:
        """The end event's fields; extra marks e.g. a batch request."""
        return {
            "id": job_id,
            "depth": depth,
            "model": model,
            "attempts": self.attempts,
            "start": round(started, 3),
            "duration_s": round(time.time() - started, 3),
            "status": self.status,
            "usage": self.usage,
            "cost_usd": round_cost(self.cost_usd),
            "error": self.error,
            "queued_s": self.queued_s,
            **({"first_token_s": self.first_token_s} if self.first_token_s is not None else {}),
            **extra,
        }


def start_fields(
    job_id: str, kind: str, depth: int, parent: str | None, model: str, **extra: Any
) -> dict[str, Any]:
    """The fields of a call's ledger start event (the ledger adds its estimate and ids)."""
    return {"id": job_id, "kind": kind, "depth": depth, "parent": parent, "model": model, **extra}


def result_record(
    job_id: str,
    kind: str,
    key: str,
    model: str,
    depth: int,
    meta: dict[str, Any],
    status: str,
    error: str | None,
    spend: Spend,
    started: float,
    **extra: Any,
) -> dict[str, Any]:
    """A job's result record, as results/<id>.json holds it."""
    stop = sorted(spend.stops)
    return {
        "id": job_id,
        "kind": kind,
        "key": key,
        "model": model,
        "depth": depth,
        **meta,
        "status": status,
        "error": error,
        "usage": spend.usage,
        "cost_usd": round_cost(spend.cost),
        "attempts": spend.attempts,
        "calls": len(spend.calls),
        "call_ids": spend.calls,
        "parts": spend.parts,
        "stop_reason": ",".join(stop),
        "truncated": "max_tokens" in stop,
        "started": round(started, 3),
        "duration_s": round(time.time() - started, 3),
        **extra,
    }


def store_result(slot: Path, text: str | None, record: dict[str, Any]) -> None:
    """Write a job's answer (or remove a stale one) and then its record, each atomically.

    Without fsync (two per call would cost a fan-out more than its HTTP): a write is
    atomic, and the record holds the answer's hash, so an answer torn by a power cut is
    asked again (see runner.cached), never reused.
    """
    md = slot.with_suffix(".md")
    if text is not None:
        record["answer_sha256"] = sha256(text)
        atomic_write(md, text, durable=False)
    else:
        record.pop("answer_sha256", None)
        md.unlink(missing_ok=True)  # never leave an older answer beside a failure record
    write_json(slot.with_suffix(".json"), record, durable=False)


def estimated_cost(
    model: str, input_tokens: int, max_tokens: int, ledger: Ledger, batch: bool = False
) -> float:
    """The most a call may cost, for its booking; refused when --max-cost cannot be checked."""
    dollars = cost(model, {"input_tokens": input_tokens, "output_tokens": max_tokens}, batch)
    if dollars is None and ledger.budget.max_cost is not None:
        raise RlmError(unpriced(model))
    return dollars or 0.0


async def when_budget_allows(take: Callable[[], T]) -> T:
    """take() (a booking or a budget check), retried while calls in flight hold the budget.

    BudgetExceeded passes through: what is left cannot fit, however the calls in flight end.
    """
    while True:
        try:
            return take()
        except BudgetBusy:
            await asyncio.sleep(BUDGET_POLL)
