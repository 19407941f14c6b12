"""map --batch end to end: rlm-sub as a subprocess, the real SDK, the fake Message Batches API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RLM, rlm, rlm_process
from corpus import corpus, results
from fake_api import FakeAPI

from rlm_cli.calls.pricing import cost

MODEL = "claude-opus-4"  # dear enough that half price shows in six decimals
CREATE = "POST /v1/messages/batches"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLM_BATCH_POLL", "0.02")


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Return once condition() is true; fail with what was awaited after the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def staged(tmp_path: Path, files: int, name: str = "ws") -> Path:
    """A workspace with one chunk per file of a small corpus."""
    root = tmp_path / "src"
    if not root.exists():
        corpus(root, files=files, lines=4)
    ws = tmp_path / name
    r = rlm("chunk", str(root), "-w", str(ws), "--per-file")
    assert r.returncode == 0, r.stderr
    return ws


def creates(api: FakeAPI) -> int:
    return sum(route == CREATE for route in api.routes)


def status(ws: Path) -> dict:
    r = rlm("status", "-w", str(ws), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["calls"]


def saved(ws: Path) -> dict:
    return json.loads((ws / "batches.json").read_text())


def test_batch_answers_match_live_ones_at_half_price_and_rerun_is_cached(
    fake_api: FakeAPI, tmp_path: Path
):
    batch_ws, live_ws = staged(tmp_path, 6, "batch"), staged(tmp_path, 6, "live")

    r = rlm("map", "Summarise", "-w", str(batch_ws), "--batch", "-m", MODEL)
    assert r.returncode == 0, r.stderr
    assert fake_api.calls() == []  # nothing went through the live endpoint
    assert len(fake_api.batches) == 1 and len(fake_api.batch_requests()) == 6
    assert "batch: submitted msgbatch_" in r.stderr and "--resume-batch" in r.stderr
    assert r.stdout == ""

    r = rlm("map", "Summarise", "-w", str(live_ws), "-m", MODEL)
    assert r.returncode == 0, r.stderr
    live_bodies = {c["user"]: c["body"] for c in fake_api.calls()}
    for req in fake_api.batch_requests():  # the very request the live path sends
        user = req["params"]["messages"][0]["content"]
        assert req["params"] == live_bodies[user]
    for cid in results(live_ws):
        batch_md = (batch_ws / "results" / f"{cid}.md").read_text()
        assert batch_md == (live_ws / "results" / f"{cid}.md").read_text()

    records = results(batch_ws)
    assert len(records) == 6
    for rec in records.values():
        assert rec["status"] == "ok" and rec["batch"] is True and rec["batch_id"]
        assert rec["key"] == results(live_ws)[rec["id"]]["key"]
        full = cost(MODEL, rec["usage"])
        assert rec["cost_usd"] == pytest.approx(full / 2, abs=1e-6) and full > 1e-4
        assert set(results(live_ws)[rec["id"]]) <= set(rec)  # every field the live path writes
    spent = status(batch_ws)
    assert spent["total"] == 6 and spent["in_flight"] == 0 and spent["failed"] == 0
    assert spent["cost_usd"] == pytest.approx(
        sum(r["cost_usd"] for r in records.values()), abs=1e-5
    )
    tokens = sum(sum(r["usage"].values()) for r in records.values())
    assert spent["tokens"] == tokens
    [entry] = saved(batch_ws)["batches"]
    assert entry["status"] == "fetched" and len(entry["requests"]) == 6

    routes = len(fake_api.api_routes())
    again = rlm_process(  # a fresh interpreter: which modules it imports is checked
        "map",
        "Summarise",
        "-w",
        str(batch_ws),
        "--batch",
        "-m",
        MODEL,
        env={"PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert again.returncode == 0, again.stderr
    assert len(fake_api.api_routes()) == routes  # fully cached: not one request to the API
    assert "6 cached" in again.stderr
    imported = {line.split("|")[-1].strip() for line in again.stderr.splitlines() if "|" in line}
    assert "click" in imported and not {m for m in imported if m.startswith("anthropic")}
    live_again = rlm("map", "Summarise", "-w", str(batch_ws), "-m", MODEL)
    assert live_again.returncode == 0 and len(fake_api.api_routes()) == routes  # interchangeable
    assert status(batch_ws)["total"] == 6


def test_a_job_larger_than_one_batch_is_split(fake_api: FakeAPI, tmp_path: Path):
    ws = staged(tmp_path, 8)
    r = rlm("map", "Summarise", "-w", str(ws), "--batch", env={"RLM_BATCH_MAX_REQUESTS": "3"})
    assert r.returncode == 0, r.stderr
    sizes = sorted(len(b["requests"]) for b in fake_api.batches.values())
    assert sizes == [2, 3, 3]
    assert [len(b["requests"]) for b in saved(ws)["batches"]] == [3, 3, 2]
    chunk_ids = [r["id"] for b in saved(ws)["batches"] for r in b["requests"]]
    assert sorted(chunk_ids) == sorted(results(ws)) and len(set(chunk_ids)) == 8
    assert all(rec["status"] == "ok" for rec in results(ws).values())


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_stopped_batch_run_resumes_without_resubmitting(
    fake_api: FakeAPI, tmp_path: Path, stop: signal.Signals
):
    ws = staged(tmp_path, 8)
    fake_api.config.batch_polls = None  # every batch stays in progress until released
    proc = subprocess.Popen(
        [*RLM, "map", "Summarise", "-w", str(ws), "--batch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RLM_BATCH_MAX_REQUESTS": "3"},
        # As a user's Ctrl-C finds it, also when the suite itself runs with SIGINT ignored
        # (started with `&` or nohup), which the child would otherwise inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_for(
            lambda: (ws / "batches.json").exists() and len(saved(ws)["batches"]) == 3,
            "three batches saved",
        )
        first = saved(ws)["batches"][0]
        fake_api.release_batch(first["id"])
        wait_for(lambda: saved(ws)["batches"][0]["status"] == "fetched", "first batch fetched")
        assert len(results(ws)) == 3
        proc.send_signal(stop)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if stop == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert "--resume-batch" in stderr and "Traceback" not in stderr
    assert status(ws)["in_flight"] == 5  # submitted, not fetched: still at the API

    fake_api.config.batch_polls = 1
    before = {b["id"]: b["polls"] for b in fake_api.batches.values()}
    r = rlm("map", "--resume-batch", "-w", str(ws))
    assert r.returncode == 0, r.stderr
    assert creates(fake_api) == 3 and len(fake_api.batches) == 3  # nothing submitted again
    fetched_again = [x for x in fake_api.routes if x.endswith(f"{first['id']}/results")]
    assert len(fetched_again) == 1  # the batch fetched before the stop is not fetched again
    assert all(fake_api.batches[i]["polls"] > n for i, n in before.items() if i != first["id"])
    records = results(ws)
    assert len(records) == 8 and all(rec["status"] == "ok" for rec in records.values())
    assert all(b["status"] == "fetched" for b in saved(ws)["batches"])
    spent = status(ws)
    assert spent["total"] == 8 and spent["in_flight"] == 0
    assert spent["cost_usd"] == pytest.approx(
        sum(r["cost_usd"] for r in records.values()), abs=1e-5
    )

    r = rlm("map", "Summarise", "-w", str(ws), "--batch")
    assert r.returncode == 0 and creates(fake_api) == 3 and "8 cached" in r.stderr


def test_failed_requests_are_failures_and_a_rerun_retries_only_them(
    fake_api: FakeAPI, tmp_path: Path
):
    root = corpus(tmp_path / "src", files=6, lines=4)
    (root / "pkg1" / "mod001.txt").write_text("this part says FAIL:500\n")
    ws = tmp_path / "ws"
    assert rlm("chunk", str(root), "-w", str(ws), "--per-file").returncode == 0
    bad = next(
        c["id"]
        for c in json.loads((ws / "manifest.json").read_text())["chunks"]
        if "mod001" in c["sources"][0]["path"]
    )
    expiring = "c0001" if bad != "c0001" else "c0002"
    fake_api.config.batch_expire = {expiring}

    r = rlm("map", "Summarise", "-w", str(ws), "--batch")
    assert r.returncode == 3, r.stderr
    recs = results(ws)
    assert recs[bad]["status"] == "failed" and "api_error" in recs[bad]["error"]
    assert recs[expiring]["status"] == "failed" and "expired" in recs[expiring]["error"]
    for cid in (bad, expiring):
        assert not (ws / "results" / f"{cid}.md").exists()
        assert recs[cid]["cost_usd"] == 0
    assert sum(rec["status"] == "ok" for rec in recs.values()) == 4
    assert status(ws)["failed"] == 2

    fake_api.config.batch_expire = set()
    r = rlm("map", "Summarise", "-w", str(ws), "--batch")
    assert r.returncode == 3, r.stderr  # the FAIL:500 chunk fails again
    latest = max(fake_api.batches.values(), key=lambda b: b["created"])
    assert sorted(q["custom_id"] for q in latest["requests"]) == sorted([bad, expiring])
    assert results(ws)[expiring]["status"] == "ok"
    assert "4 cached" in r.stderr

    r = rlm("reduce", "Summarise", "-w", str(ws))
    assert r.returncode == 3 and "--partial" in r.stderr


def test_a_canceled_batch_records_every_request_as_failed(fake_api: FakeAPI, tmp_path: Path):
    ws = staged(tmp_path, 3)
    fake_api.config.batch_polls = None
    proc = subprocess.Popen(
        [*RLM, "map", "Summarise", "-w", str(ws), "--batch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (ws / "batches.json").exists(), "the batch saved")
        [entry] = saved(ws)["batches"]
        cancel = urllib.request.Request(
            f"{fake_api.url}/v1/messages/batches/{entry['id']}/cancel",
            method="POST",
            headers={"x-api-key": "test"},
            data=b"",
        )
        with urllib.request.urlopen(cancel) as response:
            assert json.loads(response.read())["processing_status"] == "canceling"
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, stderr
    recs = results(ws)
    assert len(recs) == 3 and all("canceled" in rec["error"] for rec in recs.values())
    assert not list((ws / "results").glob("*.md"))
    fake_api.config.batch_polls = 1
    r = rlm("map", "Summarise", "-w", str(ws), "--batch")
    assert r.returncode == 0, r.stderr
    assert len(fake_api.batches) == 2 and len(list((ws / "results").glob("*.md"))) == 3


def test_a_budget_refuses_the_whole_submission_before_sending_it(fake_api: FakeAPI, tmp_path: Path):
    """Through the command line; test_batch_planning.py checks each kind of budget in process."""
    ws = staged(tmp_path, 8)
    r = rlm("map", "Summarise", "-w", str(ws), "--batch", "-m", MODEL, "--max-cost", "0.0001")
    assert r.returncode == 4, r.stderr
    assert "nothing was submitted" in r.stderr
    assert creates(fake_api) == 0 and fake_api.calls() == []
    assert not (ws / "results").exists() or not list((ws / "results").iterdir())
    assert not (ws / "batches.json").exists()
    assert status(ws)["total"] == 0


def test_a_submission_within_the_budget_goes_ahead(fake_api: FakeAPI, tmp_path: Path):
    ws = staged(tmp_path, 8)
    r = rlm("map", "Summarise", "-w", str(ws), "--batch", "--max-calls", "8")
    assert r.returncode == 0, r.stderr
    assert creates(fake_api) == 1 and status(ws)["total"] == 8


def test_run_batch_maps_through_batches_and_reduces_live(fake_api: FakeAPI, tmp_path: Path):
    root = corpus(tmp_path / "src", files=5, lines=4)
    (root / "pkg2" / "mod002.txt").write_text("one line\nthe needle is here\n")
    ws = tmp_path / "ws"
    r = rlm("run", "FIND:needle", str(root), "-w", str(ws), "--per-file", "--batch")
    assert r.returncode == 0, r.stderr
    assert "pkg2/mod002.txt:2: the needle is here" in r.stdout
    assert len(fake_api.batch_requests()) == 5
    assert all("you see exactly one part" not in c["system"] for c in fake_api.calls())


def test_resume_needs_saved_batches_and_map_needs_a_prompt(fake_api: FakeAPI, tmp_path: Path):
    ws = staged(tmp_path, 2)
    r = rlm("map", "--resume-batch", "-w", str(ws))
    assert r.returncode == 1 and "--batch" in r.stderr and "Traceback" not in r.stderr
    r = rlm("map", "-w", str(ws))
    assert r.returncode == 2 and "PROMPT" in r.stderr
    assert rlm("map", "Summarise", "-w", str(ws), "--batch").returncode == 0
    r = rlm("map", "Something else", "--resume-batch", "-w", str(ws))
    assert r.returncode == 1 and "another prompt" in r.stderr
    r = rlm("map", "--resume-batch", "-w", str(ws))
    assert r.returncode == 0 and "nothing to resume" in r.stderr
    assert creates(fake_api) == 1
