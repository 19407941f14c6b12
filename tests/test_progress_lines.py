"""Off a terminal (CI), a live map prints one progress line on stderr every interval and one
at the end; --quiet silences them. RLM_PROGRESS_INTERVAL sets the interval (default 30 s)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from conftest import rlm
from corpus import corpus
from fake_api import FakeAPI

from rlm_cli.progress import Reporter

LINE = re.compile(r"^map: (\d+)/6 calls done(, \d+ failed)?; \d+s$")


def staged(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    assert (
        rlm("chunk", str(corpus(tmp_path / "src", 6, 3)), "-w", str(ws), "--per-file").returncode
        == 0
    )
    return ws


def test_piped_map_prints_a_line_every_interval_and_at_the_end(fake_api: FakeAPI, tmp_path):
    ws = staged(tmp_path)
    fake_api.config.latency = 0.3  # six calls one at a time: about 2 s, many 0.05 s intervals
    r = rlm("map", "Summarise", "-w", str(ws), "-j", "1", env={"RLM_PROGRESS_INTERVAL": "0.05"})
    assert r.returncode == 0, r.stderr
    lines = [m for m in map(LINE.match, r.stderr.splitlines()) if m]
    assert len(lines) >= 3, r.stderr
    done = [int(m.group(1)) for m in lines]
    assert done == sorted(done) and done[-1] == 6 and done[0] < 6
    assert "\r" not in r.stderr and "━" not in r.stderr  # lines, not a redrawn bar


def test_quiet_silences_the_progress_lines(fake_api: FakeAPI, tmp_path):
    ws = staged(tmp_path)
    r = rlm("map", "Summarise", "-w", str(ws), "--quiet", env={"RLM_PROGRESS_INTERVAL": "0.01"})
    assert r.returncode == 0, r.stderr
    assert not [line for line in r.stderr.splitlines() if LINE.match(line)]


def test_the_line_counts_done_and_failed_calls():
    class Outcome:
        def __init__(self, status: str) -> None:
            self.status = status

    reporter = Reporter()
    started = time.monotonic()
    for status in ("ok", "failed", "ok"):
        reporter.advance(Outcome(status))
    assert reporter.line("map", 6, started) == "map: 3/6 calls done, 1 failed; 0s"
