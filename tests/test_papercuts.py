"""Small traps a newcomer met, each fixed: -h, file modes, .rlm/.gitignore, no debris after a
failed run, plurals, retry wording, the unreachable endpoint named, Ctrl-C is not a failure,
trace's hint about earlier runs and its lines unwrapped when piped."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import rlm
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
    old = os.umask(umask)  # the process's umask, as a shell would have set it
    try:
        r = rlm("run", "FIND:needle", "a.txt", "-w", "ws", "-o", str(out), cwd=tmp_path)
    finally:
        os.umask(old)
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


def test_an_unreachable_endpoint_is_named_with_its_own_exit_code(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one\n")
    env = {"ANTHROPIC_API_KEY": "sk-test", "RLM_RETRY_DELAY": "0.01"}
    for command in (["query", "Q", "a.txt"], ["run", "Q", "a.txt", "-w", "ws", "--json"]):
        r = rlm(*command, cwd=tmp_path, env=env)  # conftest: 127.0.0.1:9, where nobody listens
        assert r.returncode == 6, r.stderr
        assert "could not reach the model: cannot reach http://127.0.0.1:9" in r.stderr
        assert "(after 3 attempts; nothing answered)" in r.stderr  # not the 6 of --retries


def test_retries_are_counted_in_plain_words(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("one FAIL:529\n")
    r = rlm("query", "Q", "a.txt", cwd=tmp_path, env={"RLM_RETRIES": "2"})
    assert r.returncode == 3 and "(gave up after 2 attempts)" in r.stderr


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


def test_plan_shows_only_what_matters_to_a_plan(fake_api: FakeAPI, tmp_path: Path):
    shown = rlm("plan", "--help").stdout
    for hidden in ("--retries", "--timeout", "--concurrency", "--partial", "--retry-delay"):
        assert hidden not in shown
    assert "--model" in shown and "--max-cost" in shown
    (tmp_path / "a.txt").write_text("one\n")
    r = rlm("plan", "Q", "a.txt", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0 and "Run without --dry-run" not in r.stdout
    assert "`rlm-sub run`" in r.stdout


def test_json_on_query_chunk_and_trace(fake_api: FakeAPI, tmp_path: Path):
    import json

    (tmp_path / "a.txt").write_text("one needle\n")
    q = rlm("query", "FIND:needle", "a.txt", "--json", cwd=tmp_path)
    assert q.returncode == 0, q.stderr
    answer = json.loads(q.stdout)
    assert "a.txt:1" in answer["answer"] and answer["exit_code"] == 0
    assert answer["cost_usd"] > 0 and answer["usage"]["input_tokens"] > 0
    assert "query: 1 call;" in q.stderr and "tokens in" in q.stderr  # the bill, also as text
    c = rlm("chunk", "a.txt", "-w", "ws", "--json", cwd=tmp_path)
    staged = json.loads(c.stdout)
    assert staged["files"] == 1 and staged["chunks"] == 1 and staged["workspace"] == "ws"
    assert rlm("map", "FIND:needle", "-w", "ws", cwd=tmp_path).returncode == 0
    t = rlm("trace", "-w", "ws", "--json", cwd=tmp_path)
    [run] = json.loads(t.stdout)["runs"]
    [call] = run["calls"]
    assert call["kind"] == "map" and call["status"] == "ok" and call["tokens"] > 0


def test_solve_offers_only_the_messages_api_and_sums_up_its_usage(
    fake_api: FakeAPI, tmp_path: Path
):
    shown = rlm("solve", "--help").stdout
    assert "--backend [auto|anthropic] " in shown  # the choices end there: no claude-code
    (tmp_path / "a.txt").write_text("one needle\n")
    final = {"type": "tool_use", "id": "toolu_final", "name": "final", "input": {"text": "done"}}
    fake_api.responder = lambda body: [final] if body.get("tools") else None
    r = rlm("solve", "FIND:needle", "a.txt", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "done"
    assert re.search(
        r"solve: \d+ calls? \(0 failed\), [\d,]+ tokens, \$[\d.]+; calls in ", r.stderr
    )


def test_solve_warns_once_for_all_skipped_files(fake_api: FakeAPI, tmp_path: Path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "a.txt").write_text("one needle\n")
    for i in range(7):
        (proj / f"blob{i}.bin").write_bytes(b"\0binary\0" * 4)
    final = {"type": "tool_use", "id": "toolu_final", "name": "final", "input": {"text": "done"}}
    fake_api.responder = lambda body: [final] if body.get("tools") else None
    r = rlm("solve", "FIND:needle", "proj", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "skipped" in line]
    assert len(warnings) == 1, r.stderr
    assert "skipped 7 files (7 binary" in warnings[0] and "and 2 more" in warnings[0]
