"""Limits a fan-out meets before and after its calls: a reduce that cannot combine is refused
before any call is paid for (by run and by plan alike), and with --batch an answer cut at
--max-output is asked again with room, then reported like a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI

MAP = "you see exactly one part"
MESSAGES = "POST /v1/messages"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLM_BATCH_POLL", "0.02")


def needles(root: Path, counts: dict[str, int]) -> Path:
    """Files whose lines all hold 'needle': FIND:needle answers grow with the line count."""
    root.mkdir(parents=True, exist_ok=True)
    for name, n in counts.items():
        (root / name).write_text("".join(f"needle number {i} here\n" for i in range(1, n + 1)))
    return root


def paid_routes(api: FakeAPI) -> list[str]:
    """Requests that a real API would bill: Messages calls and batch submissions."""
    return [r for r in api.api_routes() if r.startswith(MESSAGES)]


# (extra options, the fix the refusal must name)
CANNOT_REDUCE = [
    (
        ["--reduce-tokens", "1000", "--max-output", "400"],
        "raise --reduce-tokens to at least 1,280 or lower --max-output",
    ),
    (
        ["--max-output", "90000"],  # half the 200K window less the answer's room: too small
        "lower --max-output (the window of",
    ),
]


@pytest.mark.parametrize(("options", "fix"), CANNOT_REDUCE)
def test_run_refuses_a_reduce_that_cannot_combine_before_any_call(
    fake_api: FakeAPI, tmp_path: Path, options: list[str], fix: str
):
    root = needles(tmp_path / "src", {f"f{i}.txt": 3 for i in range(4)})
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", ".", "-w", str(ws), "--per-file", *options, cwd=root)
    assert r.returncode == 1, r.stderr
    assert "cannot hold two answers" in r.stderr and fix in r.stderr
    assert "Traceback" not in r.stderr
    assert fake_api.calls() == [] and paid_routes(fake_api) == []  # nothing was paid for
    assert not (ws / "results").exists()

    # plan predicts the same refusal, with the same words, before staging anything
    p = rlm("plan", "FIND:needle", ".", "-w", str(ws), "--per-file", *options, cwd=root)
    assert p.returncode == r.returncode
    assert fix in p.stderr and p.stdout == ""
    assert fake_api.calls() == []

    # and with the option changed as it says, plan and run both go ahead
    ok = ["--max-output", "400"]
    p = rlm("plan", "FIND:needle", ".", "-w", str(ws), "--per-file", *ok, "--json", cwd=root)
    assert p.returncode == 0, p.stderr
    r = rlm("run", "FIND:needle", ".", "-w", str(ws), "--per-file", *ok, cwd=root)
    assert r.returncode == 0, r.stderr
    assert "f3.txt:3: needle number 3 here" in r.stdout


def test_a_batch_answer_cut_at_max_output_is_retried_with_room_then_reported(
    fake_api: FakeAPI, tmp_path: Path
):
    # a's answer fits; c's (~100 tokens) is cut at 64 and fits in 128; b's (~720) never fits.
    root = needles(tmp_path / "src", {"a.txt": 1, "b.txt": 60, "c.txt": 8})
    ws = tmp_path / "ws"
    args = ["run", "FIND:needle", ".", "-w", str(ws), "--per-file", "--max-output", "64"]
    r = rlm(*args, "--batch", "--json", cwd=root)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert out["exit_code"] == 3
    [failed] = out["map"]["failed"]
    assert failed["sources"] == "b.txt:1-60"
    assert "cut at the output limit twice (64 then 128 tokens)" in failed["error"]
    assert "b.txt:1-60" in r.stderr and "cut at the output limit" in r.stderr

    # every chunk went through the batch at --max-output; the two cut ones were asked
    # again (live, at once) with twice the room, and nothing else was
    batched = fake_api.batch_requests()
    assert sorted(b["params"]["max_tokens"] for b in batched) == [64, 64, 64]
    assert sorted(c["max_tokens"] for c in fake_api.calls(MAP)) == [128, 128]
    records = {json.loads(p.read_text())["sources"]: p for p in (ws / "results").glob("*.json")}
    c_record = json.loads(records["c.txt:1-8"].read_text())
    assert c_record["status"] == "ok" and not c_record["truncated"]
    assert "c.txt:8: needle number 8 here" in records["c.txt:1-8"].with_suffix(".md").read_text()
    b_record = json.loads(records["b.txt:1-60"].read_text())
    assert b_record["status"] == "failed"
    assert not records["b.txt:1-60"].with_suffix(".md").exists()  # no cut text kept as answer
    assert out["map"]["answered"] == 2 and out["map"]["chunks"] == 3
