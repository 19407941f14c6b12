"""The run step and the backends' capabilities, in process on the fake backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from inprocess import fake_context

from rlm_cli.calls.backends.catalog import BACKENDS, Capabilities
from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.backends.protocol import CallError, Request
from rlm_cli.calls.context import Context, LazyBackend
from rlm_cli.calls.ledger import Budget
from rlm_cli.calls.runner import Settings
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.sources import Filters
from rlm_cli.inputs.staging import stage
from rlm_cli.progress import Reporter
from rlm_cli.steps.run import run_step
from rlm_cli.workspace import Workspace


def staged(tmp_path: Path, files: int = 6) -> Workspace:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(files):
        (src / f"m{i}.py").write_text(f"# module {i}\n" + "value = 1\n" * 300)
    ws = Workspace(tmp_path / "ws")
    stage(ws, [str(src)], Filters(), 2000, per_file=True)
    return ws


def answer(request: Request) -> str:
    if "Combine" in request.user:
        return "the combined answer"
    if "module 3" in request.user:
        raise CallError("failed", "the model refused")
    return "a finding"


def run(ws: Workspace, ctx: Context, partial: bool = False):
    return asyncio.run(run_step(ws, "Find values", ctx, None, None, partial))


def test_a_run_maps_then_reduces_and_writes_the_answer(tmp_path: Path):
    ws = staged(tmp_path)
    backend = FakeBackend(lambda r: "the combined answer" if "Combine" in r.user else "a finding")
    summary = run(ws, fake_context(backend))
    assert summary.exit_code == 0 and summary.stop is None
    final = ws.final_path.read_text()
    assert summary.answer.strip() == final.strip()
    assert final.startswith("the combined answer\n\n---\n")  # then the evidence block
    assert "Unverified: 6 answer(s)" in final  # "a finding" quotes nothing
    assert summary.mapped.called == 6 and summary.reduced.levels[-1]["groups"] == 1
    assert summary.to_dict()["map"]["answered"] == 6


def test_failed_chunks_stop_the_run_before_reduce_unless_partial(tmp_path: Path):
    ws = staged(tmp_path)
    summary = run(ws, fake_context(FakeBackend(answer)))
    assert summary.exit_code == EXIT_PARTIAL and summary.reduced is None
    assert "1 chunk(s) failed" in summary.stop.message and not ws.final_path.exists()
    summary = run(ws, fake_context(FakeBackend(answer)), partial=True)
    assert summary.exit_code == EXIT_PARTIAL and summary.mapped.cached == 5
    assert "not covered by this answer" in summary.answer


def test_a_budget_stops_the_run_with_exit_4_and_no_reduce(tmp_path: Path):
    ws = staged(tmp_path)
    backend = FakeBackend()
    summary = run(ws, fake_context(backend, Budget(max_calls=4), concurrency=1))
    assert summary.exit_code == EXIT_BUDGET and summary.reduced is None
    assert len(backend.requests) == 4 and "call budget of 4" in summary.stop.message
    assert summary.to_dict()["answer"] is None


def test_backends_say_what_they_can_do_before_loading():
    for name, known in BACKENDS.items():
        lazy = LazyBackend(name)
        assert (lazy.name, lazy.default_model) == (name, known.default_model)
        assert (lazy.supports_tools, lazy.supports_batches, lazy.supports_count_tokens) == (
            known.supports_tools, known.supports_batches, known.supports_count_tokens
        )  # fmt: skip
    with pytest.raises(RlmError, match="unknown backend 'ollama'"):
        LazyBackend("ollama")
    assert issubclass(FakeBackend, Capabilities)


def test_a_backend_that_cannot_count_says_so():
    lazy = LazyBackend("claude-code")
    with pytest.raises(RlmError, match="--exact needs the Messages API"):
        asyncio.run(lazy.count_tokens(Request("s", "u", "haiku", 1)))


def test_the_messages_api_without_a_key_fails_before_any_call():
    ctx = Context(LazyBackend("anthropic"), Settings("claude-haiku-5-5", 10), Reporter(True))
    with pytest.raises(RlmError, match="ANTHROPIC_API_KEY is not set"):
        ctx.check_credentials()
