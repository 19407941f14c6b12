"""`--backend auto`, the default: an API key's Messages API, else Claude Code, else one error.

The error comes before anything is written and names the three ways to get a model: a key,
a Claude Code login, a local engine through ANTHROPIC_BASE_URL.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "a.txt").write_text("one\ntwo needle\n")
    return tmp_path


def no_claude_path(tmp_path: Path) -> str:
    """PATH with the system tools but no `claude` (the Python of this venv stays reachable)."""
    empty = tmp_path / "nothing"
    empty.mkdir(exist_ok=True)
    return os.pathsep.join([str(empty), "/usr/bin", "/bin"])


def fake_claude_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "claude"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TESTS / "fake_claude.py"}" "$@"\n')
    wrapper.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("command", ["run", "query", "map", "solve"])
def test_no_key_and_no_claude_is_one_error_before_anything_is_written(project, command):
    args = {
        "run": ["run", "FIND:needle", "a.txt"],
        "query": ["query", "FIND:needle", "a.txt"],
        "map": ["map", "FIND:needle", "-w", "ws"],
        "solve": ["solve", "FIND:needle", "a.txt"],
    }[command]
    before = sorted(p.name for p in project.iterdir())
    r = rlm(*args, cwd=project, env={"PATH": no_claude_path(project), "RLM_CLAUDE": "claude"})
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("no model to call") == 1
    assert "REDACTED" not in r.stderr  # the fix's example must not look like a secret
    for way in ("ANTHROPIC_API_KEY=", "`claude`", "ANTHROPIC_BASE_URL=", "Local and self-hosted"):
        assert way in r.stderr, (way, r.stderr)
    assert sorted(p.name for p in project.iterdir() if p.name != "nothing") == before
    assert not (project / ".rlm").exists() and not (project / "ws").exists()


def test_an_api_key_means_the_messages_api(project, fake_api: FakeAPI, tmp_path):
    bin_dir = fake_claude_bin(tmp_path)  # a claude on PATH too: the key wins
    log = tmp_path / "claude-calls.jsonl"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_CLAUDE_LOG": str(log)}
    r = rlm("run", "FIND:needle", "a.txt", "--json", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert "- a.txt:2: two needle" in json.loads(r.stdout)["answer"]
    assert len(fake_api.calls()) == 1 and not log.exists()


def test_no_key_but_claude_on_path_means_claude_code(project, tmp_path, monkeypatch):
    bin_dir = fake_claude_bin(tmp_path)
    log = tmp_path / "claude-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    monkeypatch.setenv("RLM_CLAUDE_ENV", "FAKE_CLAUDE_LOG")  # claude gets an allow-listed env
    r = rlm("run", "FIND:needle", "a.txt", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "a.txt:2: two needle" in r.stdout
    [call] = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["argv"][0] == "-p"


def test_dry_run_and_chunk_need_no_model(project, tmp_path):
    env = {"PATH": no_claude_path(project), "RLM_CLAUDE": "claude"}
    r = rlm("plan", "FIND:needle", "a.txt", "-w", "ws", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert rlm("chunk", "a.txt", "-w", "ws2", cwd=project, env=env).returncode == 0
