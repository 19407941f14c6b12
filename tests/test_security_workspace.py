"""A hostile workspace: links inside it are refused, its ids are checked, a kill's leftovers go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI


@pytest.fixture
def staged(fake_api: FakeAPI, tmp_path: Path) -> Path:
    """A workspace after one full run over two small files."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("alpha\n")
    (tmp_path / "src" / "b.txt").write_text("beta\n")
    ws = tmp_path / "ws"
    r = rlm("run", "Q", "src", "-w", str(ws), "--per-file", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return ws


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SECRET-KEY-MATERIAL\n")
    return path


@pytest.mark.parametrize("entry", ["results/md", "chunks", "trace.jsonl", "results", "final.md"])
def test_a_workspace_holding_a_link_is_refused(
    staged: Path, tmp_path: Path, fake_api: FakeAPI, entry: str
):
    secret = victim(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("keep\n")
    first_md = next((staged / "results").glob("*.md"))
    target = first_md if entry == "results/md" else staged / entry
    if target.is_dir():
        shutil.rmtree(target)
        target.symlink_to(other, target_is_directory=True)
    else:
        target.unlink()
        target.symlink_to(secret)
    calls = len(fake_api.calls())
    for args in (
        ["run", "Q", "src", "-w", str(staged), "--per-file"],
        ["status", "-w", str(staged)],
    ):
        r = rlm(*args, cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert "symbolic link" in r.stderr and "SECRET" not in r.stdout + r.stderr
    assert len(fake_api.calls()) == calls
    assert secret.read_text() == "SECRET-KEY-MATERIAL\n"  # neither read nor written
    assert (other / "keep.txt").exists()  # nothing deleted through a linked chunks/


def test_a_workspace_that_is_a_link_or_under_one_is_refused(staged: Path, tmp_path: Path):
    (tmp_path / "ln").symlink_to(staged, target_is_directory=True)
    r = rlm("status", "-w", "ln", cwd=tmp_path)
    assert r.returncode == 1 and "is a symbolic link" in r.stderr
    r = rlm("chunk", "src", "-w", "ln/inner", cwd=tmp_path)
    assert r.returncode == 1 and "is a symbolic link" in r.stderr
    assert not (staged / "inner").exists()


@pytest.mark.parametrize("bad", ["../../escape", "/etc/passwd", "a/b", "", 7, ".hidden"])
def test_chunk_ids_from_a_hand_edited_manifest_are_refused(
    staged: Path, tmp_path: Path, fake_api: FakeAPI, bad: object
):
    manifest = json.loads((staged / "manifest.json").read_text())
    manifest["chunks"][0]["id"] = bad
    (staged / "manifest.json").write_text(json.dumps(manifest))
    calls = len(fake_api.calls())
    r = rlm("map", "Q2", "-w", str(staged), cwd=tmp_path)
    assert r.returncode == 1 and "not a plain file name" in r.stderr, r.stderr
    assert len(fake_api.calls()) == calls
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "escape.md").exists()


def test_ids_from_a_hand_edited_batches_file_are_refused(staged: Path, tmp_path: Path):
    batches = {
        "version": 1, "task": "Q", "model": "claude-haiku-5-5", "max_tokens": 100,
        "batches": [{"id": "b1", "status": "ended", "requests": [
            {"custom_id": "c1", "id": "../../../escape", "key": "k", "call": "x", "kind": "map",
             "meta": {}}]}],
    }  # fmt: skip
    (staged / "batches.json").write_text(json.dumps(batches))
    r = rlm("map", "--resume-batch", "-w", str(staged), cwd=tmp_path)
    assert r.returncode == 1 and "not a plain file name" in r.stderr, r.stderr


def test_a_killed_writers_temp_files_are_removed_on_the_next_run(staged: Path, tmp_path: Path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = staged / "results" / f".c0001.md.{dead.pid}.abc123.tmp"
    stale.write_text("half an answer")
    live = staged / "results" / f".c0002.md.{os.getpid()}.def456.tmp"
    live.write_text("being written now")
    r = rlm("status", "-w", str(staged), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()  # its writer is gone
    assert live.exists()  # its writer (this test) is alive: maybe a concurrent shard


def test_a_killed_runs_calls_are_not_shown_in_flight(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    start = {"ev": "start", "call": "c1", "run": "r1", "pid": dead.pid, "t": 1.0, "id": "x",
             "depth": 1, "est_tokens": 10, "est_cost": 0.0}  # fmt: skip
    (ws / "trace.jsonl").write_text(json.dumps(start) + "\n")
    status = json.loads(rlm("status", "-w", str(ws), "--json", cwd=tmp_path).stdout)
    assert status["calls"]["in_flight"] == 0 and status["calls"]["failed"] == 1
    shown = rlm("trace", "-w", str(ws), cwd=tmp_path)
    assert "killed" in shown.stdout


@pytest.mark.parametrize("git", [False, True], ids=["plain", "git-checkout"])
def test_a_workspace_inside_the_inputs_is_never_read_as_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git: bool
):
    """`-o review` inside a checkout: a second run must not stage the first run's chunks."""
    from rlm_cli.inputs.sources import Filters
    from rlm_cli.inputs.staging import stage
    from rlm_cli.workspace import Workspace

    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "a.py").write_text("print('hello')\n")
    if git:
        subprocess.run(["git", "init", "-q", str(tree)], check=True)
    monkeypatch.chdir(tree)
    for _ in range(2):
        manifest, _ = stage(Workspace(tree / "review" / "work"), ["."], Filters(), 2000)
    assert [f["path"] for f in manifest["files"]] == ["src/a.py"]
