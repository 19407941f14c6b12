"""map through the Message Batches API: submit the uncached chunks at half price, save, poll, fetch.

What was submitted is saved in the workspace's batches.json (written atomically) before any
wait: the task and settings it belongs to, and for every batch its id and, per request, the
custom_id, chunk id, job key and ledger call id. A stopped process (Ctrl-C, kill) therefore
loses nothing: `map --resume-batch` (or the same `map --batch` again) polls the saved batches
instead of submitting them again, and fetches each one once it has ended.

Results land where live map puts them, results/<id>.md and results/<id>.json, under the same
job keys (so live and batch answers are interchangeable), with "batch": true and the cost at
the batch price. Every request is booked in the tree's ledger: a start event per request when
its batch is submitted (after a budget check of the whole submission), and an end event with
its usage when its result is fetched.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any

from rlm_cli.calls.backends.anthropic_batches import BatchApi, Gone, Transient, read_result
from rlm_cli.calls.backends.protocol import USAGE_FIELDS, Request, message_params
from rlm_cli.calls.ledger import BudgetExceeded, Ledger, read_events, upper_tokens
from rlm_cli.calls.pricing import cost
from rlm_cli.calls.records import (
    CallEnd,
    Spend,
    estimated_cost,
    result_record,
    start_fields,
    store_result,
    when_budget_allows,
)
from rlm_cli.calls.runner import Job, Outcome
from rlm_cli.errors import RlmError
from rlm_cli.progress import StatusLine
from rlm_cli.steps.batch_store import Store
from rlm_cli.workspace import Workspace, read_json

if TYPE_CHECKING:
    from rlm_cli.calls.context import Context

MAX_REQUESTS = 100_000  # the API's limits per batch
MAX_BYTES = 250 * 1024 * 1024  # 256 MB, less a margin for the envelope
FIRST_POLL = 5.0  # seconds; RLM_BATCH_POLL overrides, and polls back off to MAX_POLL
MAX_POLL = 60.0
CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _env_number(name: str, default: float, minimum: float) -> float:
    """A positive number from the environment, or the default."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RlmError(f"{name}={raw!r} is not a number: set it to one, or unset it") from None
    if value < minimum:
        raise RlmError(f"{name}={raw} is below {minimum:g}: set a larger value, or unset it")
    return value


def limits() -> tuple[int, int]:
    """Requests and bytes per batch: the API's limits, or lower ones from the environment."""
    requests = int(_env_number("RLM_BATCH_MAX_REQUESTS", MAX_REQUESTS, 1))
    size = int(_env_number("RLM_BATCH_MAX_BYTES", MAX_BYTES, 1024))
    return min(requests, MAX_REQUESTS), min(size, MAX_BYTES)


def poll_delays() -> tuple[float, float]:
    """The first wait between polls and the longest one it backs off to."""
    first = _env_number("RLM_BATCH_POLL", FIRST_POLL, 0.001)
    return first, max(first, min(MAX_POLL, 20 * first))


async def batch_map(
    ws: Workspace, task: str, jobs: list[Job], todo: list[Job], ctx: Context, resume: bool
) -> tuple[list[Outcome], str | None]:
    """Submit todo's chunks not already in a saved batch (unless resuming), then poll and fetch.

    Returns the outcomes of todo's jobs, and why a budget refused the submission, if it did.
    """
    reporter, settings = ctx.reporter, ctx.settings
    if not ctx.backend.supports_batches:
        raise RlmError(
            f"--batch uses the Message Batches API, which the {ctx.backend.name} backend "
            "cannot: drop --batch, or use --backend anthropic"
        )
    store = Store(ws)
    if resume and not store.pending():
        reporter.info(f"batch: nothing to resume, every batch in {store.path} was fetched")
        return [], None
    identity = {
        "task": task,
        "kind": "map",
        "model": settings.model,
        "max_tokens": settings.max_tokens,
    }
    store.start(identity)
    ledger = ctx.open_ledger(ws)  # fails here when this process may not call at all
    saved = {r["key"] for b in store.pending() for r in b["requests"]}
    new = [] if resume else [j for j in todo if j.key not in saved]
    if not new and not store.pending():
        return [], None
    api = BatchApi()
    stopped = None
    try:
        if new:
            stopped = await _submit_all(ws, new, ctx, store, api)
        current = {j.id: j.key for j in jobs}
        wanted = {j.key: j for j in todo}
        outcomes = await _poll(ws, store, api, ledger, current, wanted, reporter)
    finally:
        await api.aclose()
    return outcomes, stopped


