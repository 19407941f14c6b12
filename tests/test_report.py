"""`rlm-sub report`: one offline HTML file, escaped, bounded in size, rendered by Chromium."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from conftest import rlm
from fake_api import FakeAPI
from trace_helpers import (
    FAILING,
    chromium,
    dump_dom,
    events,
    run_workspace,
    solve_workspace,
    synthetic_trace,
)

NETWORK = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", re.I)
EVIL = "<script>alert(1)</script>"


def files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def assert_offline(page: str) -> None:
    """Nothing in the page can fetch anything: no URLs, no src, no external styles."""
    assert not NETWORK.search(page), NETWORK.search(page)
    assert not re.search(r"<(img|iframe|link|object|embed|audio|video)\b", page, re.I)
    assert not re.search(r"\bsrc\s*=", page, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_report_of_a_partial_run_is_one_offline_file_that_renders(
    fake_api: FakeAPI, tmp_path: Path
):
    ws = run_workspace(fake_api, tmp_path)
    before = files(ws)
    r = rlm("report", "-w", str(ws), "-o", str(ws / "report.html"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(ws / "report.html")
    assert files(ws) - before == {Path("report.html")}  # one file, nothing beside it
    page = (ws / "report.html").read_text()
    assert_offline(page)

    starts = [e for e in events(ws) if e["ev"] == "start"]
    ends = {e["call"]: e for e in events(ws) if e["ev"] == "end"}
    records = {p.stem: json.loads(p.read_text()) for p in (ws / "results").glob("*.json")}
    failed = sorted(k for k, rec in records.items() if rec["status"] == "failed")
    assert len(failed) == len(FAILING)

    dom = dump_dom(ws / "report.html", tmp_path)
    # The timeline: one bar per call, coloured by status, retried calls marked.
    bars = re.findall(r'<rect class="bar s-(\w+)( retry)?"[^>]*data-call="(\w+)"', dom)
    assert len(bars) == len(starts)
    assert {call for _, _, call in bars} == {e["call"] for e in starts}
    for status, retry, call in bars:
        assert status == ends[call]["status"]
        assert bool(retry) == (ends[call]["attempts"] > 1)
    assert sum(status == "failed" for status, _, _ in bars) == 2
    # The call tree: one node per call under the run, each linked to its result file.
    nodes = re.findall(r'<li class="node st-(\w+)" data-call="(\w+)"', dom)
    assert {call for _, call in nodes} == {e["call"] for e in starts}
    ok_chunk = next(k for k, rec in records.items() if rec["status"] == "ok")
    assert f'href="results/{ok_chunk}.md"' in dom
    for chunk in failed:  # no answer, so the link leads to the record with the error
        assert f'href="results/{chunk}.json"' in dom
        assert not (ws / "results" / f"{chunk}.md").exists()
    assert 'href="reduce/L1/g0001.md"' in dom
    # The tables: one row per depth and per model; the failures with their errors.
    assert len(re.findall(r'<tr class="depth-row">', dom)) == 1
    assert len(re.findall(r'<tr class="model-row">', dom)) == 1
    failed_rows = re.findall(r'<tr class="failed-row">.*?</tr>', dom)
    assert len(failed_rows) == 2 and all("injected by FAIL:500" in row for row in failed_rows)
    assert len(re.findall(r'<tr class="slow-row">', dom)) == 10
    # The final answer, with the parts it does not cover.
    assert "not covered" in dom and all(chunk in dom for chunk in failed)

    shot = tmp_path / "shot.png"
    chromium([f"--screenshot={shot}", "--window-size=1280,2000"], ws / "report.html", tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_links_are_relative_to_where_the_report_is_written(fake_api: FakeAPI, tmp_path: Path):
    ws = run_workspace(fake_api, tmp_path)
    out = tmp_path / "out" / "my report.html"
    out.parent.mkdir()
    assert rlm("report", "-w", str(ws), "-o", str(out)).returncode == 0
    page = out.read_text()
    assert '"../ws/results/c0001.md"' in page or '"../ws/results/c0001.json"' in page
    default = rlm("report", "-w", str(ws))  # default: inside the workspace
    assert default.stdout.strip() == str(ws / "report.html")
    assert '"results/c0001.' in (ws / "report.html").read_text()


def test_report_of_a_solve_run_shows_every_depth_and_the_tool_calls(
    fake_api: FakeAPI, tmp_path: Path
):
    ws = solve_workspace(fake_api, tmp_path)
    assert rlm("report", "-w", str(ws)).returncode == 0
    page = (ws / "report.html").read_text()
    assert_offline(page)
    dom = dump_dom(ws / "report.html", tmp_path)
    starts = [e for e in events(ws) if e["ev"] == "start"]
    assert len(re.findall(r'<rect class="bar ', dom)) == len(starts)
    assert len(re.findall(r'<tr class="depth-row">', dom)) == 3
    notes = [e for e in events(ws) if e["ev"] == "note"]
    assert len(re.findall(r'<li class="note', dom)) == len(notes)
    # A depth-2 read sits inside a depth-1 loop's node, inside the root turn's node.
    root = next(e["call"] for e in starts if e["depth"] == 0)
    inner = dom.split(f'data-call="{root}"', 1)[1]
    assert re.search(r"solve@1-t1.*?map</span> <span class=\"cid\">c0001", inner, re.S)
    # The sub-agents' answers live in nested workspaces; links find them from the records.
    assert re.search(r'href="agents/[^"]+/maps/found/results/c0001\.md"', dom)
    assert "the needle is here" in dom  # final.md


def test_everything_from_the_trace_and_the_answers_is_escaped(fake_api: FakeAPI, tmp_path: Path):
    ws = run_workspace(fake_api, tmp_path, extra_line=f"apple says {EVIL}\n")
    run = events(ws)[0]["run"]
    hostile = [  # ids, errors and tool inputs that would be markup if not escaped
        {"ev": "start", "call": "evil1", "run": run, "t": time.time(), "kind": "map",
         "id": "<img src=x onerror=alert(2)>", "depth": 1, "parent": None, "model": "m"},
        {"ev": "end", "call": "evil1", "run": run, "t": time.time(), "status": "failed",
         "attempts": 1, "error": "</script><script>alert(3)</script>{{data}}"},
        {"ev": "note", "run": run, "call": "evil1", "tool": "grep", "input": "</script><u>x</u>"},
    ]  # fmt: skip
    with (ws / "trace.jsonl").open("a") as f:
        f.writelines(json.dumps(e) + "\n" for e in hostile)
    (ws / "final.md").write_text(f"answer with {EVIL} and <u>bold</u> {{{{data}}}}\n")
    assert rlm("report", "-w", str(ws)).returncode == 0
    page = (ws / "report.html").read_text()
    assert page.count("<script") == 2  # the data block and the page's own script
    assert "<img" not in page and "<u>" not in page and "alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text in the answer
    assert "apple says" not in page  # chunk texts are never embedded
    dom = dump_dom(ws / "report.html", tmp_path)
    assert dom.count("<script") == 2 and "<img" not in dom and "<u>" not in dom
    assert "&lt;img src=x onerror=alert(2)&gt;" in dom  # the hostile id, rendered as text
    assert "&lt;/script&gt;&lt;script&gt;alert(3)" in dom
    assert "{{data}}" in dom  # the template's slots are not refilled from content


def test_a_large_trace_gives_a_small_report_quickly(tmp_path: Path):
    ws = tmp_path / "ws"
    calls = 2500  # 5000 events
    synthetic_trace(ws, calls)
    started = time.monotonic()
    r = rlm("report", "-w", str(ws))
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert took < 15, took
    size = (ws / "report.html").stat().st_size
    assert size < 1_000_000, size  # errors are clipped, rows are compact
    assert size / calls < 300
    started = time.monotonic()
    t = rlm("trace", "-w", str(ws))
    assert t.returncode == 0 and time.monotonic() - started < 15
    assert "... 2479 more map calls: 2430 ok, 49 failed" in t.stdout
    dom = dump_dom(ws / "report.html", tmp_path)
    assert len(re.findall(r'<rect class="bar ', dom)) == calls
    assert len(re.findall(r'<rect class="bar s-failed retry"', dom)) == 50
    # The tree renders the first siblings and a button for the rest, not 2500 nodes at once.
    assert len(re.findall(r'<li class="node st-', dom)) <= 200
    assert re.search(r"show \d+ more \(\d+ ok, \d+ failed\)", dom)
    assert len(re.findall(r'<tr class="failed-row">', dom)) == 50
