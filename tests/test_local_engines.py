"""Local and self-hosted engines (llama-server, Ollama, vLLM) as the fake plays them.

Each engine words an over-long prompt its own way, reports (or not) its window and slots,
and has no price: rlm-sub must split on every wording, fit its defaults to the engine,
say "unknown" for the cost, refuse a dollar cap up front, and not paste two halves of a
query together. tests/engine/ runs the same against a real llama-server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI

from rlm_cli.calls.windows import reducible_output

LOCAL = "local-model"  # a model name no price table knows


def haystack(path: Path, lines: int, needle_at: int) -> Path:
    """A file of plain lines with one needle line."""
    body = [f"line {i} plain words here" for i in range(1, lines + 1)]
    body[needle_at - 1] = f"line {needle_at} has the needle"
    path.write_text("\n".join(body) + "\n")
    return path


def results(ws: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ws / "results").glob("*.json"))]


@pytest.mark.parametrize("engine", ["llama-server", "ollama", "vllm"])
def test_each_engines_overflow_wording_splits_the_chunk(
    fake_api: FakeAPI, tmp_path: Path, engine: str
):
    fake_api.config.engine = engine
    fake_api.config.context_window = 1500
    path = haystack(tmp_path / "big.txt", 600, 555)
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", str(path), "-w", str(ws), "-m", LOCAL, "--chunk-tokens", "6000")
    assert r.returncode == 0, r.stderr
    [rec] = results(ws)
    assert rec["status"] == "ok" and rec["parts"] >= 4
    assert "big.txt:555: line 555 has the needle" in r.stdout
    rejected = [c for c in fake_api.calls() if c["status"] == 400]
    assert rejected and all(c["input_tokens"] > 1500 for c in rejected)


def test_a_llama_server_sets_chunk_size_concurrency_and_output_limit(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.config.engine = "llama-server"
    fake_api.config.context_window = 4096
    fake_api.config.slots = 1
    fake_api.config.latency = 0.05
    path = haystack(tmp_path / "big.txt", 3000, 2500)
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", str(path), "-w", str(ws), "-m", LOCAL)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((ws / "manifest.json").read_text())
    output = reducible_output(4096)  # the most a synthesis within the window can combine
    assert manifest["settings"]["chunk_tokens"] == (4096 - output) // 2  # window less answer
    assert fake_api.snapshot()["max_in_flight"] == 1  # one slot: one request at a time
    calls = fake_api.calls()
    assert len(calls) > 3 and {c["max_tokens"] for c in calls} == {output}
    assert all(c["stream"] for c in calls)  # streamed, so the trace has a first-token time
    assert all(c["status"] == 200 for c in calls)  # nothing overflowed: the chunks fit
    ends = [json.loads(line) for line in (ws / "trace.jsonl").read_text().splitlines()]
    answered = [e for e in ends if e.get("status") == "ok" and "first_token_s" in e]
    assert len(answered) == len(calls) and all("queued_s" in e for e in answered)
    trace = rlm("trace", "-w", str(ws))
    assert "first token" in trace.stdout, trace.stdout


def test_flags_still_win_over_what_the_engine_suggests(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "ollama"
    fake_api.config.latency = 0.1
    for i in range(8):
        (tmp_path / f"f{i}.txt").write_text(f"file {i}\n")
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", str(tmp_path), "-w", str(ws), "-m", LOCAL, "--per-file")
    assert r.returncode == 0, r.stderr
    assert fake_api.snapshot()["max_in_flight"] == 1
    assert {c["max_tokens"] for c in fake_api.calls()} == {1024}  # Ollama states no window
    r = rlm("map", "Zebrafy", "-w", str(ws), "-m", LOCAL, "-j", "4", "--max-output", "300")
    assert r.returncode == 0, r.stderr
    assert 1 < fake_api.snapshot()["max_in_flight"] <= 4
    assert {c["max_tokens"] for c in fake_api.calls("Zebrafy")} == {300}


def test_an_unknown_price_reads_unknown_and_price_sets_one(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "vllm"
    path = haystack(tmp_path / "in.txt", 200, 7)
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", str(path), "-w", str(ws), "-m", LOCAL, "--json",
            "--chunk-tokens", "500")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reduce"]["calls"] >= 1
    assert out["map"]["cost_usd"] is None and out["reduce"]["cost_usd"] is None
    assert "cost unknown" in r.stderr and "$0.0000" not in r.stderr
    status = json.loads(rlm("status", "-w", str(ws), "--json").stdout)
    assert status["calls"]["cost_usd"] is None
    assert "unknown" in rlm("status", "-w", str(ws)).stdout
    trace = rlm("trace", "-w", str(ws)).stdout
    assert "unknown" in trace and "$0.0000" not in trace
    report = rlm("report", "-w", str(ws), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "unknown" in (tmp_path / "r.html").read_text()

    ws2 = tmp_path / "ws2"
    r = rlm("run", "Summarise", str(path), "-w", str(ws2), "-m", LOCAL, "--json",
            "--chunk-tokens", "500", "--price", "1000/2000")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    usage = out["map"]["usage"]
    inputs = sum(v for k, v in usage.items() if k != "output_tokens")  # cache at input price
    expected = (inputs * 1000 + usage["output_tokens"] * 2000) / 1e6
    assert out["map"]["cost_usd"] == pytest.approx(expected, abs=1e-5) and expected > 0


def test_a_dollar_cap_without_a_price_is_refused_before_any_work(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "vllm"
    path = haystack(tmp_path / "in.txt", 50, 7)
    ws = tmp_path / "ws"
    for command in (["run", "FIND:needle", str(path), "-w", str(ws)],
                    ["query", "FIND:needle", str(path)]):  # fmt: skip
        r = rlm(*command, "-m", LOCAL, "--max-cost", "1")
        assert r.returncode == 1
        assert "--max-cost needs a price" in r.stderr and "--price IN/OUT" in r.stderr
    assert not ws.exists()  # refused before staging
    assert fake_api.calls() == []
    r = rlm("run", "FIND:needle", str(path), "-w", str(ws), "-m", LOCAL, "--max-cost", "1",
            "--price", "0/0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert rlm("run", "x", str(path), "--price", "cheap").stderr.count("is not IN/OUT") == 1


def test_query_over_the_window_is_refused_with_a_pointer_to_run(fake_api: FakeAPI, tmp_path: Path):
    path = haystack(tmp_path / "big.txt", 600, 555)
    fake_api.config.context_window = 1500
    fake_api.config.engine = "ollama"  # an engine that states no window
    r = rlm("query", "FIND:needle", str(path), "-m", LOCAL)
    assert r.returncode == 1, r.stdout
    assert "rlm-sub run" in r.stderr and "does not fit" in r.stderr
    assert len(fake_api.calls()) == 1  # one rejected call; never split into pasted halves
    assert r.stdout == ""

    fake_api.config.engine = "llama-server"  # one that does: refused before any call
    r = rlm("query", "FIND:needle", str(path), "-m", LOCAL)
    assert r.returncode == 1 and "rlm-sub run" in r.stderr and "window of 1,500" in r.stderr
    assert len(fake_api.calls()) == 1
    assert "POST /v1/messages/count_tokens" in fake_api.routes  # the engine's own count
    small = haystack(tmp_path / "small.txt", 20, 5)
    r = rlm("query", "FIND:needle", str(small), "-m", LOCAL)
    assert r.returncode == 0 and "small.txt:5: line 5 has the needle" in r.stdout


def test_solve_says_early_when_the_engine_offers_no_tool_use(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("needle\n")
    fake_api.config.engine = "llama-server"
    fake_api.config.tools = False
    r = rlm("solve", "FIND:needle", "a.txt", "-m", LOCAL, cwd=tmp_path)
    assert r.returncode == 1
    assert "no tool calls" in r.stderr and "rlm-sub run" in r.stderr
    assert fake_api.calls() == []  # said before the first call
    fake_api.config.tools = True  # tools taken, but the model answers in plain text
    r = rlm("solve", "FIND:needle", "a.txt", "-m", LOCAL, cwd=tmp_path)
    assert r.returncode == 3
    assert "without calling a tool" in r.stderr and "rlm-sub run" in r.stderr
    assert len(fake_api.calls()) == 2  # said after two turns, not after --max-turns


def test_the_engines_refusal_of_tools_is_fatal_and_explained(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("needle\n")
    fake_api.config.engine = "llama-server"
    fake_api.config.tools = False
    fake_api.config.caps = False  # /props cannot tell: the call's 500 must not be retried
    r = rlm("solve", "FIND:needle", "a.txt", "-m", LOCAL, cwd=tmp_path)
    assert r.returncode == 1
    assert "requires --jinja" in r.stderr and "rlm-sub run" in r.stderr
    assert len(fake_api.calls()) == 1


def test_an_engine_still_loading_its_model_is_asked_again(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "llama-server"
    fake_api.config.context_window = 4096
    fake_api.config.loading = 2  # as llama-server answers right after start-up
    (tmp_path / "a.txt").write_text("one needle here\n")
    r = rlm("query", "FIND:needle", "a.txt", "-m", LOCAL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert fake_api.routes.count("GET /v1/models") == 3
    [call] = fake_api.calls()
    assert call["max_tokens"] == reducible_output(4096) and call["stream"]  # engine defaults
