"""Workspaces with real traces (rlm-sub against the fake API) and synthetic ones, for the
tests of `rlm-sub trace` and `rlm-sub report`; and headless Chromium to render a report."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import rlm
from fake_api import FakeAPI

from rlm_cli.calls.ledger import read_events

CHROMIUM = Path("/usr/bin/chromium")
FAILING = (3, 7)  # the files whose chunks say FAIL:500


def events(ws: Path) -> list[dict[str, Any]]:
    return list(read_events(ws / "trace.jsonl"))


def _once(key: str, tmp_path: Path, build: Callable[[Path], None]) -> Path:
    """A workspace built by build(dir) once per test process, copied to tmp_path for each test.

    Building one takes real rlm-sub runs; the tests only read it (or add to their own copy).
    """
    if key not in _BUILT:
        home = Path(tempfile.mkdtemp(prefix="rlm-test-ws-"))
        atexit.register(shutil.rmtree, home, True)
        build(home)
        _BUILT[key] = home
    for name in ("src", "ws"):
        shutil.copytree(_BUILT[key] / name, tmp_path / name, symlinks=True)
    return tmp_path / "ws"


_BUILT: dict[str, Path] = {}


def run_workspace(api: FakeAPI, tmp_path: Path, extra_line: str = "") -> Path:
    """A `run` over 10 files, one chunk each, two of which fail after 3 attempts (--partial)."""

    def build(home: Path) -> None:
        api.config.latency = 0.05  # calls overlap, so the timeline shows concurrency
        src = home / "src"
        src.mkdir()
        for i in range(10):
            fail = "this part says FAIL:500\n" if i in FAILING else ""
            (src / f"f{i:02d}.txt").write_text("apple\n" * i + fail + "pear\n" + extra_line)
        r = rlm("run", "COUNT:apple", str(src), "-w", str(home / "ws"), "--per-file",
                "--partial", "--retries", "3", "-j", "4")  # fmt: skip
        assert r.returncode == 3, r.stderr  # partial: two chunks failed

    return _once("run" + extra_line, tmp_path, build)


def tool_use(name: str, args: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{name}_{n}", "name": name, "input": args}


def grep_then_map(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A root model that greps and maps in its first turn, then answers with the saved map."""
    tools = {t["name"] for t in body.get("tools", [])}
    if not tools:
        return None  # a plain sub-call: the fake's directive rules answer it
    if tools == {"final"}:
        return [tool_use("final", {"text": "forced to finish"})]
    last = body["messages"][-1]["content"]
    if not (isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)):
        task = body["system"][0]["text"].split("The task:\n", 1)[1]
        return [
            tool_use("grep", {"pattern": "needle"}, 1),
            tool_use("map", {"task": task, "paths": ["*"], "save_as": "found"}, 2),
        ]
    return [tool_use("final", {"name": "found"})]


def solve_workspace(api: FakeAPI, tmp_path: Path) -> Path:
    """An agentic `solve`: a root loop whose map starts loops one level deeper (depths 0-2)."""

    def build(home: Path) -> None:
        api.responder = grep_then_map
        src = home / "src"
        src.mkdir()
        for f in range(4):
            lines = [f"line {i} of module {f}" for i in range(1, 121)]
            if f == 2:
                lines[40] = "the needle is here"
            (src / f"mod{f}.txt").write_text("\n".join(lines) + "\n")
        r = rlm("solve", "FIND:needle", "src", "-w", str(home / "ws"), "--agentic",
                "--chunk-tokens", "1500", cwd=home)  # fmt: skip
        assert r.returncode == 0, r.stderr

    return _once("solve", tmp_path, build)


def synthetic_trace(ws: Path, calls: int, run: str = "bigrun000001", t0: float = 1.8e9) -> None:
    """A trace of `calls` map calls (plus a reduce) with no result files: 2 events per call.

    Every 50th call failed after 4 attempts with a long error; every 10th is a straggler.
    """
    ws.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(calls):
        kind, jid = ("reduce", "L1-g0001") if i == calls - 1 else ("map", f"c{i + 1:04d}")
        start = t0 + i * 0.01
        duration = 5.0 if i % 10 == 0 else 0.5
        failed = i % 50 == 49
        lines.append({"ev": "start", "call": f"k{i:06d}", "run": run, "pid": 1, "t": start,
                      "est_tokens": 5000, "est_cost": 0.002, "id": jid, "kind": kind,
                      "depth": 1, "parent": None, "model": "claude-haiku-5-5"})  # fmt: skip
        lines.append({"ev": "end", "call": f"k{i:06d}", "run": run, "pid": 1,
                      "t": start + duration, "id": jid, "depth": 1, "model": "claude-haiku-5-5",
                      "attempts": 4 if failed else 1, "start": start, "duration_s": duration,
                      "status": "failed" if failed else "ok",
                      "usage": {"input_tokens": 0 if failed else 4000,
                                "output_tokens": 0 if failed else 300},
                      "cost_usd": 0.0 if failed else 0.00055,
                      "error": ("529 overloaded_error: " + "x" * 3000) if failed else None})  # fmt: skip
    text = "".join(json.dumps(e) + "\n" for e in lines)
    (ws / "trace.jsonl").write_text(text)


def chromium(args: list[str], page: Path, tmp_path: Path) -> str:
    """Run headless Chromium on a file (offline, no profile); returns its stdout."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the report tests render the page in headless Chromium. "
            "tests/run-all.sh installs it (apt-get install chromium); run that, or install it."
        )
    profile = tmp_path / "chromium-profile"
    r = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def dump_dom(page: Path, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran, serialized."""
    return chromium(["--dump-dom"], page, tmp_path)
