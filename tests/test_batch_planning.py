"""Batch planning and sharding, in process: requests and bytes per batch, budgets, shards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from corpus import corpus
from fake_api import FakeAPI
from inprocess import MODEL, text_jobs

from rlm_cli.calls.backends.protocol import Request, message_params
from rlm_cli.calls.context import Context, LazyBackend
from rlm_cli.calls.ledger import Budget, Ledger, read_events
from rlm_cli.calls.runner import Settings
from rlm_cli.errors import RlmError
from rlm_cli.inputs.sources import Filters
from rlm_cli.inputs.staging import stage
from rlm_cli.progress import Reporter
from rlm_cli.steps.batch import _plan, limits, poll_delays
from rlm_cli.steps.jobs import shard_jobs
from rlm_cli.steps.map import map_step
from rlm_cli.workspace import Workspace


def body_bytes(job) -> int:
    """A request's size in the batch body, as the planner counts it."""
    request = Request(job.system, job.render(job.material()), MODEL, 100)
    return len(json.dumps({"custom_id": job.id, "params": message_params(request)})) + 2


def test_batches_hold_at_most_the_request_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RLM_BATCH_MAX_REQUESTS", "3")
    groups = _plan(text_jobs(["t"] * 7), MODEL, 100, Ledger(None))
    assert [len(g) for g in groups] == [3, 3, 1]
    assert [job.id for g in groups for job, _, _ in g] == [f"c{i}" for i in range(7)]


def test_batches_hold_at_most_the_byte_limit(monkeypatch: pytest.MonkeyPatch):
    jobs = text_jobs(["x" * 3000] * 10)
    limit = 3 * body_bytes(jobs[0]) + 100
    monkeypatch.setenv("RLM_BATCH_MAX_BYTES", str(limit))
    groups = _plan(jobs, MODEL, 100, Ledger(None))
    assert [len(g) for g in groups] == [3, 3, 3, 1]
    assert all(sum(body_bytes(job) for job, _, _ in g) <= limit for g in groups)


def test_each_request_carries_its_estimate_for_the_budget_check():
    [[(_, tokens, dollars)]] = _plan(text_jobs(["y" * 4000]), MODEL, 500, Ledger(None))
    assert tokens >= 1000 + 500  # the input estimate plus every output token it may use
    assert 0 < dollars < 0.01


def test_a_chunk_over_the_byte_limit_alone_names_the_fix(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RLM_BATCH_MAX_BYTES", "2000")
    with pytest.raises(RlmError, match="smaller --chunk-tokens"):
        _plan(text_jobs(["z" * 5000]), MODEL, 100, Ledger(None))


def test_a_cost_budget_needs_a_priced_model():
    with pytest.raises(RlmError, match="--max-cost needs a price"):
        _plan(text_jobs(["a"]), "my-model", 100, Ledger(None, Budget(max_cost=1)))
    assert len(_plan(text_jobs(["a"]), "my-model", 100, Ledger(None))) == 1


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [("RLM_BATCH_MAX_REQUESTS", "many", "not a number"), ("RLM_BATCH_POLL", "0", "below")],
)
def test_limits_from_the_environment_are_checked(monkeypatch, name: str, value: str, error: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(RlmError, match=error):
        limits() if "MAX" in name else poll_delays()


def test_limits_never_exceed_the_api_s(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RLM_BATCH_MAX_REQUESTS", "10000000")
    assert limits()[0] == 100_000


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_every_job_exactly_once(count: int):
    jobs = text_jobs(["t"] * 20)
    shards = [shard_jobs(jobs, (i, count)) for i in range(1, count + 1)]
    ids = [job.id for shard in shards for job in shard]
    assert sorted(ids) == sorted(job.id for job in jobs) and len(ids) == len(set(ids))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize(
    "budget", [Budget(max_calls=7), Budget(max_cost=0.0001), Budget(max_tokens=5000)]
)
def test_a_budget_refuses_the_whole_submission_before_sending_it(
    fake_api: FakeAPI, tmp_path: Path, budget: Budget
):
    """In process, through the real SDK and the fake Batches API: nothing is sent or saved."""
    src = corpus(tmp_path / "src", files=8, lines=4)
    ws = Workspace(tmp_path / "ws")
    stage(ws, [str(src)], Filters(), 2000, per_file=True)
    ctx = Context(LazyBackend("anthropic"), Settings("claude-opus-4", 4096), Reporter(True),
                  budget=budget)  # fmt: skip
    summary = asyncio.run(map_step(ws, "Summarise", ctx, "submit"))
    assert summary.exit_code == 4 and "nothing was submitted" in summary.budget_stop
    assert fake_api.batches == {} and fake_api.calls() == []
    assert not (ws.root / "batches.json").exists() and not list(ws.results_dir.glob("*.md"))
    assert [e for e in read_events(ws.trace_path) if e["ev"] == "start"] == []
