"""map, reduce and run end to end: rlm-sub as a subprocess, the real SDK, the fake API over HTTP."""

from __future__ import annotations

import itertools
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RLM, rlm
from corpus import corpus, plant, results
from fake_api import FakeAPI

MAP = "you see exactly one part"  # words of the map system prompt, to tell its calls apart
REDUCE = "combining the answers"  # and of the reduce system prompt


def test_needle_in_a_corpus_far_larger_than_the_model_window(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.context_window = 3000
    root = corpus(tmp_path / "src", files=60, lines=120)
    plant(root / "pkg3" / "mod038.txt", 77, "the secret needle sits here")
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", str(root), "-w", str(ws), "--chunk-tokens", "2000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    corpus_tokens = sum(c["input_tokens"] for c in fake_api.calls(MAP))
    assert corpus_tokens > 30 * fake_api.config.context_window
    assert max(c["input_tokens"] for c in fake_api.calls()) <= 3000
    assert f"{root.name}/pkg3/mod038.txt:77: the secret needle sits here" in r.stdout
    assert r.stdout.strip() == (ws / "final.md").read_text().strip()


def test_exact_count_through_a_multi_level_reduce(fake_api: FakeAPI, tmp_path: Path):
    root = tmp_path / "logs"
    rng = random.Random(3)
    expected = 0
    for f in range(40):
        n = rng.randint(0, 9)
        expected += n
        lines = ["apple" if i < n else "pear" for i in range(30)]
        rng.shuffle(lines)
        (root / f"f{f:02d}.log").parent.mkdir(parents=True, exist_ok=True)
        (root / f"f{f:02d}.log").write_text("\n".join(lines) + "\n")
    ws = tmp_path / "ws"
    r = rlm(
        "run",
        "COUNT:apple",
        str(root),
        "-w",
        str(ws),
        "--per-file",
        "--reduce-tokens",
        "500",
        "--max-output",
        "100",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n---\n")[0].strip() == f"COUNT apple = {expected}"
    assert "Unverified: 40 answer(s) gave no checkable quote" in r.stdout  # counts quote nothing
    levels = sorted(p.name for p in (ws / "reduce").iterdir())
    assert len(levels) >= 2, levels  # partial sums were themselves combined
    assert len(fake_api.calls(MAP)) == 40


def test_exact_count_with_30_percent_injected_faults(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.fault_rate = 0.3
    fake_api.config.fault_kinds = ["429", "529", "500", "drop"]
    root = tmp_path / "logs"
    for f in range(30):
        (root / f"f{f:02d}.log").parent.mkdir(parents=True, exist_ok=True)
        (root / f"f{f:02d}.log").write_text("apple\n" * (f % 4) + "pear\n" * 5)
    expected = sum(f % 4 for f in range(30))
    ws = tmp_path / "ws"
    r = rlm(
        "run",
        "COUNT:apple",
        str(root),
        "-w",
        str(ws),
        "--per-file",
        "--reduce-tokens",
        "500",
        "--max-output",  # a synthesis budget must hold two answers of --max-output
        "100",
        "--retries",
        "12",
        "-j",
        "6",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n---\n")[0].strip() == f"COUNT apple = {expected}"
    outcomes = [c["status"] for c in fake_api.calls()]
    assert {429, 529, 500, "drop"} <= set(outcomes), outcomes  # every fault kind happened
    assert sum(rec["attempts"] for rec in results(ws).values()) > 30
    assert all(rec["status"] == "ok" for rec in results(ws).values())


def test_a_failed_chunk_is_recorded_as_a_failure_never_as_an_answer(
    fake_api: FakeAPI, tmp_path: Path
):
    root = corpus(tmp_path / "src", files=4, lines=5)
    (root / "pkg1" / "mod001.txt").write_text("this part says FAIL:500\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    r = rlm("map", "Summarise", "-w", str(ws), "--retries", "2")
    assert r.returncode == 3, r.stderr
    recs = results(ws)
    [bad] = [cid for cid, rec in recs.items() if rec["status"] == "failed"]
    assert "500" in recs[bad]["error"] and recs[bad]["attempts"] == 2
    assert not (ws / "results" / f"{bad}.md").exists()
    assert len(list((ws / "results").glob("*.md"))) == 3

    r = rlm("reduce", "Summarise", "-w", str(ws))
    assert r.returncode == 3
    assert "--partial" in r.stderr and not (ws / "final.md").exists()
    r = rlm("reduce", "Summarise", "-w", str(ws), "--partial")
    assert r.returncode == 3
    assert f"{bad} (" in r.stdout and "not covered" in r.stdout
    assert "FAIL" not in (ws / "final.md").read_text().split("---")[0]


def test_rerun_after_one_edit_calls_only_for_the_changed_chunk(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=12, lines=10)
    ws = tmp_path / "ws"
    args = [
        "run",
        "COUNT:alpha",
        str(root),
        "-w",
        str(ws),
        "--per-file",
        "--reduce-tokens",
        "500",
        "--max-output",
        "100",
    ]
    first = rlm(*args)
    assert first.returncode == 0, first.stderr
    maps_before = len(fake_api.calls(MAP))
    reduces_before = len(fake_api.calls(REDUCE))
    assert maps_before == 12 and reduces_before >= 2

    again = rlm(*args)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert len(fake_api.calls()) == maps_before + reduces_before  # nothing called again

    edited = root / "pkg2" / "mod007.txt"
    edited.write_text(edited.read_text() + "alpha alpha alpha\n")
    third = rlm(*args)
    assert third.returncode == 0, third.stderr
    new_maps = fake_api.calls(MAP)[maps_before:]
    assert len(new_maps) == 1 and "pkg2/mod007.txt" in new_maps[0]["user"]
    new_reduces = len(fake_api.calls(REDUCE)) - reduces_before
    assert 1 <= new_reduces <= len(list((ws / "reduce").iterdir()))  # only the path to the root
    total = int(first.stdout.split("\n---\n")[0].split("=")[1]) + 3
    assert third.stdout.split("\n---\n")[0].strip() == f"COUNT alpha = {total}"


def test_a_chunk_the_model_rejects_as_too_long_is_split_and_answered(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.config.context_window = 1500
    path = tmp_path / "big.txt"
    path.write_text("".join(f"line {i} plain words here\n" for i in range(1, 601)))
    plant(path, 555, "line 555 has the needle")
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", str(path), "-w", str(ws), "--chunk-tokens", "6000")
    assert r.returncode == 0, r.stderr
    [rec] = results(ws).values()
    assert rec["parts"] >= 4 and rec["status"] == "ok"
    assert "big.txt:555: line 555 has the needle" in r.stdout
    rejected = [c for c in fake_api.calls() if c["status"] == 400]
    assert rejected and all(c["input_tokens"] > 1500 for c in rejected)


def test_long_answers_are_streamed_and_a_mid_stream_error_is_retried(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.config.fault_rate = 0.5
    fake_api.config.fault_kinds = ["stream"]
    root = corpus(tmp_path / "src", files=6, lines=5)
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", str(root), "-w", str(ws), "--per-file", "--max-output", "16000")
    assert r.returncode == 0, r.stderr
    calls = fake_api.calls()
    assert all(c["stream"] for c in calls)
    assert any(c["status"] == "stream-error" for c in calls)
    assert "fake answer:" in r.stdout


def test_retry_after_is_honoured_and_attempts_are_counted(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.fault_rate = 1.0
    fake_api.config.fault_kinds = ["429"]
    fake_api.config.retry_after = "0.4"
    (tmp_path / "a.txt").write_text("hello\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", str(tmp_path / "a.txt"), "-w", str(ws)).returncode == 0
    r = rlm("map", "Summarise", "-w", str(ws), "--retries", "3", "--retry-delay", "0")
    assert r.returncode == 3
    starts = [c["start"] for c in fake_api.calls()]
    assert len(starts) == 3
    assert all(b - a >= 0.4 for a, b in itertools.pairwise(starts))
    [rec] = results(ws).values()
    assert rec["attempts"] == 3 and "429" in rec["error"]


def test_the_per_call_deadline_bounds_retries(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.latency = 0.5
    fake_api.config.fault_rate = 1.0
    fake_api.config.fault_kinds = ["500"]
    (tmp_path / "a.txt").write_text("hello\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", str(tmp_path / "a.txt"), "-w", str(ws)).returncode == 0
    r = rlm("map", "Summarise", "-w", str(ws), "--retries", "100", "--timeout", "2")
    assert r.returncode == 3
    [rec] = results(ws).values()
    assert rec["attempts"] < 10 and "deadline" in rec["error"]


def test_prompt_caching_marks_the_fixed_instructions(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=3, lines=5)
    ws = tmp_path / "ws"
    r = rlm("run", "Summarise", str(root), "-w", str(ws), "--per-file", "-j", "1")
    assert r.returncode == 0, r.stderr
    assert all(c["cache_control"] for c in fake_api.calls())
    usages = [rec["usage"] for rec in results(ws).values()]
    assert sum(u["cache_creation_input_tokens"] for u in usages) > 0
    assert sum(u["cache_read_input_tokens"] for u in usages) > 0


def test_concurrency_is_bounded_and_used(fake_api: FakeAPI, tmp_path: Path):
    fake_api.config.latency = 0.2
    root = corpus(tmp_path / "src", files=24, lines=3)
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    r = rlm("map", "Summarise", "-w", str(ws), "-j", "4")
    assert r.returncode == 0, r.stderr
    assert 1 < fake_api.snapshot()["max_in_flight"] <= 4


def test_stdout_carries_only_the_answer_and_usage_goes_to_stderr(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=3, lines=5)
    out = tmp_path / "answer.md"
    r = rlm("run", "Summarise", str(root), "-w", str(tmp_path / "ws"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fake answer:") and r.stdout.strip() == out.read_text().strip()
    assert re.search(r"map: 1/1 chunk answered .* tokens in", r.stderr)


def test_run_without_a_workspace_picks_one_under_dot_rlm_and_resumes(
    fake_api: FakeAPI, tmp_path: Path
):
    corpus(tmp_path / "src", files=3, lines=5)
    r1 = rlm("run", "Summarise", "src", cwd=tmp_path)
    r2 = rlm("run", "Summarise", "src", cwd=tmp_path)
    assert r1.returncode == r2.returncode == 0, r1.stderr + r2.stderr
    [ws] = [p for p in (tmp_path / ".rlm").iterdir() if p.name != ".gitignore"]
    assert ws.name.startswith("summarise-") and (ws / "final.md").exists()
    assert len(fake_api.calls()) == 1


def test_query_answers_files_and_stdin_and_refuses_big_inputs(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n# needle here\n")
    r = rlm("query", "FIND:needle", "a.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "a.py:2: # needle here" in r.stdout
    r = rlm("query", "FIND:needle", "-", stdin="one\ntwo needle\n", cwd=tmp_path)
    assert "<stdin>:2: two needle" in r.stdout
    (tmp_path / "big.txt").write_text("word " * 20_000)
    calls = len(fake_api.calls())
    r = rlm("query", "Summarise", "big.txt", "--max-input", "1000", cwd=tmp_path)
    assert r.returncode == 1 and "rlm-sub run" in r.stderr
    assert len(fake_api.calls()) == calls


def test_errors_name_the_fix_and_never_show_a_traceback(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello\n")
    no_key = rlm("query", "Q", "a.txt", cwd=tmp_path, env={"ANTHROPIC_API_KEY": ""})
    assert no_key.returncode == 1 and "export ANTHROPIC_API_KEY" in no_key.stderr
    bad_model = rlm("query", "Q", "a.txt", "--model", "gpt-4", cwd=tmp_path)
    assert bad_model.returncode == 1 and "--model" in bad_model.stderr
    auth = rlm("query", "FAIL:401 Q", "a.txt", cwd=tmp_path)
    assert auth.returncode == 1 and "ANTHROPIC_API_KEY" in auth.stderr
    no_map = rlm("reduce", "Q", "-w", str(tmp_path / "nothing"))
    assert no_map.returncode == 1 and "rlm-sub chunk" in no_map.stderr
    empty_prompt = rlm("query", "  ", "a.txt", cwd=tmp_path)
    assert empty_prompt.returncode == 1 and "prompt is empty" in empty_prompt.stderr
    for r in (no_key, bad_model, auth, no_map, empty_prompt):
        assert "Traceback" not in r.stderr and r.stdout == ""
    assert "sk-ant-test" not in (auth.stderr + auth.stdout)


def test_a_fatal_error_stops_the_whole_map(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=20, lines=3)
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    r = rlm("map", "FAIL:401 Summarise", "-w", str(ws), "-j", "2")
    assert r.returncode == 1 and "ANTHROPIC_API_KEY" in r.stderr
    assert len(fake_api.calls()) <= 2  # no new calls start after a bad key


@pytest.mark.slow
def test_kill_9_mid_map_loses_only_the_calls_in_flight(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=40, lines=3)
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    fake_api.config.hold_after = 10  # answer ten calls, then hold every later one unanswered
    proc = subprocess.Popen(
        [*RLM, "map", "Summarise", "-w", str(ws), "-j", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for: 4 calls held, every answer written
            stats = fake_api.snapshot()
            written = len(list((ws / "results").glob("*.json")))
            if stats["in_flight"] == 4 and written == stats["answered"] >= 10:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"map never reached the held state: {fake_api.snapshot()}")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    answered = fake_api.snapshot()["answered"]

    kept = results(ws)
    assert len(kept) == answered
    for cid, rec in kept.items():  # every file present is whole: record and answer agree
        assert rec["status"] == "ok"
        assert (ws / "results" / f"{cid}.md").read_text().startswith("fake answer:")
    assert sorted(p.stem for p in (ws / "results").glob("*.md")) == sorted(kept)
    assert not [p for p in (ws / "results").iterdir() if p.suffix not in (".md", ".json")]

    fake_api.config.hold_after = None
    fake_api.released.set()
    before = len(fake_api.calls())
    r = rlm("map", "Summarise", "-w", str(ws), "-j", "4")
    assert r.returncode == 0, r.stderr
    redone = {re.search(r'<part id="(c\d+)">', c["user"])[1] for c in fake_api.calls()[before:]}
    assert redone.isdisjoint(kept)  # nothing finished before the kill was called again
    assert len(redone) == 40 - answered
    assert len(results(ws)) == 40


def test_commands_that_make_no_model_call_never_import_the_sdk(tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello\n")
    for args in (["--version"], ["--help"], ["chunk", "a.txt", "-w", "ws"], ["map", "--help"]):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "rlm_cli", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
        assert "click" in imported  # the check sees imports at all
        assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx", "httpx2")}


@pytest.mark.slow
def test_the_progress_bar_shows_on_a_terminal_only(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=6, lines=3)
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    command = shlex.join([*RLM, "map", "Summarise", "-w", str(ws)])
    on_tty = subprocess.run(
        ["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=120
    )  # script(1) gives the command a pseudo-terminal
    assert on_tty.returncode == 0, on_tty.stdout
    assert "━" in on_tty.stdout and "6/6" in on_tty.stdout
    (ws / "results").rename(tmp_path / "old-results")
    piped = rlm("map", "Summarise", "-w", str(ws))
    assert piped.returncode == 0 and "━" not in piped.stderr and "map: 6/6" in piped.stderr
    (ws / "results").rename(tmp_path / "older-results")
    quiet = subprocess.run(
        ["script", "-qec", command + " --quiet", "/dev/null"], capture_output=True, text=True
    )
    assert quiet.returncode == 0 and "━" not in quiet.stdout
    assert len(list((ws / "results").glob("*.md"))) == 6  # it did call, silently
