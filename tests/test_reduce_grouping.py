"""Reduce, in process: answers grouped within the budget, level by level, to one answer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from inprocess import MODEL

from rlm_cli import prompts
from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.runner import Runner, Settings
from rlm_cli.errors import RlmError
from rlm_cli.inputs.chunking import estimate_tokens
from rlm_cli.steps.plan import _reduce_calls
from rlm_cli.steps.reduce import Item, group_items, render_item, synthesize
from rlm_cli.workspace import Workspace


def items(n: int, size: int = 300) -> list[Item]:
    return [Item(f"c{i:03d} (a.py:{i}-{i})", f"finding {i} " + "x" * size) for i in range(n)]


def covers(request_user: str) -> list[str]:
    """The labels of the answers a synthesis request combines."""
    return re.findall(r'<answer source="([^"]+)">', request_user)


@pytest.mark.parametrize(("n", "budget"), [(1, 500), (7, 500), (40, 1000), (40, 100_000)])
def test_groups_are_consecutive_cover_everything_and_fit_the_budget(n: int, budget: int):
    given = items(n)
    groups = group_items(given, budget)
    assert [i for g in groups for i in g] == given
    for g in groups:
        size = sum(estimate_tokens(render_item(i)) + 2 for i in g)
        assert len(g) == 1 or size <= budget
    if n > 1 and budget >= 100_000:
        assert len(groups) == 1


def synth(tmp_path: Path, given: list[Item], budget: int, backend: FakeBackend):
    runner = Runner(backend, Settings(MODEL, 200))
    ws = Workspace(tmp_path / "ws")
    return asyncio.run(synthesize(runner, ws, "the task", given, budget, len(given)))


def test_levels_shrink_to_one_answer_and_each_request_holds_its_group(tmp_path: Path):
    calls = iter(range(10_000))
    backend = FakeBackend(lambda r: f"synthesis {next(calls)}")
    text, summary = synth(tmp_path, items(30), 600, backend)
    groups = [level["groups"] for level in summary.levels]
    assert groups == sorted(groups, reverse=True) and groups[-1] == 1 and len(groups) >= 2
    assert text == f"synthesis {len(backend.requests) - 1}"  # the last call's answer
    assert sum(level["calls"] for level in summary.levels) == len(backend.requests)
    first = [label for r in backend.requests[: groups[0]] for label in covers(r.user)]
    assert [label.split(" ")[0] for label in first] == [f"c{i:03d}" for i in range(30)]
    assert all(estimate_tokens(r.user) <= 600 + 50 for r in backend.requests)
    assert prompts.REDUCE_FINAL in backend.requests[-1].system
    assert prompts.REDUCE_INTERMEDIATE in backend.requests[0].system
    assert len(summary.levels) == len(_reduce_calls(30, 80, 600))  # plan agrees on the levels


def test_answers_that_found_nothing_are_dropped_by_code(tmp_path: Path):
    given = items(4)
    given[1].text = given[3].text = prompts.NOTHING_RELEVANT
    backend = FakeBackend(lambda r: "combined")
    text, summary = synth(tmp_path, given, 100_000, backend)
    assert text == "combined" and summary.dropped_irrelevant == 2
    assert [c.split(" ")[0] for c in covers(backend.requests[0].user)] == ["c000", "c002"]
    assert "2 of the 4 parts" in backend.requests[0].user


def test_when_every_answer_found_nothing_no_call_is_made(tmp_path: Path):
    given = [Item(f"c{i}", prompts.NOTHING_RELEVANT) for i in range(3)]
    backend = FakeBackend()
    text, _ = synth(tmp_path, given, 1000, backend)
    assert "No part of the input bears on the task" in text and not backend.requests


def test_answers_too_big_to_pair_stop_with_the_fix(tmp_path: Path):
    with pytest.raises(RlmError, match="raise --reduce-tokens"):
        synth(tmp_path, items(3, size=4000), 500, FakeBackend())


def test_a_second_synthesis_of_the_same_answers_is_cached(tmp_path: Path):
    backend = FakeBackend(lambda r: "same")
    synth(tmp_path, items(12), 600, backend)
    made = len(backend.requests)
    text, summary = synth(tmp_path, items(12), 600, backend)
    assert made > 1 and len(backend.requests) == made and text == "same"
    assert sum(level["calls"] for level in summary.levels) == 0
