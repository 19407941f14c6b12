"""Running many model calls at once: concurrency, retries, deadlines, overflow splits, cache."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.calls.backends.protocol import USAGE_FIELDS, Backend, CallError, Request, Response
from rlm_cli.calls.depth import Tree
from rlm_cli.calls.ledger import BudgetExceeded, Ledger, upper_tokens
from rlm_cli.calls.pacing import Pacer
from rlm_cli.calls.pricing import add_cost, cost
from rlm_cli.calls.records import (
    CallEnd,
    Spend,
    estimated_cost,
    result_record,
    start_fields,
    store_result,
    when_budget_allows,
)
from rlm_cli.errors import EXIT_UNREACHABLE, RlmError
from rlm_cli.inputs.chunking import split_text
from rlm_cli.workspace import read_json, sha256

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_CALL_TIMEOUT = 600.0
MAX_BACKOFF = 30.0
UNREACHABLE_ATTEMPTS = 3  # while no call got through, a refused connection is tried 3 times
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
    solve: Callable[[], Awaitable[str]] | None = None  # an agentic sub-agent instead of one call
    split: bool = True  # on overflow, answer the halves; False: fail (nothing would merge them)


@dataclass
class Outcome:
    """What happened to one job."""

    job: Job
    status: str  # "ok", "cached", "failed", or "budget" (not answered: a budget was reached)
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
    except (OSError, ValueError):
        return None
    expected = record.get("answer_sha256")
    if expected is not None and expected != sha256(text):
        return None  # torn by a power cut (results are written without fsync): ask again
    return Outcome(job, "cached", text, record)


LIGHT_FIELDS = ("status", "usage", "cost_usd", "calls", "truncated")


def lightened(outcome: Outcome) -> Outcome:
    """A finished answer's outcome as a fan-out keeps it: no text, the record's counts only."""
    if outcome.status != "ok" or outcome.record.get("truncated"):
        return outcome  # failures, budget stops and cut answers are reported or retried
    record = {k: outcome.record[k] for k in LIGHT_FIELDS if k in outcome.record}
    return Outcome(outcome.job, outcome.status, None, record)


def tally(outcomes: list[Outcome]) -> tuple[dict[str, int], float | None]:
    """Total token usage and dollars spent by the calls behind these outcomes (None: unknown)."""
    usage = dict.fromkeys(USAGE_FIELDS, 0)
    dollars: float | None = 0.0
    for o in outcomes:
        for k, v in o.record.get("usage", {}).items():
            usage[k] = usage.get(k, 0) + v
        dollars = add_cost(dollars, o.record.get("cost_usd", 0.0))
    return usage, dollars


class _Failed(Exception):
    """A job that failed for good."""


class Runner:
    """Drives jobs through a backend with bounded concurrency; writes every outcome to disk.

    Every model call is booked in the ledger first, so the tree's budgets hold; once a
    budget stops a call, no new job starts (`stopped` says why) and finished work is kept.
    """

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        ledger: Ledger | None = None,
        on_done: Callable[[Outcome], None] | None = None,
        tree: Tree | None = None,
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        """slots, when shared, bounds the calls in flight across every runner of a process."""
        self.backend = backend
        self.slots = slots or asyncio.Semaphore(settings.concurrency)
        self.settings = settings
        self.ledger = ledger or Ledger(None)
        self.on_done = on_done or (lambda outcome: None)
        self.tree = tree or Tree()
        self.parent = self.tree.parent  # the call on whose behalf sub-agents start (see call)
        self.stopped: str | None = None
        self.reached = False  # some call got an answer: the endpoint is there

    async def run(self, jobs: list[Job], light: bool = False) -> list[Outcome]:
        """Run jobs with at most `concurrency` calls in flight; a fatal error stops them all.

        light: a finished answer (not failed, not cut) is kept as its record's counts only
        (its files hold the rest): a fan-out of N calls holds N small records, not N answers.
        Jobs start spaced out (see calls/pacing.py). A job's files are written by one writer
        thread while its worker makes the next call (creating a file can wait on the disk:
        the event loop must not). A failed write stops the run one call later; an outcome
        counts as done only once it is on disk.
        """
        outcomes: list[Outcome] = []
        pending = iter(jobs)
        writes: set[asyncio.Future[None]] = set()
        loop = asyncio.get_running_loop()
        writer = ThreadPoolExecutor(1, thread_name_prefix="rlm-results")
        pacer = Pacer(min(self.settings.concurrency, len(jobs)))

        def stored(outcome: Outcome) -> asyncio.Future[None]:
            """The outcome written (if it has a slot), then counted as done."""
            done = loop.create_future()
            slot = outcome.job.slot

            def finish(write: asyncio.Future[None] | None) -> None:
                error = write.exception() if write is not None else None
                if error is None:
                    outcomes.append(lightened(outcome) if light else outcome)
                    try:
                        self.on_done(outcome)
                    except Exception as e:  # e.g. a closed stderr: the worker must hear it
                        error = e
                if error is None:
                    writes.discard(done)
                    done.set_result(None)
                else:
                    done.set_exception(error)  # kept in writes: the last gather retrieves it

            writes.add(done)
            if slot is None:
                finish(None)
            else:
                args = (slot, outcome.text, outcome.record)
                loop.run_in_executor(writer, store_result, *args).add_done_callback(finish)
            return done

        async def worker() -> None:
            write: asyncio.Future[None] | None = None
            for job in pending:
                began = await pacer.turn()
                if self.stopped:
                    break
                outcome = await self._run_job(job)
                pacer.finished(began)
                if write is not None:
                    await asyncio.shield(write)  # if cancelled, the write still completes
                write = stored(outcome)
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
            writer.shutdown(wait=False)
        return outcomes

    async def _run_job(self, job: Job) -> Outcome:
        """Answer one job; its result or failure is recorded on disk by run()."""
        started = time.time()
        spend = Spend()
        try:
            if job.solve is not None:
                text = await self._solve(job)
            else:
                text = await self._answer(job, job.material(), spend, 0)
            status, error = "ok", None
        except _Failed as e:
            text, status, error = None, "failed", str(e)
        except BudgetExceeded as e:
            text, status, error = None, "budget", f"not answered: {e}"
            self.stopped = str(e)
        s, depth = self.settings, self.tree.depth + 1
        record = result_record(
            job.id, job.kind, job.key, s.model, depth, job.meta, status, error, spend, started
        )
        return Outcome(job, status, text, record)

    async def _solve(self, job: Job) -> str:
        """Run an agentic sub-agent; its own calls are booked (and counted) by its loop."""
        assert job.solve is not None
        try:
            return await job.solve()
        except CallError as e:
            raise _Failed(str(e)) from None

    async def _answer(self, job: Job, material: str, spend: Spend, depth: int) -> str:
        """Answer material; when the model rejects it as too long, split it and answer both halves."""
        s = self.settings
        request = Request(job.system, job.render(material), s.model, s.max_tokens)
        try:
            response = await self.call(request, job.id, job.kind, spend)
        except CallError as e:
            if e.kind != "overflow" or not job.split:
                raise _Failed(str(e)) from None
            halves = split_text(material) if depth < MAX_SPLIT_DEPTH else None
            if halves is None:
                raise _Failed(f"input too long for the model even after splitting: {e}") from None
        else:
            spend.add_answer(response.usage, response.stop_reason)
            return response.text
        first = await self._answer(job, halves[0], spend, depth + 1)
        second = await self._answer(job, halves[1], spend, depth + 1)
        return first.rstrip() + "\n\n" + second.lstrip()

    async def call(
        self, request: Request, job_id: str, kind: str, spend: Spend | None = None
    ) -> Response:
        """One logical call: booked in the ledger, retried with backoff within the deadline.

        The ledger records the depth of the agent the call serves: a solve loop's own turn
        runs at this runner's depth, every other call is a sub-agent one level deeper.

        Raises BudgetExceeded before calling when a budget could be crossed, CallError when
        the call failed for good, and RlmError for a fatal error (bad key, unknown model).
        """
        s = self.settings
        spend = spend if spend is not None else Spend()
        own_turn = kind == "solve"
        depth = self.tree.depth if own_turn else self.tree.depth + 1
        parent = self.tree.parent if own_turn else self.parent
        est_in = booked_tokens(request)
        est_tokens = est_in + request.max_tokens
        est_cost = estimated_cost(s.model, est_in, request.max_tokens, self.ledger)
        extra: dict[str, Any] = {}
        session = self.backend.runs_sessions  # a process of many turns (claude -p)
        if session:
            extra["reserve"] = "claude-agent" if self.tree.children_may_delegate else "claude-leaf"
            default = CLAUDE_AGENT if self.tree.children_may_delegate else CLAUDE_LEAF
            est_tokens, est_cost = self.ledger.reserve(
                extra["reserve"], est_tokens, est_cost, default
            )
            if self.ledger.budget.max_cost is not None:
                request.max_budget_usd = est_cost  # claude stops the session at its booking
        fields = start_fields(job_id, kind, depth, parent, s.model, **extra)
        call = await when_budget_allows(lambda: self.ledger.start(est_tokens, est_cost, **fields))
        spend.calls.append(call)
        if session:  # the environment of the process it starts (built per call: it costs)
            request.child_env = self.tree.child_env(
                call, self.ledger.path, self.ledger.run, self.ledger.budget
            )
        started, end = time.time(), CallEnd()
        try:
            async with self.slots:
                # Waiting for one of --concurrency slots is queueing, not answering: the
                # call's start, duration and --timeout clock begin once it has a slot.
                end.queued_s = round(time.time() - started, 3)
                started = time.time()
                response = await self._attempts(request, end)
            end.first_token_s = response.first_token_s
            dollars = response.cost_usd
            if dollars is None:
                dollars = cost(s.model, response.usage)  # None: no price for this model
            spend.cost = add_cost(spend.cost, dollars)
            end.status, end.usage, end.cost_usd = "ok", response.usage, dollars
            return response
        except CallError as e:
            end.status, end.error = "failed", str(e)
            if e.spent is not None:  # what a failed session spent still counts against budgets
                end.usage, end.cost_usd = e.spent
            raise
        except RlmError as e:
            end.status, end.error = "fatal", e.message
            raise
        finally:
            spend.attempts += end.attempts
            self.ledger.end(call, **end.fields(job_id, depth, s.model, started))

    async def _attempts(self, request: Request, end: CallEnd) -> Response:
        """Attempts of one call until one succeeds, retrying what can be retried."""
        s = self.settings
        deadline = time.monotonic() + s.call_timeout
        while True:
            end.attempts += 1
            attempt = end.attempts
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise CallError("failed", f"deadline of {s.call_timeout:g}s passed")
                response = await asyncio.wait_for(self.backend.call(request, remaining), remaining)
                self.reached = True
                return response
            except TimeoutError:
                error = CallError("retryable", f"no answer within the {s.call_timeout:g}s deadline")
            except CallError as e:
                error = e
            if error.kind == "fatal":
                raise RlmError(str(error))
            delay = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            out_of_time = time.monotonic() + delay >= deadline
            last = attempt >= min(s.max_attempts, UNREACHABLE_ATTEMPTS) or out_of_time
            if error.unreachable and not self.reached and last:
                raise RlmError(
                    f"could not reach the model: {error} (after {attempt} attempts; nothing "
                    "answered). Check ANTHROPIC_BASE_URL and the network, then re-run.",
                    EXIT_UNREACHABLE,
                )
            if error.kind != "retryable" or attempt >= s.max_attempts or out_of_time:
                if error.kind == "retryable":
                    late = (
                        f"; a retry would pass the {s.call_timeout:g}s --timeout"
                        if out_of_time
                        else ""
                    )
                    tries = f"{attempt} attempt{'' if attempt == 1 else 's'}"
                    raise CallError(
                        "failed", f"{error} (gave up after {tries}{late})", spent=error.spent
                    )
                raise error
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, capped."""
        return min(self.settings.backoff_base * 2 ** (attempt - 1), MAX_BACKOFF) * random.uniform(
            0.5, 1.0
        )


CLAUDE_AGENT = (500_000, 0.25)  # tokens, dollars booked for a claude -p agent until one ends
CLAUDE_LEAF = (50_000, 0.05)  # and for a tool-less one (Claude Code adds its own turns' costs)


def booked_tokens(request: Request) -> int:
    """The input tokens a call is booked at: an upper bound, over every part of the request."""
    texts = [request.system, request.user]
    texts += [json.dumps(m.get("content"), ensure_ascii=False) for m in request.messages or []]
    if request.tools:
        texts.append(json.dumps(request.tools, ensure_ascii=False))
    return upper_tokens(*texts, tools=bool(request.tools))
