"""Running many model calls at once: concurrency, retries, deadlines, overflow splits, cache."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.backends import USAGE_FIELDS, Backend, CallError, Request
from rlm_cli.chunking import split_text
from rlm_cli.errors import RlmError
from rlm_cli.pricing import cost
from rlm_cli.trace import append_trace
from rlm_cli.workspace import atomic_write, read_json, sha256, write_json

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_CALL_TIMEOUT = 600.0
MAX_BACKOFF = 30.0
MAX_SPLIT_DEPTH = 8


@dataclass
class Job:
    """One unit of work whose answer is stored at slot.md, with its record at slot.json.

    material is loaded only when the job runs, so a large fan-out never holds every chunk
    in memory; key is the hash of everything that decides the answer (see job_key).
    """

    id: str
    kind: str
    system: str
    material: Callable[[], str]
    render: Callable[[str], str]
    slot: Path | None
    key: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What happened to one job."""

    job: Job
    status: str  # "ok", "cached" or "failed"
    text: str | None
    record: dict[str, Any]


@dataclass
class Settings:
    """Limits that apply to every call a runner makes."""

    model: str
    max_tokens: int
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    backoff_base: float = 0.5


def job_key(settings: Settings, kind: str, system: str, content_hash: str) -> str:
    """Hash of everything that decides a job's answer: task, model, settings and input."""
    return sha256(kind, settings.model, str(settings.max_tokens), system, content_hash)


def cached(job: Job) -> Outcome | None:
    """The stored answer for this job, if one was written for exactly this key."""
    if job.slot is None:
        return None
    record = read_json(job.slot.with_suffix(".json"))
    if not record or record.get("status") != "ok" or record.get("key") != job.key:
        return None
    try:
        text = job.slot.with_suffix(".md").read_text(encoding="utf-8")
    except OSError:
        return None
    return Outcome(job, "cached", text, record)


def tally(outcomes: list[Outcome]) -> tuple[dict[str, int], float]:
    """Total token usage and dollars spent by the calls behind these outcomes."""
    usage = dict.fromkeys(USAGE_FIELDS, 0)
    dollars = 0.0
    for o in outcomes:
        for k, v in o.record.get("usage", {}).items():
            usage[k] = usage.get(k, 0) + v
        dollars += o.record.get("cost_usd") or 0.0
    return usage, dollars


def _store(slot: Path, text: str | None, record: dict[str, Any]) -> None:
    """Write a job's answer (or remove a stale one) and then its record, each atomically."""
    md = slot.with_suffix(".md")
    if text is not None:
        atomic_write(md, text)
    else:
        md.unlink(missing_ok=True)  # never leave an older answer beside a failure record
    write_json(slot.with_suffix(".json"), record)


class _Failed(Exception):
    """A job that failed for good."""


