"""--max-cost and --max-tokens hold for every backend: at most one in-flight call's spend above.

The Anthropic backend books a call at an upper bound of its input tokens (a token never
covers less than a byte), so dense input cannot spend past the cap. A claude -p session is
booked from what such sessions cost in this tree (a conservative default until one ended),
and told its booking as --max-budget-usd; a session stopped there still counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI
from test_recursion import claude_calls, events, fake_claude

__all__ = ["fake_claude"]  # a fixture, used by name


def dense_tree(tmp_path: Path, files: int, size: int) -> Path:
    """Files of punctuation: one token per byte for the fake, a third of the usual guess."""
    src = tmp_path / "src"
    src.mkdir()
    for n in range(files):
        (src / f"p{n}.txt").write_text(("{}[]();,.!?" * (size // 11))[:size] + "\n")
    return src


def spent(trace: Path) -> tuple[float, int, float]:
    """Dollars, tokens, and the most one call cost, over the ledger's end events."""
    ends = events(trace, "end")
    costs = [e.get("cost_usd") or 0.0 for e in ends]
    tokens = sum(sum((e.get("usage") or {}).values()) for e in ends)
    return sum(costs), tokens, max(costs, default=0.0)


@pytest.mark.parametrize("cap", [["--max-cost", "0.1"], ["--max-tokens", "9000"]])
def test_dense_input_cannot_spend_past_the_cap(fake_api: FakeAPI, tmp_path: Path, cap: list[str]):
    dense_tree(tmp_path, 12, 3000)
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", "src", "-w", str(ws), "--per-file", "-j", "8", "--model",
            "claude-opus-4-1", "--max-output", "100", *cap, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4, r.stderr  # the cap stopped the run
    dollars, tokens, _ = spent(ws / "trace.jsonl")
    assert len(events(ws / "trace.jsonl", "end")) >= 1
    if cap[0] == "--max-cost":
        assert 0 < dollars <= 0.1, dollars
    else:
        assert 0 < tokens <= 9000, tokens


def test_claude_code_sessions_are_booked_from_what_they_cost(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_CLAUDE_COST", "0.13")  # a multi-turn session, as measured
    for n in range(10):
        (tmp_path / f"f{n}.txt").write_text(f"file {n}\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", *[f"f{n}.txt" for n in range(10)], "-w", str(ws), "--per-file",
               cwd=tmp_path).returncode == 0  # fmt: skip
    r = rlm("map", "Q", "-w", str(ws), "-j", "8", "--backend", "claude-code", "--max-cost",
            "0.6", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4, r.stderr
    dollars, _, _ = spent(ws / "trace.jsonl")
    assert 0.6 - 0.2 < dollars <= 0.6, dollars  # most of the cap used, never past it
    budgets = [float(c["argv"][c["argv"].index("--max-budget-usd") + 1]) for c in
               claude_calls(fake_claude)]  # fmt: skip
    assert budgets[:2] == [0.25, 0.25]  # the conservative default, before any session ended
    assert budgets[-1] == pytest.approx(0.195)  # then 1.5x the most a session cost


def test_a_session_dearer_than_its_booking_is_stopped_and_still_counted(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_CLAUDE_COST", "0.4")  # dearer than the default booking
    for n in range(6):
        (tmp_path / f"f{n}.txt").write_text(f"file {n}\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", *[f"f{n}.txt" for n in range(6)], "-w", str(ws), "--per-file",
               cwd=tmp_path).returncode == 0  # fmt: skip
    r = rlm("map", "Q", "-w", str(ws), "-j", "8", "--backend", "claude-code", "--max-cost",
            "0.6", cwd=tmp_path)  # fmt: skip
    assert r.returncode in (3, 4), r.stderr
    dollars, _, most = spent(ws / "trace.jsonl")
    assert most == pytest.approx(0.4)
    # Two sessions were booked at 0.25 each; both ran up 0.4 and stopped. The rule: never
    # more than one in-flight call's real spend above the cap.
    assert dollars <= 0.6 + most, dollars
    assert len(claude_calls(fake_claude)) == 2
