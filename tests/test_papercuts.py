"""Small traps a newcomer met, each fixed: -h, file modes, .rlm/.gitignore, no debris after a
failed run, plurals, retry wording, the unreachable endpoint named, Ctrl-C is not a failure,
trace's hint about earlier runs and its lines unwrapped when piped."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import RLM, rlm
from fake_api import FakeAPI

from rlm_cli.observe.trace import Call


@pytest.mark.parametrize("args", [["-h"], ["run", "-h"], ["install-skill", "-h"]])
def test_dash_h_is_help(args):
    r = rlm(*args)
    assert r.returncode == 0 and "Usage: rlm-sub" in r.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask(fake_api: FakeAPI, tmp_path: Path, umask: int):
    (tmp_path / "a.txt").write_text("one needle\n")
    out = tmp_path / "answer.md"
    out.write_text("old\n")
    out.chmod(0o644)
    r = subprocess.run(
        [*RLM, "run", "FIND:needle", "a.txt", "-w", "ws", "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),
    )
    assert r.returncode == 0, r.stderr
    want = 0o666 & ~umask
    assert mode(out) == want
    assert {mode(p) for p in (tmp_path / "ws").rglob("*") if p.is_file()} == {want}


def test_default_workspaces_are_ignored_by_git(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("one needle\n")
    assert rlm("run", "FIND:needle", "a.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / ".rlm" / ".gitignore").read_text().splitlines()[-1] == "*"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == ["a.txt"]


def test_a_run_that_fails_to_stage_leaves_no_empty_folders(fake_api: FakeAPI, tmp_path: Path):
    r = rlm("run", "FIND:needle", "no-such-file", cwd=tmp_path)
    assert r.returncode != 0 and "no-such-file" in r.stderr
    assert not (tmp_path / ".rlm").exists()


def test_one_is_singular(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("one needle\n")
    r = rlm("run", "FIND:needle", "a.txt", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "chunk: 1 file (" in r.stderr and "-> 1 chunk of" in r.stderr
    assert "1/1 chunk answered" in r.stderr
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.txt").write_text("text\n")
    r = rlm("chunk", "docs", "-w", "ws2", "--include", "*.py", cwd=tmp_path)
    assert r.returncode == 1 and "excluded: 1 file (not matched by --include)" in r.stderr


def test_an_unreachable_endpoint_is_named_and_the_retries_counted(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one\n")
    env = {"ANTHROPIC_API_KEY": "sk-test", "RLM_RETRIES": "2", "RLM_RETRY_DELAY": "0.01"}
    r = rlm("query", "Q", "a.txt", cwd=tmp_path, env=env)  # conftest: 127.0.0.1:9, nobody
    assert r.returncode != 0
    assert "cannot reach http://127.0.0.1:9" in r.stderr
    assert "(gave up after 2 attempts)" in r.stderr


def test_a_cancelled_call_is_not_a_failed_one():
    def call(status: str) -> Call:
        return Call("c1", "r1", "c0001", "map", 0, None, "m", 0.0, 1.0, status)

    assert not call("cancelled").failed
    assert call("failed").failed and call("fatal").failed and not call("ok").failed


def test_trace_hints_at_earlier_runs_and_does_not_wrap_when_piped(
    fake_api: FakeAPI, tmp_path: Path
):
    (tmp_path / "a.txt").write_text("one needle\n" * 3)
    (tmp_path / "b.txt").write_text("two needle\n")
    assert rlm("chunk", "a.txt", "b.txt", "-w", "ws", "--per-file", cwd=tmp_path).returncode == 0
    assert rlm("map", "FIND:needle", "-w", "ws", cwd=tmp_path).returncode == 0
    assert rlm("reduce", "FIND:needle", "-w", "ws", cwd=tmp_path).returncode == 0
    r = rlm("trace", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "latest of 2 runs" in r.stderr and "--run all" in r.stderr
    every = rlm("trace", "-w", "ws", "--run", "all", cwd=tmp_path)
    assert "latest of" not in every.stderr
    headers = [line for line in every.stdout.splitlines() if line.startswith("run ")]
    assert len(headers) == 2 and all(h.rstrip().endswith("s") for h in headers), every.stdout
    assert "2 calls, 0 failed" in headers[0] and "1 call, 0 failed" in headers[1]
    assert all(", wall " in h for h in headers), "a piped header was cut at 80 columns"