class Runner:
    """Drives jobs through a backend with bounded concurrency; writes every outcome to disk."""

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        trace_path: Path | None = None,
        on_done: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.trace_path = trace_path
        self.on_done = on_done or (lambda outcome: None)
        self.depth = int(os.environ.get("RLM_DEPTH", "0") or 0)

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        """Run jobs with at most `concurrency` calls in flight; a fatal error stops them all.

        A job's files are written (with fsync) while its worker already makes the next call,
        so a call slot never waits on the disk; a failed write still stops the run one call
        later, and an outcome counts as done only once it is on disk.
        """
        outcomes: list[Outcome] = []
        pending = iter(jobs)
        writes: list[asyncio.Task[None]] = []

        async def finish(outcome: Outcome) -> None:
            if outcome.job.slot is not None:
                await asyncio.to_thread(_store, outcome.job.slot, outcome.text, outcome.record)
            outcomes.append(outcome)
            self.on_done(outcome)

        async def worker() -> None:
            write: asyncio.Task[None] | None = None
            for job in pending:
                outcome = await self._run_job(job)
                if write is not None:
                    await asyncio.shield(write)  # if cancelled, the write still completes
                write = asyncio.create_task(finish(outcome))
                writes.append(write)
            if write is not None:
                await asyncio.shield(write)

        workers = [
            asyncio.create_task(worker()) for _ in range(min(self.settings.concurrency, len(jobs)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.gather(*writes, return_exceptions=True)  # keep every finished answer
        return outcomes

    async def _run_job(self, job: Job) -> Outcome:
        """Answer one job; its result or failure is recorded on disk by run()."""
        started = time.time()
        usage = dict.fromkeys(USAGE_FIELDS, 0)
        stats = {"attempts": 0, "calls": 0, "parts": 0, "cost": 0.0, "stop_reasons": set()}
        record: dict[str, Any] = {
            "id": job.id,
            "kind": job.kind,
            "key": job.key,
            "model": self.settings.model,
            "depth": self.depth,
            **job.meta,
        }
        try:
            text = await self._answer(job, job.material(), usage, stats, 0)
            status, error = "ok", None
        except _Failed as e:
            text, status, error = None, "failed", str(e)
        stop = sorted(stats["stop_reasons"])
        record.update(
            status=status,
            error=error,
            usage=usage,
            cost_usd=round(stats["cost"], 6),
            attempts=stats["attempts"],
            calls=stats["calls"],
            parts=stats["parts"],
            stop_reason=",".join(stop),
            truncated="max_tokens" in stop,
            started=round(started, 3),
            duration_s=round(time.time() - started, 3),
        )
        return Outcome(job, status, text, record)

    async def _answer(
        self, job: Job, material: str, usage: dict[str, int], stats: dict[str, Any], depth: int
    ) -> str:
        """Answer material; when the model rejects it as too long, split it and answer both halves."""
        try:
            text, stop = await self._call(job, material, usage, stats)
            stats["parts"] += 1
            stats["stop_reasons"].add(stop)
            return text
        except CallError as e:
            if e.kind != "overflow":
                raise _Failed(str(e)) from None
            halves = split_text(material) if depth < MAX_SPLIT_DEPTH else None
            if halves is None:
                raise _Failed(f"input too long for the model even after splitting: {e}") from None
        first = await self._answer(job, halves[0], usage, stats, depth + 1)
        second = await self._answer(job, halves[1], usage, stats, depth + 1)
        return first.rstrip() + "\n\n" + second.lstrip()

    async def _call(
        self, job: Job, material: str, usage: dict[str, int], stats: dict[str, Any]
    ) -> tuple[str, str]:
        """One logical call with retries and backoff, all within the per-call deadline."""
        s = self.settings
        request = Request(job.system, job.render(material), s.model, s.max_tokens)
        started = time.time()
        deadline = time.monotonic() + s.call_timeout
        attempt = 0
        stats["calls"] += 1
        while True:
            attempt += 1
            stats["attempts"] += 1
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise CallError("failed", f"deadline of {s.call_timeout:g}s passed")
                response = await asyncio.wait_for(self.backend.call(request, remaining), remaining)
            except TimeoutError:
                error = CallError("retryable", f"no answer within the {s.call_timeout:g}s deadline")
            except CallError as e:
                error = e
            else:
                for f in USAGE_FIELDS:
                    usage[f] += response.usage.get(f, 0)
                dollars = cost(s.model, response.usage) or 0.0
                stats["cost"] += dollars
                self._trace(job, started, attempt, "ok", response.usage, None, dollars)
                return response.text, response.stop_reason
            if error.kind == "fatal":
                self._trace(job, started, attempt, "fatal", {}, str(error))
                raise RlmError(str(error))
            delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            out_of_time = time.monotonic() + delay >= deadline
            if error.kind != "retryable" or attempt >= s.max_attempts or out_of_time:
                self._trace(job, started, attempt, "failed", {}, str(error))
                if error.kind == "retryable":
                    why = "deadline" if out_of_time else "attempts"
                    raise CallError("failed", f"{error} (gave up after {attempt} attempts: {why})")
                raise error
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, capped."""
        return min(self.settings.backoff_base * 2 ** (attempt - 1), MAX_BACKOFF) * random.uniform(
            0.5, 1.0
        )

    def _trace(
        self,
        job: Job,
        started: float,
        attempts: int,
        status: str,
        usage: dict[str, int],
        error: str | None,
        dollars: float = 0.0,
    ) -> None:
        if self.trace_path is None:
            return
        append_trace(
            self.trace_path,
            {
                "id": job.id,
                "kind": job.kind,
                "parent": os.environ.get("RLM_PARENT") or None,
                "depth": self.depth,
                "model": self.settings.model,
                "start": round(started, 3),
                "end": round(time.time(), 3),
                "attempts": attempts,
                "status": status,
                "usage": usage,
                "cost_usd": round(dollars, 6),
                "error": error,
            },
        )
