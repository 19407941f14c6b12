"""Helpers for the in-process tests: jobs over plain strings, and a Context on the fake backend."""

from __future__ import annotations

from pathlib import Path

from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.context import Context
from rlm_cli.calls.ledger import Budget
from rlm_cli.calls.runner import Job, Settings
from rlm_cli.progress import Reporter

MODEL = "claude-haiku-5-5"  # priced, so dollar budgets apply


def text_jobs(texts: list[str], slots: Path | None = None, kind: str = "map") -> list[Job]:
    """One job per text, answered into slots/c<i> when slots is given."""
    return [
        Job(
            id=f"c{i}",
            kind=kind,
            system="task",
            material=lambda t=t: t,
            render=lambda t: t,
            slot=slots / f"c{i}" if slots else None,
            key=f"key{i}",
        )
        for i, t in enumerate(texts)
    ]


def fake_context(
    backend: FakeBackend, budget: Budget | None = None, concurrency: int = 4, **settings
) -> Context:
    """A Context whose calls go to the fake backend, quiet, with an in-memory or file ledger."""
    s = Settings(model=MODEL, max_tokens=settings.pop("max_tokens", 200), concurrency=concurrency)
    for name, value in settings.items():
        setattr(s, name, value)
    return Context(
        backend=backend, settings=s, reporter=Reporter(quiet=True), budget=budget or Budget()
    )