def _plan(jobs: list[Job], model: str, max_tokens: int, ledger: Ledger) -> list[list[tuple]]:
    """Group jobs into batches within the limits, with each request's estimated tokens and cost."""
    max_requests, max_bytes = limits()
    groups: list[list[tuple]] = [[]]
    size = 0
    for job in jobs:
        material = job.material()
        user = job.render(material)
        est_in = upper_tokens(job.system, user)  # a cap must hold for dense input too
        est_cost = estimated_cost(model, est_in, max_tokens, ledger, batch=True)
        body = {
            "custom_id": job.id,
            "params": message_params(Request(job.system, job.render(material), model, max_tokens)),
        }
        n = len(json.dumps(body).encode("utf-8")) + 2
        if n > max_bytes:
            raise RlmError(
                f"chunk {job.id} alone is {n:,} bytes, over the batch size limit: restage with "
                "a smaller --chunk-tokens"
            )
        if len(groups[-1]) >= max_requests or (groups[-1] and size + n > max_bytes):
            groups.append([])
            size = 0
        groups[-1].append((job, est_in + max_tokens, est_cost))
        size += n
    return groups


async def _submit_all(
    ws: Workspace, jobs: list[Job], ctx: Context, store: Store, api: BatchApi
) -> str | None:
    """Check the whole submission against the budgets, then submit it batch by batch."""
    s, ledger, reporter = ctx.settings, ctx.ledger, ctx.reporter
    assert ledger is not None
    groups = _plan(jobs, s.model, s.max_tokens, ledger)
    everything = [item for group in groups for item in group]
    tokens, dollars = sum(i[1] for i in everything), sum(i[2] for i in everything)
    try:
        await when_budget_allows(lambda: ledger.check(tokens, dollars, len(everything)))
    except BudgetExceeded as e:
        return f"{e}; nothing was submitted (the whole submission is checked before it is sent)"
    for n, group in enumerate(groups, 1):
        try:
            entry = await _submit(group, ctx, api)
        except BudgetExceeded as e:  # another process of the tree spent in the meantime
            return f"{e}; {len(groups) - n + 1} of {len(groups)} batches were not submitted"
        store.data["batches"].append(entry)
        store.save()
        reporter.info(
            f"batch: submitted {entry['id']} ({n}/{len(groups)}, {len(group)} request(s)); "
            f"saved in {store.path}"
        )
    reporter.info(
        f"batch: if this process stops, `rlm-sub map --resume-batch -w {ws.root}` picks the "
        "batches up without submitting them again (results are kept 29 days)"
    )
    return None


async def _submit(group: list[tuple], ctx: Context, api: BatchApi) -> dict[str, Any]:
    """Book one batch's requests in the ledger, submit it, and return its batches.json entry."""
    s, tree, ledger = ctx.settings, ctx.tree, ctx.ledger
    assert ledger is not None
    depth = tree.depth + 1
    starts = [
        (tokens, dollars, start_fields(job.id, job.kind, depth, tree.parent, s.model, batch=True))
        for job, tokens, dollars in group
    ]
    calls = await when_budget_allows(lambda: ledger.start_many(starts))
    requests, entries = [], []
    for (job, _, _), call in zip(group, calls, strict=True):
        custom_id = job.id if CUSTOM_ID_RE.match(job.id) else f"r{len(requests)}"
        params = message_params(
            Request(job.system, job.render(job.material()), s.model, s.max_tokens)
        )
        requests.append({"custom_id": custom_id, "params": params})
        entries.append(
            {
                "custom_id": custom_id,
                "id": job.id,
                "key": job.key,
                "call": call,
                "kind": job.kind,
                "meta": job.meta,
            }
        )
    submitted = time.time()
    try:
        batch = await api.create(requests)
    except BaseException as e:
        error = e.message if isinstance(e, RlmError) else "the submission was interrupted"
        end = CallEnd("failed", {}, 0.0, error, attempts=1)
        ledger.end_many(
            [
                (r["call"], end.fields(r["id"], depth, s.model, submitted, batch=True))
                for r in entries
            ]
        )
        raise
    return {
        "id": batch.id,
        "status": batch.processing_status,
        "submitted": round(submitted, 3),
        "model": s.model,
        "depth": depth,
        "run": ledger.run,  # a resumed fetch books its ends under the run that started them
        "requests": entries,
    }


def _progress_line(batches: list[dict[str, Any]]) -> str:
    """How far the batches are: ended batches and fetched requests."""
    ended = [b for b in batches if b["status"] == "fetched"]
    requests = sum(len(b["requests"]) for b in batches)
    fetched = sum(len(b["requests"]) for b in ended)
    return (
        f"batch: {len(ended)}/{len(batches)} batches ended, {fetched}/{requests} requests fetched"
    )


