"""What CI leans on: --json results with exit codes, shards that split one workspace, a small trace."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from conftest import rlm
from fake_api import FakeAPI


def files(root: Path, count: int, body: str = "alpha beta\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (root / f"f{n:02d}.txt").write_text(f"file {n}\n{body}")
    return root


def chunk_ids(calls: list[dict]) -> list[str]:
    return [m[1] for c in calls if (m := re.search(r'<part id="(c\d+)">', c["user"]))]


def test_shards_cover_every_chunk_exactly_once_and_reduce_takes_the_union(
    fake_api: FakeAPI, tmp_path: Path
):
    files(tmp_path / "src", 10, "apple apple\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", "src", "-w", str(ws), "--per-file", cwd=tmp_path).returncode == 0
    shards = []
    for i in (1, 2, 3):
        r = rlm("map", "COUNT:apple", "-w", str(ws), "--shard", f"{i}/3", "--json")
        assert r.returncode == 0, r.stderr
        shards.append(json.loads(r.stdout))
    assert [s["chunks"] for s in shards] == [4, 3, 3]
    called = Counter(chunk_ids(fake_api.calls()))
    assert sorted(called) == [f"c{n:04d}" for n in range(1, 11)] and set(called.values()) == {1}
    r = rlm("reduce", "COUNT:apple", "-w", str(ws))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n---\n")[0].strip() == "COUNT apple = 20"
    bad = rlm("map", "COUNT:apple", "-w", str(ws), "--shard", "4/3")
    assert bad.returncode == 2 and "between 1 and N" in bad.stderr


def test_run_json_on_success_failure_and_budget(fake_api: FakeAPI, tmp_path: Path):
    files(tmp_path / "src", 4)
    r = rlm("run", "Summarise", "src", "-w", "ws", "--per-file", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["exit_code"] == 0 and out["exit_meaning"] == "success"
    assert out["answer"].startswith("fake answer:") and out["final"].endswith("final.md")
    assert out["map"]["answered"] == 4 and out["reduce"]["calls"] == 1
    assert out["map"]["cost_usd"] > 0 and out["map"]["usage"]["output_tokens"] > 0

    (tmp_path / "src" / "broken.txt").write_text("FAIL:500\n")
    r = rlm("run", "Summarise", "src", "-w", "ws", "--per-file", "--json", "--retries", "1",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 3
    out = json.loads(r.stdout)
    assert out["exit_code"] == 3 and out["answer"] is None and "--partial" in out["error"]
    [failed] = out["map"]["failed"]
    assert failed["sources"].startswith("src/broken.txt") and "500" in failed["error"]

    files(tmp_path / "src2", 4)
    r = rlm("run", "Other task", "src2", "-w", "ws2", "--per-file", "--json", "--max-calls", "2",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4
    out = json.loads(r.stdout)
    assert out["exit_meaning"].startswith("budget reached") and out["map"]["answered"] == 2


def test_reduce_and_status_json(fake_api: FakeAPI, tmp_path: Path):
    files(tmp_path / "src", 3)
    ws = tmp_path / "ws"
    assert rlm("run", "Summarise", "src", "-w", str(ws), "--per-file", cwd=tmp_path).returncode == 0
    r = rlm("reduce", "Summarise", "-w", str(ws), "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["answers"] == 3 and out["calls"] == 0  # all cached
    status = json.loads(rlm("status", "-w", str(ws), "--json").stdout)
    assert status["results"] == {"ok": 3} and status["final"] is True
    assert status["calls"]["total"] == 4 and status["calls"]["cost_usd"] > 0


def test_the_trace_stays_small_however_large_the_input(fake_api: FakeAPI, tmp_path: Path):
    root = tmp_path / "big"
    root.mkdir()
    line = "a fairly long line of source text that sits in a big input file, SECRET-ish\n"
    for n in range(40):
        (root / f"f{n}.txt").write_text(line * 2000)  # 40 files of 150 kB: 6 MB in all
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", str(root), "-w", str(ws), "--chunk-tokens", "20000", "-j", "16")
    assert r.returncode == 0, r.stderr
    calls = len(fake_api.calls())
    trace = (ws / "trace.jsonl").read_text()
    assert calls > 100
    assert len(trace) < 800 * calls  # a few hundred bytes per call, whatever the chunk size
    assert "SECRET-ish" not in trace and "sk-ant-test" not in trace
