"""One context window: the engine's where it reports one, the model table's otherwise; the
synthesis budget follows it, and a run that could not combine its answers stops before any call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI

from rlm_cli.calls.windows import DEFAULT_WINDOW, context_window, reduce_budget, reducible_output
from rlm_cli.errors import RlmError

LOCAL = "local-model"
REDUCE = "combining the answers"


def needles(path: Path, lines: int, every: int) -> Path:
    body = [
        f"line {i} has the needle" if i % every == 0 else f"line {i} plain words here"
        for i in range(1, lines + 1)
    ]
    path.write_text("\n".join(body) + "\n")
    return path


def test_without_a_reported_window_it_is_the_model_tables(fake_api: FakeAPI):
    assert context_window(LOCAL) == DEFAULT_WINDOW  # the fake plays Anthropic's API here


def test_the_window_is_the_engines_where_it_reports_one(fake_api: FakeAPI):
    fake_api.config.engine = "llama-server"
    fake_api.config.context_window = 3000
    assert context_window(LOCAL) == 3000


SUMMARY = ["run", "Summarise the log", "log.txt", "--chunk-tokens", "200", "--json"]


def test_with_a_200k_window_all_answers_go_to_one_synthesis(fake_api: FakeAPI, tmp_path: Path):
    needles(tmp_path / "log.txt", 860, 36)
    r = rlm(*SUMMARY, "-w", "ws", cwd=tmp_path)  # Anthropic's API (as the fake plays it)
    out = json.loads(r.stdout)
    assert out["map"]["called"] > 40 and len(out["reduce"]["levels"]) == 1


def test_runs_synthesis_budget_follows_a_small_engine_window(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.engine = "llama-server"
    fake_api.config.context_window = 4096
    needles(tmp_path / "log.txt", 860, 36)
    r = rlm(*SUMMARY, "-w", "ws", "-m", LOCAL, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # the same answers no longer fit one request of half the 4096 window less the answer
    assert out["map"]["called"] > 40 and len(out["reduce"]["levels"]) >= 2, out["reduce"]
    reduces = [c for c in fake_api.calls(REDUCE) if c["status"] == 200]
    assert reduces and all(c["input_tokens"] + c["max_tokens"] <= 4096 for c in reduces)


def test_a_run_that_cannot_reduce_in_the_engines_window_is_refused_before_any_call(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.config.engine = "llama-server"
    fake_api.config.context_window = 1024
    path = needles(tmp_path / "log.txt", 50, 10)
    r = rlm("run", "FIND:needle", str(path), "-w", str(tmp_path / "ws"), "-m", LOCAL,
            "--max-output", "400")  # fmt: skip
    assert r.returncode != 0
    assert "lower --max-output (the window of local-model is 1,024 tokens)" in r.stderr
    assert fake_api.calls() == []  # only the engine was asked about itself


def test_the_local_output_default_always_leaves_a_synthesis_that_can_combine():
    for window in range(1024, 140_000, 97):
        m = reducible_output(window)
        reduce_budget(LOCAL, m, None, 0, window)  # raises if two answers of m tokens could not fit
        with pytest.raises(RlmError):
            reduce_budget(LOCAL, m + 2, None, 0, window)  # and it is (about) the largest that does
