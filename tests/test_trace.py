"""`rlm-sub trace` and rlm_cli/observe/trace.py: the call tree, totals, slowest and failed calls."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import RLM, rlm
from fake_api import FakeAPI
from trace_helpers import FAILING, events, run_workspace, solve_workspace, synthetic_trace

from rlm_cli.observe import trace


def line_of(lines: list[str], pattern: str) -> int:
    """Index of the first line matching pattern."""
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_trace_of_a_partial_run_shows_the_tree_totals_and_failures(
    fake_api: FakeAPI, tmp_path: Path
):
    ws = run_workspace(fake_api, tmp_path)
    starts = [e for e in events(ws) if e["ev"] == "start"]
    ends = {e["call"]: e for e in events(ws) if e["ev"] == "end"}
    failed = [ends[e["call"]] for e in starts if ends[e["call"]]["status"] != "ok"]
    assert len(failed) == len(FAILING)
    r = rlm("trace", "-w", str(ws), env={"COLUMNS": "150"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    lines = out.splitlines()
    run = starts[0]["run"]
    assert lines[0].startswith(f"run {run}")
    assert f"{len(starts)} calls, 2 failed" in lines[0]
    tokens = sum(sum(e["usage"].values()) for e in ends.values())
    assert f"{tokens:,} tokens" in lines[0]
    # The tree: every map and the reduce are children of the run; retries are marked.
    maps = sorted(e["id"] for e in starts if e["kind"] == "map")
    assert len(maps) == 10
    for jid in maps:
        assert re.search(rf"^[├└]── map {jid}  (ok|failed)", out, re.M), jid
    assert re.search(r"^└── reduce L1-g0001  ok", out, re.M)
    for f in failed:
        assert re.search(rf"map {f['id']}  failed .* 3 attempts", out)
    # Totals by depth: every call of a top-level run serves a depth-1 sub-agent.
    depth_row = lines[line_of(lines, r"^ 1 ")].split()
    assert depth_row[:5] == ["1", "│", str(len(starts)), "│", "2"]
    # The failed calls, each with its error.
    section = out.split("Failed calls: 2", 1)[1]
    for f in failed:
        assert f"map {f['id']}" in section
    assert section.count("500 api_error: injected by FAIL:500") == 2
    assert "Slowest 5 calls" in out
    assert r.stderr == ""  # the view is the result: stdout only


def test_large_sibling_sets_collapse_into_one_line_per_kind(fake_api: FakeAPI, tmp_path: Path):
    ws = run_workspace(fake_api, tmp_path)
    r = rlm("trace", "-w", str(ws), "--limit", "3", "--slowest", "0")
    assert r.returncode == 0, r.stderr
    shown = re.findall(r"── map c\d+  (ok|failed)", r.stdout)
    assert len(shown) == 3
    more = re.search(r"\.\.\. 7 more map calls: (\d+) ok(?:, (\d+) failed)?", r.stdout)
    assert more, r.stdout
    assert int(more[1]) + int(more[2] or 0) == 7
    assert shown.count("failed") + int(more[2] or 0) == 2  # no failure is lost from view
    assert "reduce L1-g0001" in r.stdout  # the limit is per kind: the reduce stays visible
    assert "Slowest" not in r.stdout


def test_trace_of_a_solve_run_puts_tool_calls_under_their_turn(fake_api: FakeAPI, tmp_path: Path):
    ws = solve_workspace(fake_api, tmp_path)
    r = rlm("trace", "-w", str(ws), "--limit", "50", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    root = line_of(lines, r"── solve solve@0-t1 ")
    grep, mapped = root + 1, root + 2
    assert "tool grep" in lines[grep] and "needle" in lines[grep]
    assert "tool map" in lines[mapped] and '"save_as": "found"' in lines[mapped]
    indent = lines[root].index("solve")
    assert lines[grep].index("tool") > indent  # one level below the turn
    # The sub-agents' loops hang under the root turn that started them, their reads below them.
    sub = line_of(lines, r"── solve solve@1-t1 ")
    assert lines[sub].index("solve") > indent
    reader = line_of(lines, r"── map c\d+ .* d2")
    assert lines[reader].index("map") > lines[sub].index("solve")
    depths = {int(row.split()[0]) for row in lines if re.match(r"^ \d+ +│", row)}
    assert depths == {0, 1, 2}
    notes = [e for e in events(ws) if e["ev"] == "note"]
    assert r.stdout.count("tool grep") == sum(n["tool"] == "grep" for n in notes)


def test_runs_are_chosen_by_id_and_the_latest_is_the_default(tmp_path: Path):
    ws = tmp_path / "ws"
    synthetic_trace(ws, 4, run="aaaa11112222", t0=1.8e9)
    first = (ws / "trace.jsonl").read_text()
    synthetic_trace(ws, 2, run="bbbb33334444", t0=1.8e9 + 100)
    torn = '{"ev":"start","call":"torn'  # a writer killed mid-line
    (ws / "trace.jsonl").write_text(first + (ws / "trace.jsonl").read_text() + torn)
    latest = rlm("trace", "-w", str(ws))
    assert latest.returncode == 0, latest.stderr
    assert "run bbbb33334444" in latest.stdout and "aaaa11112222" not in latest.stdout
    both = rlm("trace", "-w", str(ws), "--run", "all")
    assert "run aaaa11112222" in both.stdout and "run bbbb33334444" in both.stdout
    one = rlm("trace", "-w", str(ws), "--run", "aaaa")
    assert "run aaaa11112222  " in one.stdout and "4 calls" in one.stdout
    bad = rlm("trace", "-w", str(ws), "--run", "zzz")
    assert bad.returncode == 1
    assert "aaaa11112222, bbbb33334444" in bad.stderr and "Traceback" not in bad.stderr


def test_a_call_with_no_end_is_shown_as_such(tmp_path: Path):
    ws = tmp_path / "ws"
    synthetic_trace(ws, 3)
    lines = (ws / "trace.jsonl").read_text().splitlines()
    (ws / "trace.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # the reduce never ended
    r = rlm("trace", "-w", str(ws), env={"COLUMNS": "150"})
    assert r.returncode == 0, r.stderr
    assert re.search(r"reduce L1-g0001  no end \(in flight or killed\)", r.stdout)
    assert "1 with no end" in r.stdout


def test_no_trace_yet_says_what_to_run(tmp_path: Path):
    (tmp_path / "ws").mkdir()
    for command in ("trace", "report"):
        r = rlm(command, "-w", str(tmp_path / "ws"))
        assert r.returncode == 1
        assert "rlm-sub map" in r.stderr and "Traceback" not in r.stderr


def test_trace_and_report_never_import_the_sdk(tmp_path: Path):
    synthetic_trace(tmp_path / "ws", 3)
    for args in (["trace", "-w", "ws"], ["report", "-w", "ws"], ["trace", "--help"]):
        r = subprocess.run([sys.executable, "-X", "importtime", *RLM[1:], *args], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
        assert "rlm_cli.observe.trace" in imported or args[-1] == "--help"
        assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx", "httpx2")}


def test_build_links_parents_and_notes_and_sums_by_depth():
    def start(call: str, depth: int, parent: str | None, kind: str = "map") -> dict:
        return {"ev": "start", "call": call, "run": "r1", "t": 10.0, "id": call, "kind": kind,
                "depth": depth, "parent": parent, "model": "m"}  # fmt: skip

    def end(call: str, status: str = "ok", tokens: int = 10) -> dict:
        return {"ev": "end", "call": call, "run": "r1", "t": 12.0, "start": 10.0,
                "duration_s": 2.0, "status": status, "attempts": 1,
                "usage": {"input_tokens": tokens}, "cost_usd": 0.5, "error": None}  # fmt: skip

    evs = [
        start("t1", 0, None, "solve"), end("t1"),
        start("a", 1, "t1"), start("b", 1, "t1"), end("a"), end("b", "failed", 0),
        {"ev": "note", "run": "r1", "call": "t1", "tool": "grep", "input": "{}"},
        start("x", 2, "a"), end("x"),
        start("orphan", 2, "gone"),
        start("other", 0, None), {"ev": "start", "run": "r2", "call": "z"},
    ]  # fmt: skip
    run = trace.build(evs, "r1")
    assert [c.call for c in run.roots] == ["t1", "orphan", "other"]
    t1 = run.roots[0]
    assert [c.call for c in t1.children] == ["a", "b"] and t1.notes[0]["tool"] == "grep"
    assert trace.descendants(t1) == 3
    by_depth = {g.key: g for g in trace.groups(run.calls, lambda c: c.depth)}
    assert (by_depth[1].calls, by_depth[1].failed, by_depth[1].tokens) == (2, 1, 10)
    assert (by_depth[2].calls, by_depth[2].open) == (2, 1)
    assert trace.total(run.calls).cost == 2.0
    assert trace.run_ids(evs) == ["r1", "r2"]
    assert [c.call for c in trace.failures(run.calls)] == ["b"]
    summary = trace.collapse(t1.children, 1)
    assert summary[1] == "... 1 more map call: 1 failed"
    assert json.dumps(trace.pick_runs(["r1", "r2"], "latest")) == '["r2"]'
