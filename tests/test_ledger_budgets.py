"""Budgets over calls, tokens and dollars hold, in process, for one runner and for several."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from inprocess import MODEL, text_jobs

from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.ledger import Budget, Ledger, read_events
from rlm_cli.calls.runner import Runner, Settings
from rlm_cli.errors import RlmError


def runner(backend: FakeBackend, ledger: Ledger, concurrency: int = 1, **kw) -> Runner:
    settings = Settings(kw.pop("model", MODEL), kw.pop("max_tokens", 100), concurrency)
    return Runner(backend, settings, ledger)


def spent(path: Path) -> tuple[int, int, float]:
    """Calls started, tokens and dollars booked at their end, from a ledger file."""
    events = list(read_events(path))
    ends = [e for e in events if e["ev"] == "end"]
    tokens = sum(sum(e["usage"].values()) for e in ends)
    return sum(e["ev"] == "start" for e in events), tokens, sum(e["cost_usd"] for e in ends)


def test_the_call_budget_stops_new_calls_and_keeps_the_answers(tmp_path: Path):
    ledger = Ledger(tmp_path / "trace.jsonl", Budget(max_calls=3))
    r = runner(FakeBackend(lambda req: f"answer to {req.user}"), ledger)
    outcomes = asyncio.run(r.run(text_jobs([f"part {i}" for i in range(5)], tmp_path / "res")))
    assert [o.status for o in outcomes] == ["ok", "ok", "ok", "budget"]  # then none starts
    assert r.stopped == "the call budget of 3 is spent"
    assert (tmp_path / "res" / "c2.md").read_text() == "answer to part 2"
    assert not (tmp_path / "res" / "c3.md").exists()
    record = json.loads((tmp_path / "res" / "c3.json").read_text())
    assert record["status"] == "budget" and record["calls"] == 0
    assert not (tmp_path / "res" / "c4.json").exists()
    assert spent(tmp_path / "trace.jsonl")[0] == 3


@pytest.mark.parametrize(
    ("budget", "why"),
    [(Budget(max_tokens=700), "token budget of 700"), (Budget(max_cost=0.0002), "cost budget")],
)
def test_token_and_dollar_budgets_are_never_crossed(tmp_path: Path, budget: Budget, why: str):
    path = tmp_path / "trace.jsonl"
    r = runner(FakeBackend(lambda req: "x" * 200), Ledger(path, budget), concurrency=3)
    outcomes = asyncio.run(r.run(text_jobs(["y" * 400] * 20)))
    answered = sum(o.status == "ok" for o in outcomes)
    assert 0 < answered < 20 and r.stopped and why in r.stopped
    _, tokens, dollars = spent(path)
    assert tokens <= (budget.max_tokens or tokens) and dollars <= (budget.max_cost or dollars)


def test_a_cost_budget_refuses_a_model_without_a_price(tmp_path: Path):
    r = runner(FakeBackend(), Ledger(None, Budget(max_cost=1.0)), model="my-local-model")
    with pytest.raises(RlmError, match="--max-cost needs a price"):
        asyncio.run(r.run(text_jobs(["a"])))


def test_runners_sharing_one_ledger_file_share_its_call_budget(tmp_path: Path):
    """Two handles on one file with one run id: two processes of one tree, as the children are."""
    path = tmp_path / "trace.jsonl"
    root = Ledger(path, Budget(max_calls=7))
    child = Ledger(path, Budget(max_calls=7), run=root.run)

    async def both() -> list[int]:
        runs = [
            runner(FakeBackend(), ledger, concurrency=3).run(text_jobs(["t"] * 6))
            for ledger in (root, child)
        ]
        return [sum(o.status == "ok" for o in got) for got in await asyncio.gather(*runs)]

    answered = asyncio.run(both())
    assert sum(answered) == 7 and min(answered) >= 1
    assert spent(path)[0] == 7


def test_a_call_that_fits_only_after_those_in_flight_settle_waits_for_them(tmp_path: Path):
    """Each call is booked at ~1450 tokens (400 bytes of input, up to 1000 out), and spends
    ~100: with a budget of 1800 the second call waits for the first to end instead of
    starting beside it."""
    flying, most = 0, 0

    async def answer(request) -> str:
        nonlocal flying, most
        flying += 1
        most = max(most, flying)
        await asyncio.sleep(0.05)
        flying -= 1
        return "short"

    def run(budget: Budget) -> list[str]:
        nonlocal most
        most = 0
        ledger = Ledger(tmp_path / "t.jsonl", budget)
        r = runner(FakeBackend(answer), ledger, concurrency=2, max_tokens=1000)
        return [o.status for o in asyncio.run(r.run(text_jobs(["a" * 400] * 2)))]

    assert run(Budget()) == ["ok", "ok"] and most == 2
    assert run(Budget(max_tokens=1800)) == ["ok", "ok"] and most == 1


def test_a_killed_process_calls_stop_counting(tmp_path: Path):
    """A start with no end from a process that no longer exists holds no budget."""
    path = tmp_path / "trace.jsonl"
    ledger = Ledger(path, Budget(max_tokens=2000))
    dead = {"ev": "start", "call": "gone", "run": ledger.run, "pid": 2**22 + 12345,
            "t": 0, "est_tokens": 1900, "est_cost": 0.0}  # fmt: skip
    path.write_text(json.dumps(dead) + "\n")
    r = runner(FakeBackend(), ledger)
    assert [o.status for o in asyncio.run(r.run(text_jobs(["a"])))] == ["ok"]