async def _poll(
    ws: Workspace,
    store: Store,
    api: BatchApi,
    ledger: Ledger,
    current: dict[str, str],
    wanted: dict[str, Job],
    reporter: Any,
) -> list[Outcome]:
    """Poll the unfinished batches, backing off, and fetch each one as it ends."""
    first, cap = poll_delays()
    delay = first
    outcomes: list[Outcome] = []
    mine = store.pending()
    busy_warned = False
    with StatusLine(reporter, "batch: waiting for the first poll") as progress:
        try:
            while store.pending():
                for entry in store.pending():
                    try:
                        batch = await api.retrieve(entry["id"])
                        if batch.processing_status == "ended":
                            outcomes += await _fetch(ws, entry, api, ledger, current, wanted)
                            entry["status"] = "fetched"
                            entry["counts"] = batch.request_counts.model_dump()
                            store.save()
                        elif batch.processing_status != entry["status"]:
                            entry["status"] = batch.processing_status
                            store.save()
                    except Transient as e:
                        if not busy_warned:
                            reporter.warn(
                                f"batch: the API is busy or unreachable ({e}); polling on"
                            )
                            busy_warned = True
                progress.update(_progress_line(mine), f"next look in {delay:.0f}s")
                if store.pending():
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, cap)
        except asyncio.CancelledError:
            left = len(store.pending())
            reporter.warn(
                f"stopped while {left} batch(es) are still at the API; "
                f"`rlm-sub map --resume-batch -w {ws.root}` fetches them without resubmitting"
            )
            raise
    return outcomes


def _ended_calls(ledger: Ledger) -> set[str]:
    """Calls the ledger already holds an end for (from a fetch a kill cut short)."""
    if ledger.path is None:
        return set()
    return {e["call"] for e in read_events(ledger.path) if e.get("ev") == "end" and "call" in e}


async def _fetch(
    ws: Workspace,
    entry: dict[str, Any],
    api: BatchApi,
    ledger: Ledger,
    current: dict[str, str],
    wanted: dict[str, Job],
) -> list[Outcome]:
    """Write an ended batch's results as result files, line by line, and book their spend."""
    model = entry["model"]
    by_custom_id = {r["custom_id"]: r for r in entry["requests"]}
    ended = _ended_calls(ledger)
    outcomes: list[Outcome] = []
    ends: list[tuple[str, dict[str, Any]]] = []
    done: set[str] = set()

    def settle(r: dict[str, Any], status: str, error: str | None, message: Any) -> None:
        record, text = _record(r, entry, model, status, error, message)
        _write(ws, r, record, text, current)
        if r["call"] not in ended:
            end = CallEnd(status, record["usage"], record["cost_usd"], error, attempts=1)
            fields = end.fields(r["id"], entry["depth"], model, entry["submitted"], batch=True)
            ends.append((r["call"], {**fields, "run": entry.get("run", ledger.run)}))
        job = wanted.get(r["key"])
        if job is not None:
            outcomes.append(Outcome(job, status, text, record))
        done.add(r["custom_id"])

    why_missing = "the batch returned no result for this request; re-run"
    try:
        async for line in api.results(entry["id"]):
            r = by_custom_id.get(line.custom_id)
            if r is not None and line.custom_id not in done:
                settle(r, *read_result(line.result))
    except Gone as e:
        why_missing = (
            f"the batch's results could not be downloaded ({e}); re-run to submit it again"
        )
    for custom_id, r in by_custom_id.items():
        if custom_id not in done:
            settle(r, "failed", why_missing, None)
    ledger.end_many(ends)
    return outcomes


def _record(
    r: dict[str, Any],
    entry: dict[str, Any],
    model: str,
    status: str,
    error: str | None,
    message: Any,
) -> tuple[dict[str, Any], str | None]:
    """The result record (as a live call's, at the batch price) and the answer text."""
    spend = Spend(attempts=1, calls=[r["call"]])
    text = None
    if message is not None:
        text = "".join(b.text for b in message.content if b.type == "text")
        usage = {f: getattr(message.usage, f, None) or 0 for f in USAGE_FIELDS}
        spend.add_answer(usage, message.stop_reason or "")
        spend.cost = cost(model, spend.usage, batch=True) or 0.0
    record = result_record(
        r["id"], r["kind"], r["key"], model, entry["depth"], r["meta"], status, error, spend,
        entry["submitted"], batch=True, batch_id=entry["id"],
    )  # fmt: skip
    return record, text


def _write(
    ws: Workspace,
    r: dict[str, Any],
    record: dict[str, Any],
    text: str | None,
    current: dict[str, str],
) -> None:
    """Write the result files, unless the slot already holds an answer for the current chunk."""
    slot = ws.results_dir / r["id"]
    existing = read_json(slot.with_suffix(".json"))
    if existing and existing.get("status") == "ok" and existing.get("key") == current.get(r["id"]):
        return  # answered meanwhile (live, or by another batch): keep it
    store_result(slot, text, record)
