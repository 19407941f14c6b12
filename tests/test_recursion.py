"""Depth limits, tree-wide budgets, and sub-agents as headless Claude Code (a fake `claude`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RLM, rlm
from fake_api import FakeAPI

from rlm_cli.calls.ledger import read_events

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `claude` first on PATH that logs every run; returns the log's path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "claude"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TESTS / "fake_claude.py"}" "$@"\n')
    wrapper.chmod(0o755)
    venv_bin = Path(sys.executable).parent  # where rlm-sub is, for a sub-agent that delegates
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{venv_bin}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "claude-calls.jsonl"
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    # rlm-sub passes a sub-agent only an allow-list of variables; these name the fake's own.
    monkeypatch.setenv(
        "RLM_CLAUDE_ENV", "FAKE_CLAUDE_LOG,FAKE_CLAUDE_MODE,FAKE_CLAUDE_NESTED,FAKE_CLAUDE_COST"
    )
    return log


def claude_calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def events(trace: Path, ev: str) -> list[dict]:
    return [e for e in read_events(trace) if e["ev"] == ev]


def test_claude_code_leaf_gets_the_prompt_on_stdin_and_no_tools(
    fake_claude: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CLAUDECODE", "1")  # as when rlm-sub itself runs inside Claude Code
    (tmp_path / "a.txt").write_text("one\ntwo needle\n")
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", "a.txt", "--backend", "claude-code", "--max-depth", "1",
            "-w", str(ws), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr  # and no ANTHROPIC_API_KEY was needed
    assert "a.txt:2: two needle" in r.stdout
    [call] = claude_calls(fake_claude)
    argv = call["argv"]
    assert argv[:1] == ["-p"] and argv[argv.index("--output-format") + 1] == "json"
    assert "--no-session-persistence" in argv and argv[argv.index("--model") + 1] == "haiku"
    assert argv[argv.index("--tools") + 1] == "" and "--system-prompt-file" in argv
    assert not any("needle" in a for a in argv)  # the material never travels in argv
    assert "2\ttwo needle" in call["stdin"] and "FIND:needle" in call["system"]
    [start] = events(ws / "trace.jsonl", "start")
    assert call["env"]["CLAUDECODE"] is None
    assert call["env"]["RLM_DEPTH"] == "1" and call["env"]["RLM_PARENT"] == start["call"]
    assert call["env"]["RLM_TRACE"] == str((ws / "trace.jsonl").resolve())
    [record] = [json.loads(p.read_text()) for p in (ws / "results").glob("*.json")]
    assert record["cost_usd"] == 0.0125 and record["usage"]["cache_read_input_tokens"] == 7


def test_claude_code_below_the_limit_may_read_and_run_rlm_sub(fake_claude: Path, tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello\n")
    r = rlm("query", "Summarise", "a.txt", "--backend", "claude-code", "-m", "sonnet",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    [call] = claude_calls(fake_claude)
    argv = call["argv"]
    assert argv[argv.index("--model") + 1] == "sonnet"
    assert argv[argv.index("--tools") + 1] == "Read,Grep,Glob,Bash"
    allowed = argv[argv.index("--allowedTools") + 1 : argv.index("--max-turns")]
    assert "Bash(rlm-sub:*)" in allowed and "Read" in allowed
    assert "--append-system-prompt-file" in argv  # keeps Claude Code's own agent prompt
    assert "rlm-sub query" in call["system"] and "depth 1" in call["system"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("exit1", "claude exited 1"),
        ("subtype", "error_max_turns"),
        ("is_error", "claude exited 0"),
        ("malformed", "without a JSON result"),
    ],
)
def test_claude_code_failures_are_recorded_as_failures(
    fake_claude: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
):
    monkeypatch.setenv("FAKE_CLAUDE_MODE", mode)
    (tmp_path / "a.txt").write_text("hello\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", "a.txt", "-w", str(ws), cwd=tmp_path).returncode == 0
    r = rlm("map", "Summarise", "-w", str(ws), "--backend", "claude-code", "--retries", "2")
    assert r.returncode == 3, r.stderr
    [record] = [json.loads(p.read_text()) for p in (ws / "results").glob("*.json")]
    assert record["status"] == "failed" and message in record["error"]
    assert not list((ws / "results").glob("*.md"))
    assert len(claude_calls(fake_claude)) == 1  # not retried: these failures are final
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_sub_agent_delegates_one_level_deeper_and_books_into_the_root_ledger(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "delegate")
    (tmp_path / "a.txt").write_text("x\ny needle\n")
    ws = tmp_path / "ws"
    r = rlm("query", "Find it", "a.txt", "--backend", "claude-code", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "delegated (exit 0)" in r.stdout and "\ty needle" in r.stdout
    # With a workspace, the nested rlm-sub (depth 1) books its call in the root's ledger.
    r = rlm("run", "Find it", "a.txt", "-w", str(ws), "--backend", "claude-code", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    starts = events(ws / "trace.jsonl", "start")
    [sub_agent] = [e for e in starts if e["depth"] == 1]  # the claude -p the root started
    [nested] = [e for e in starts if e["depth"] == 2]  # the call of the rlm-sub it ran
    assert nested["parent"] == sub_agent["call"] and nested["run"] == sub_agent["run"]
    status = json.loads(rlm("status", "-w", str(ws), "--json").stdout)
    assert [d["key"] for d in status["calls"]["by_depth"]] == [1, 2]
    assert {m["key"] for m in status["calls"]["by_model"]} == {"haiku", "claude-haiku-5-5"}


def test_at_the_limit_a_sub_agent_that_tries_to_delegate_is_refused(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "delegate")
    (tmp_path / "a.txt").write_text("y needle\n")
    r = rlm("query", "Find it", "a.txt", "--backend", "claude-code", "--max-depth", "1",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "delegated (exit 5)" in r.stdout and "depth limit reached" in r.stdout
    assert fake_api.calls() == []


@pytest.mark.parametrize(
    "args",
    [["query", "Q", "a.txt"], ["run", "Q", "a.txt", "-w", "ws"]],
)
def test_beyond_the_depth_limit_rlm_sub_fails_at_once(
    fake_api: FakeAPI, tmp_path: Path, args: list[str]
):
    (tmp_path / "a.txt").write_text("hello\n")
    r = rlm(*args, cwd=tmp_path, env={"RLM_DEPTH": "2"})
    assert r.returncode == 5 and "depth limit reached" in r.stderr
    r = rlm(*args, cwd=tmp_path, env={"RLM_DEPTH": "1", "RLM_MAX_DEPTH": "1"})
    assert r.returncode == 5
    assert fake_api.calls() == []
    # A child with no root ledger to read (only the environment its parent gave it): the
    # flag overrides the environment, inside the scope the parent passed on.
    scope = {"RLM_SCOPE": json.dumps({"read": [str(tmp_path)], "write": [str(tmp_path)]})}
    r = rlm(*args, "--max-depth", "3", cwd=tmp_path, env={"RLM_DEPTH": "2", **scope})
    assert r.returncode == 0, r.stderr
    chunked = rlm("chunk", "a.txt", "-w", "w2", cwd=tmp_path, env={"RLM_DEPTH": "9", **scope})
    assert chunked.returncode == 0, chunked.stderr


def test_a_bad_depth_value_is_a_clear_error(tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello\n")
    r = rlm("query", "Q", "a.txt", cwd=tmp_path, env={"RLM_DEPTH": "deep"})
    assert r.returncode == 1 and "RLM_DEPTH must be a whole number" in r.stderr


def root_ledger(trace: Path, run: str, **limits: object) -> None:
    """The limits record a root rlm-sub writes first in its ledger, for its children to read."""
    trace.parent.mkdir(parents=True, exist_ok=True)
    top = str(trace.parent.parent)  # the children's inputs and workspaces are beside the root's
    record = {"ev": "limits", "run": run, "pid": os.getpid(), "t": 0, "max_depth": 2,
              "scope": {"read": [top], "write": [top]}, **limits}  # fmt: skip
    trace.write_text(json.dumps(record) + "\n")


def start_children(tmp_path: Path, count: int, env: dict[str, str], *args: str) -> list[int]:
    """Run `count` map processes at once as children of one root; their exit codes."""
    procs = []
    for w in range(count):
        root = tmp_path / f"src{w}"
        for f in range(8):
            (root / f"f{f}.txt").parent.mkdir(parents=True, exist_ok=True)
            (root / f"f{f}.txt").write_text(f"file {f} of child {w}\n")
        ws = tmp_path / f"ws{w}"
        assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
        procs.append(
            subprocess.Popen(
                [*RLM, "map", "Summarise", "-w", str(ws), "-j", "4", *args],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return [p.wait(timeout=120) for p in procs]


@pytest.mark.slow
def test_a_call_budget_holds_exactly_across_concurrent_children(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.latency = 0.1
    trace = tmp_path / "root" / "trace.jsonl"
    env = {"RLM_TRACE": str(trace), "RLM_RUN": "run-1", "RLM_DEPTH": "1", "RLM_MAX_CALLS": "10"}
    root_ledger(trace, "run-1", max_calls=10)
    codes = start_children(tmp_path, 3, env)
    assert len(events(trace, "start")) == 10 == len(fake_api.calls())
    assert 4 in codes and set(codes) <= {0, 4}
    answered = sum(len(list((tmp_path / f"ws{w}" / "results").glob("*.md"))) for w in range(3))
    assert answered == 10


@pytest.mark.slow
def test_a_dollar_budget_holds_across_concurrent_children(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.latency = 0.1
    trace = tmp_path / "root" / "trace.jsonl"
    env = {"RLM_TRACE": str(trace), "RLM_RUN": "run-2", "RLM_DEPTH": "1"}
    root_ledger(trace, "run-2", max_cost=0.05)
    codes = start_children(
        tmp_path, 3, env, "--model", "claude-opus-4-1", "--max-output", "100", "--max-cost", "0.05"
    )
    assert 4 in codes
    spent = sum(e["cost_usd"] for e in events(trace, "end"))
    booking = max(e["est_cost"] for e in events(trace, "start"))
    assert 0.05 - booking < spent <= 0.05, spent  # the limit held, and only one booking was left
    assert len(fake_api.calls()) < 24


def test_max_cost_with_a_model_of_unknown_price_is_refused(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello\n")
    r = rlm("query", "Q", "a.txt", "--model", "claude-new-9", "--max-cost", "1", cwd=tmp_path)
    assert r.returncode == 1 and "price table" in r.stderr
    assert fake_api.calls() == []


@pytest.mark.slow
def test_the_real_claude_code_cli_as_a_sub_agent(
    fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """rlm-sub drives the real `claude -p` (from npm), which calls the fake API as its model."""
    claude = TESTS / "node_modules" / ".bin" / "claude"
    assert claude.exists(), "Claude Code is not installed: run `bash tests/run-all.sh`"
    for name in [n for n in os.environ if n.startswith(("CLAUDE", "OTEL_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
    monkeypatch.setenv("RLM_CLAUDE", str(claude))
    (tmp_path / "home").mkdir()
    (tmp_path / "a.txt").write_text("one\ntwo needle\nthree\n")
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", "a.txt", "-w", str(ws), "--backend", "claude-code",
            "--max-depth", "1", cwd=tmp_path, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "a.txt:2: two needle" in r.stdout
    [call] = fake_api.calls()  # one leaf sub-agent: one model request, with no tools
    assert not call["body"].get("tools") and "FIND:needle" in call["system"]
    assert "2\ttwo needle" in call["user"]
    [record] = [json.loads(p.read_text()) for p in (ws / "results").glob("*.json")]
    assert record["status"] == "ok" and record["usage"]["input_tokens"] > 0
    # Below the depth limit the real CLI accepts the agent flags and offers the tools.
    r = rlm("query", "FIND:needle", "a.txt", "--backend", "claude-code", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "a.txt:2: two needle" in r.stdout
    tools = {t["name"] for t in fake_api.calls()[-1]["body"].get("tools", [])}
    assert {"Bash", "Read", "Grep", "Glob"} <= tools and "Edit" not in tools
