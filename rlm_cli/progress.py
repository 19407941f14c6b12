"""Everything rlm-sub tells the user on stderr: progress bars, summaries, warnings."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rlm_cli.redact import scrub


def progress_interval() -> float:
    """Seconds between progress lines off a terminal (RLM_PROGRESS_INTERVAL, default 30)."""
    try:
        return max(0.01, float(os.environ.get("RLM_PROGRESS_INTERVAL", "30")))
    except ValueError:
        return 30.0


class Reporter:
    """Progress bars on a terminal; off one (CI) a line every interval; warnings always."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live = not quiet and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self.failed = 0
        self.done = 0

    def info(self, message: str) -> None:
        if not self.quiet:
            print(scrub(message), file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {scrub(message)}", file=sys.stderr, flush=True)

    def line(self, label: str, total: int, started: float) -> str:
        """One progress line: calls done of total, failures, seconds since the start."""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{label}: {self.done}/{total} calls done{failed}; {time.monotonic() - started:.0f}s"

    @contextmanager
    def task(self, label: str, total: int) -> Iterator[None]:
        """Show progress of `total` calls while the block runs: a bar, or lines off a terminal."""
        self.failed = self.done = 0
        if self.quiet or total == 0:
            yield
            return
        if not self.live:
            with self._lines(label, total):
                yield
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as progress:
            self._progress = progress
            self._task = progress.add_task(label, total=total, failed="")
            try:
                yield
            finally:
                self._progress = None

    @contextmanager
    def _lines(self, label: str, total: int) -> Iterator[None]:
        """Off a terminal: a line on stderr every progress_interval() seconds, and at the end.

        A timer thread prints them, so a CI log shows the run is alive even while no call
        finishes (runners kill jobs that stay silent for minutes).
        """
        started, stop = time.monotonic(), threading.Event()

        def beat() -> None:
            while not stop.wait(progress_interval()):
                self.info(self.line(label, total, started))

        timer = threading.Thread(target=beat, name="rlm-progress", daemon=True)
        timer.start()
        try:
            yield
        finally:
            stop.set()
            timer.join()
            self.info(self.line(label, total, started))

    def advance(self, outcome: Any) -> None:
        """Count one finished call."""
        self.done += 1
        if outcome.status == "failed":
            self.failed += 1
        if self._progress is not None:
            failed = f"[red]{self.failed} failed[/]" if self.failed else ""
            self._progress.update(self._task, advance=1, failed=failed)


class StatusLine:
    """One line of news about a long wait: redrawn on a terminal, else printed when it changes.

    Off a terminal the line is printed again at least every `heartbeat` seconds, so a CI log
    shows the wait is alive; --quiet silences it.
    """

    def __init__(self, reporter: Reporter, first: str, heartbeat: float = 60.0) -> None:
        self.reporter = reporter
        self.first = first
        self.heartbeat = heartbeat
        self.status: Any = None
        self.last_line = ""
        self.last_time = 0.0
        self.started = time.monotonic()

    def __enter__(self) -> StatusLine:
        if self.reporter.live:
            from rich.console import Console

            self.status = Console(stderr=True).status(self.first)
            self.status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def update(self, line: str, live_suffix: str = "") -> None:
        """Show line; live_suffix (e.g. when the next look is) only on a terminal."""
        elapsed = time.monotonic() - self.started
        if self.status is not None:
            self.status.update(f"{line}; {live_suffix} ({elapsed:.0f}s elapsed)")
        elif line != self.last_line or time.monotonic() - self.last_time >= self.heartbeat:
            self.reporter.info(f"{line} ({elapsed:.0f}s elapsed)")
            self.last_line, self.last_time = line, time.monotonic()


def plural(n: int, noun: str) -> str:
    """1 chunk, 2 chunks: a count with its noun."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def skipped_line(skipped: list[dict[str, str]], shown: int = 5) -> str:
    """One warning for every skipped file: counts by reason, then the first few names."""
    reasons: dict[str, int] = {}
    for s in skipped:
        reason = s["reason"].split(" (")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    why = ", ".join(f"{n} {r}" for r, n in reasons.items())
    names = ", ".join(s["path"] for s in skipped[:shown])
    more = f" and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return f"skipped {plural(len(skipped), 'file')} ({why}): {names}{more}"


def human(n: float) -> str:
    """1234567 -> '1.2M'."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(int(n))


def usage_line(usage: dict[str, int], dollars: float | None = 0.0) -> str:
    """Token usage and cost in one short phrase; dollars None means the price is unknown."""
    text = f"{human(usage.get('input_tokens', 0))} tokens in, {human(usage.get('output_tokens', 0))} out"
    cache = usage.get("cache_read_input_tokens", 0)
    if cache:
        text += f", {human(cache)} read from cache"
    if dollars is None:
        text += ", cost unknown (no price for the model: --price IN/OUT)"
    elif dollars:
        text += f", ${dollars:.4f}" if dollars >= 0.0001 else ", <$0.0001"
    return text
