"""Answers cut at the output limit are never passed off as whole: retried, redone, reported."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import rlm
from fake_api import FakeAPI

MAP = "you see exactly one part"
REDUCE = "combining the answers"


def needles(root: Path, counts: dict[str, int]) -> Path:
    """Files whose lines all hold 'needle': FIND:needle answers grow with the line count."""
    root.mkdir(parents=True, exist_ok=True)
    for name, n in counts.items():
        (root / name).write_text("".join(f"needle number {i} here\n" for i in range(1, n + 1)))
    return root


def test_a_cut_map_answer_is_retried_with_room_then_reported_as_a_failure(
    fake_api: FakeAPI, tmp_path: Path
):
    # a's answer fits; c's (~100 tokens) is cut at 64 and fits in 128; b's (~720) never fits.
    root = needles(tmp_path / "src", {"a.txt": 1, "b.txt": 60, "c.txt": 8})
    ws = tmp_path / "ws"
    args = ["run", "FIND:needle", ".", "-w", str(ws), "--per-file", "--max-output", "64"]
    r = rlm(*args, "--json", cwd=root)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    [failed] = out["map"]["failed"]
    assert failed["sources"] == "b.txt:1-60"
    assert "cut at the output limit twice (64 then 128 tokens)" in failed["error"]
    assert "b.txt:1-60" in r.stderr and "cut at the output limit" in r.stderr
    # progress counts the retries against their own total, never "5/3 calls"
    assert "map: 3/3 calls done" in r.stderr
    assert "map: cut answers asked again: 2/2 calls done" in r.stderr
    maps = fake_api.calls(MAP)
    assert sorted(c["max_tokens"] for c in maps) == [64, 64, 64, 128, 128]
    records = {json.loads(p.read_text())["sources"]: p for p in (ws / "results").glob("*.json")}
    c_answer = records["c.txt:1-8"].with_suffix(".md").read_text()
    assert "c.txt:8: needle number 8 here" in c_answer  # the retry finished it
    assert not records["b.txt:1-60"].with_suffix(".md").exists()  # no cut text kept as answer

    again = rlm(*args, cwd=root)
    assert again.returncode == 3
    assert len(fake_api.calls(MAP)) == 7  # only b asked again (cut, then cut with room)
    partial = rlm("reduce", "FIND:needle", "-w", str(ws), "--partial", "--max-output", "400")
    assert partial.returncode == 3, partial.stderr
    note = partial.stdout.split("---")[-1]
    assert "b.txt:1-60" in note and "cut at the output limit twice" in note
    # the cut answer's verified quotes are carried, marked, though the part stays uncovered
    cut = 'b.txt:1: "needle number 1 here" (from an answer cut at --max-output)'
    assert cut in partial.stdout
    final = json.loads((ws / "final.evidence.json").read_text())
    assert any(f["path"] == "b.txt" and f.get("cut") for f in final["findings"])
    assert all(not f.get("cut") for f in final["findings"] if f["path"] != "b.txt")


def test_a_cut_synthesis_is_redone_over_smaller_groups_never_printed(
    fake_api: FakeAPI, tmp_path: Path
):
    # Each map answer lists 3 lines (fits in 100 tokens); FIND's synthesis lists them all,
    # so combining 4 answers is cut, each half of 2 fits, and their final combination is
    # cut again: no smaller group exists, so the run stops instead of printing a cut answer.
    root = needles(tmp_path / "src", {f"f{i}.txt": 3 for i in range(4)})
    ws = tmp_path / "ws"
    args = ["run", "FIND:needle", ".", "-w", str(ws), "--per-file", "--max-output", "100"]
    r = rlm(*args, "--reduce-tokens", "5000", cwd=root)
    assert r.returncode == 3, r.stderr
    # no cut synthesis printed: a note by code, then the evidence checked in the map answers
    assert r.stdout.startswith("No synthesized answer: a synthesis answer was cut at --max-output")
    assert "fake answer" not in r.stdout and 'f3.txt:3: "needle number 3 here"' in r.stdout
    assert 'f3.txt:2: "needle number 2 here"' in r.stdout  # each quote at its own line
    assert "cut at --max-output 100 tokens even over fewer answers" in r.stderr
    reduces = fake_api.calls(REDUCE)
    assert [c["user"].count("needle number 1 here") for c in reduces] == [4, 2, 2, 4]
    assert sorted(p.name for p in (ws / "reduce" / "L1").glob("*.json")) == [
        "g0001.json",
        "g0001a.json",
        "g0001b.json",
    ]
    assert (ws / "final.md").read_text() == r.stdout


def test_a_cut_answers_cost_stays_unknown_without_a_price(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "llama-server"  # any model name, no price
    root = needles(tmp_path / "src", {"b.txt": 60})
    args = ["run", "FIND:needle", ".", "-w", "ws", "-m", "local-model", "--max-output", "64"]
    r = rlm(*args, cwd=root)
    assert r.returncode == 3 and "cut at the output limit twice" in r.stderr
    assert "cost unknown" in r.stderr and "$0.0000" not in r.stderr
    [record] = [json.loads(p.read_text()) for p in (root / "ws" / "results").glob("*.json")]
    assert record["cost_usd"] is None and record["calls"] == 2
