"""Limits only go down, and a sub-agent process gets only an allow-listed environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI
from test_recursion import claude_calls, events, fake_claude, root_ledger

__all__ = ["fake_claude"]  # a fixture, used by name


def test_claude_gets_an_allow_listed_environment_in_the_workspace(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path
):
    (tmp_path / "a.txt").write_text("y needle\n")
    ws = tmp_path / "ws"
    env = {
        "GITHUB_TOKEN": "ghp_CALLERSOWNTOKEN0123456789abcdefgh",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-not-for-claude",
        "RLM_WORKSPACE": str(tmp_path / "elsewhere"),
    }
    r = rlm("run", "Find it", "a.txt", "-w", str(ws), "--backend", "claude-code",
            cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    [call] = claude_calls(fake_claude)
    assert call["secrets"] == ["ANTHROPIC_API_KEY"]  # what it needs to reach its endpoint
    assert call["cwd"] == str(ws.resolve())
    assert "--restricted" in call["argv"] and "--strict-mcp-config" in call["argv"]
    # With Bedrock, the AWS credentials are what it needs, so they are passed on.
    env["CLAUDE_CODE_USE_BEDROCK"] = "1"
    rlm("run", "Find it again", "a.txt", "-w", str(ws), "--backend", "claude-code",
        cwd=tmp_path, env=env)  # fmt: skip
    assert "AWS_SECRET_ACCESS_KEY" in claude_calls(fake_claude)[-1]["secrets"]


def test_a_childs_larger_call_budget_is_clamped_to_the_roots(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src = tmp_path / "src"
    src.mkdir()
    for n in range(6):
        (src / f"f{n}.txt").write_text(f"file {n}\n")
    ws = tmp_path / "ws"
    nested = ["rlm-sub", "run", "FIND:file", str(src), "-w", str(ws / "child"), "--per-file",
              "--max-calls", "10000"]  # fmt: skip
    monkeypatch.setenv("FAKE_CLAUDE_MODE", "delegate")
    monkeypatch.setenv("FAKE_CLAUDE_NESTED", json.dumps(nested))
    r = rlm("run", "Look", "src", "-w", str(ws), "--backend", "claude-code",
            "--max-calls", "3", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "--max-calls 10000 is above the root's limit" in r.stdout
    assert "delegated (exit 4)" in r.stdout  # the child stopped at the root's budget
    run = events(ws / "trace.jsonl", "limits")[-1]["run"]
    starts = [e for e in events(ws / "trace.jsonl", "start") if e["run"] == run]
    assert len(starts) == 3  # 1 sub-agent + 2 calls of its child, of the root's 3


def test_an_altered_environment_does_not_lift_the_roots_limits(fake_api: FakeAPI, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    for n in range(5):
        (src / f"f{n}.txt").write_text(f"file {n}\n")
    trace = tmp_path / "root" / "trace.jsonl"
    root_ledger(trace, "run-9", max_calls=2, max_depth=1)
    child = {"RLM_TRACE": str(trace), "RLM_RUN": "run-9", "RLM_DEPTH": "1"}
    # RLM_MAX_CALLS and RLM_MAX_DEPTH raised in the child's environment: the ledger wins.
    r = rlm("run", "Q", "src", "-w", str(tmp_path / "w1"), "--per-file", cwd=tmp_path,
            env={**child, "RLM_MAX_CALLS": "1000", "RLM_MAX_DEPTH": "5"})  # fmt: skip
    assert r.returncode == 5 and "depth limit reached" in r.stderr
    # A run id the root never recorded: refused, not a fresh budget.
    r = rlm("run", "Q", "src", "-w", str(tmp_path / "w2"), cwd=tmp_path,
            env={**child, "RLM_RUN": "made-up"})  # fmt: skip
    assert r.returncode == 1 and "name no run of a root rlm-sub" in r.stderr
    root_ledger(trace, "run-9", max_calls=2, max_depth=3)
    r = rlm("run", "Q", "src", "-w", str(tmp_path / "w3"), "--per-file", "--max-calls", "50",
            cwd=tmp_path, env={**child, "RLM_MAX_CALLS": "1000"})  # fmt: skip
    assert r.returncode == 4, r.stderr
    assert "--max-calls 50 is above the root's limit" in r.stderr
    assert len(events(trace, "start")) == 2 == len(fake_api.calls())


def test_a_nested_rlm_sub_refuses_paths_outside_the_scope_in_the_environment(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("ok\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    scope = {"read": [str(tmp_path / "in")], "write": [str(tmp_path / "ws")]}
    env = {"RLM_DEPTH": "1", "RLM_SCOPE": json.dumps(scope)}
    refused = [
        ["chunk", str(tmp_path / "secret.txt"), "-w", str(tmp_path / "ws" / "c")],
        ["chunk", "in/a.txt", "-w", str(tmp_path / "out")],
        ["chunk", "in/../secret.txt", "-w", "ws/c"],
        ["status", "-w", str(tmp_path)],
        ["install-skill", "--project"],
    ]
    for args in refused:
        r = rlm(*args, cwd=tmp_path, env=env)
        assert r.returncode == 1 and "refused" in r.stderr, (args, r.stderr)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".claude").exists()
    r = rlm("chunk", "in/a.txt", "-w", "ws/c", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp_path / "ws" / "c" / "chunks")


def test_the_recorded_scope_resolves_links_as_path_resolve_does(tmp_path: Path, monkeypatch):
    """The root's inputs are recorded with each folder resolved once: the same paths as before."""
    from rlm_cli.cli.confine import resolved

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x\n")
    (tmp_path / "l").symlink_to("a/b")
    (tmp_path / "a" / "lf").symlink_to("b/f")
    (tmp_path / "dangling").symlink_to("nowhere")
    monkeypatch.chdir(tmp_path)
    names = ["a/b/f", "l/f", "a/lf", "l/../a", "dangling", "./a/./b/f", "a/b/", "new/x", ".",
             "l", "a//b//f", str(tmp_path / "l" / "f"), "a/b/f/..", "/", "..", "a/.",
             f"{tmp_path}/a/"]  # fmt: skip
    assert resolved(names) == [str(Path(n).resolve()) for n in names]


def test_a_root_naming_thousands_of_files_starts_sub_agents_confined_to_them(
    fake_claude: Path, fake_api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # ~1,500 long paths: as one environment variable, over Linux's 128 KiB limit, which
    # would stop every process the root starts (git, claude) with "Argument list too long".
    src = tmp_path / ("d" * 80)
    src.mkdir()
    named = [src / f"{'f' * 40}{n:05}.txt" for n in range(1500)]
    for path in named:
        path.write_text("x\n")
    (src / "unnamed.txt").write_text("not an input\n")
    assert len(json.dumps([str(p) for p in named])) > 131_072
    ws = tmp_path / "ws"
    for target, want in (
        (named[7], "delegated (exit 0)"),
        (src / "unnamed.txt", "delegated (exit 1)"),
    ):
        nested = ["rlm-sub", "chunk", str(target), "-w", str(ws / "child")]
        monkeypatch.setenv("FAKE_CLAUDE_MODE", "delegate")
        monkeypatch.setenv("FAKE_CLAUDE_NESTED", json.dumps(nested))
        r = rlm("run", f"Look at {target.name}", *map(str, named), "-w", str(ws),
                "--backend", "claude-code", "--chunk-tokens", "150000", cwd=tmp_path)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert want in r.stdout  # the named file is readable by the child; its sibling is not
