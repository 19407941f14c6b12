"""The runner writes each result while the next call runs, and still keeps every answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.backends.protocol import CallError, Request
from rlm_cli.calls.runner import Job, Outcome, Runner, Settings, cached
from rlm_cli.errors import RlmError
from rlm_cli.workspace import sha256


async def answer(request: Request) -> str:
    """Answers at once; 'fatal' in the text fails the whole run, as a bad API key does."""
    await asyncio.sleep(0.01)
    if "fatal" in request.user:
        raise CallError("fatal", "authentication failed")
    return f"answer to {request.user}"


def jobs(tmp_path: Path, texts: list[str]) -> list[Job]:
    return [
        Job(
            id=f"c{i}",
            kind="map",
            system="task",
            material=lambda t=t: t,
            render=lambda t: t,
            slot=tmp_path / "results" / f"c{i}",
            key=f"key{i}",
        )
        for i, t in enumerate(texts)
    ]


def test_each_outcome_is_on_disk_when_reported(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_done(outcome: Outcome) -> None:
        slot = outcome.job.slot
        assert slot is not None
        assert slot.with_suffix(".md").read_text() == outcome.text
        assert slot.with_suffix(".json").exists()
        seen.append(outcome.job.id)

    settings = Settings(model="claude-test", max_tokens=10, concurrency=3)
    runner = Runner(FakeBackend(answer), settings, on_done=on_done)
    outcomes = asyncio.run(runner.run(jobs(tmp_path, [f"part {i}" for i in range(10)])))
    assert sorted(o.job.id for o in outcomes) == sorted(seen) == sorted(f"c{i}" for i in range(10))
    assert all(o.status == "ok" for o in outcomes)


def test_a_failed_write_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "results").write_text("a file where the results folder should be")
    settings = Settings(model="claude-test", max_tokens=10, concurrency=2)
    with pytest.raises(OSError):
        asyncio.run(Runner(FakeBackend(answer), settings).run(jobs(tmp_path, ["a", "b", "c", "d"])))


def test_a_fatal_error_keeps_the_answers_already_received(tmp_path: Path) -> None:
    settings = Settings(model="claude-test", max_tokens=10, concurrency=1)
    with pytest.raises(RlmError):
        asyncio.run(Runner(FakeBackend(answer), settings).run(jobs(tmp_path, ["a", "b", "fatal"])))
    assert (tmp_path / "results" / "c0.md").read_text() == "answer to a"
    assert (tmp_path / "results" / "c1.md").read_text() == "answer to b"


def test_an_answer_that_does_not_match_its_records_hash_is_asked_again(tmp_path: Path) -> None:
    # Results are written without fsync: after a power cut an answer file can be empty or
    # torn while its record survives. The record's hash of the answer tells them apart.
    settings = Settings(model="claude-test", max_tokens=10, concurrency=2)
    given = jobs(tmp_path, ["a", "b"])
    asyncio.run(Runner(FakeBackend(answer), settings).run(given))
    assert all(cached(j) is not None for j in given)
    record = json.loads((tmp_path / "results" / "c0.json").read_text())
    assert record["answer_sha256"] == sha256("answer to a")
    (tmp_path / "results" / "c0.md").write_text("")  # torn
    assert cached(given[0]) is None and cached(given[1]) is not None
    backend = FakeBackend(answer)
    asyncio.run(Runner(backend, settings).run([j for j in given if cached(j) is None]))
    assert [r.user for r in backend.requests] == ["a"]
    assert cached(given[0]).text == "answer to a"
