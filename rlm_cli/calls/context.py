"""The object every step gets: backend, settings, reporter, depth, budgets and the ledger."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field

from rlm_cli.calls.backends.catalog import (
    BACKENDS,
    DEFAULT_BACKEND,
    ClaudeCode,
    MessagesApi,
    claude_program,
)
from rlm_cli.calls.backends.protocol import Backend, Request, Response, check_credentials
from rlm_cli.calls.depth import Tree
from rlm_cli.calls.ledger import Budget, Ledger
from rlm_cli.calls.runner import Runner, Settings
from rlm_cli.errors import RlmError
from rlm_cli.progress import Reporter
from rlm_cli.workspace import Workspace


def check_ready(name: str) -> None:
    """Fail with the fix when the named backend cannot run here; cheap (no SDK import)."""
    if name == MessagesApi.name:
        check_credentials()
    elif name == ClaudeCode.name and not shutil.which(claude_program()):
        raise RlmError(
            f"cannot find the Claude Code CLI ({claude_program()!r}) for --backend claude-code: "
            "install Claude Code and log in, or set RLM_CLAUDE to its path"
        )


def make_backend(name: str, tree: Tree) -> Backend:
    """Build the named backend; its SDK or program is loaded only here, when a call is needed."""
    if name == MessagesApi.name:
        import gc

        check_credentials()  # before the SDK import: a missing key fails at once
        from rlm_cli.calls.backends.anthropic_api import AnthropicBackend

        # The SDK import leaves ~10^5 long-lived objects that every full garbage collection
        # would walk again (a 0.1-0.2 s stall of all calls in flight); freeze them. Each call
        # allocates thousands of short-lived objects: collecting the young every 10,000
        # allocations, not 700, cut a 9,000-call map's collection time from 2.0 s to 0.45 s
        # and its longest pause from 0.2 s to 0.05 s.
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        return AnthropicBackend()
    if name == ClaudeCode.name:
        from rlm_cli.calls.backends.claude_code import ClaudeCodeBackend

        return ClaudeCodeBackend(tree)
    raise RlmError(f"unknown backend {name!r}: choose {' or '.join(BACKENDS)}")


class LazyBackend:
    """Creates the real backend (and imports its SDK) only when a call is actually made.

    What the backend can do is known before: its entry in catalog.py.
    """

    def __init__(self, name: str = DEFAULT_BACKEND, tree: Tree | None = None) -> None:
        if name not in BACKENDS:
            raise RlmError(f"unknown backend {name!r}: choose {' or '.join(BACKENDS)}")
        known = BACKENDS[name]
        self.name = name
        self.default_model = known.default_model
        self.supports_tools = known.supports_tools
        self.supports_batches = known.supports_batches
        self.supports_count_tokens = known.supports_count_tokens
        self.runs_sessions = known.runs_sessions
        self.tree = tree or Tree()
        self._backend: Backend | None = None

    def ready(self) -> Backend:
        """The real backend, created (and its SDK imported) now if not yet."""
        if self._backend is None:
            self._backend = make_backend(self.name, self.tree)
        return self._backend

    async def call(self, request: Request, timeout: float) -> Response:
        return await self.ready().call(request, timeout)

    async def count_tokens(self, request: Request) -> int:
        if not self.supports_count_tokens:
            raise RlmError(f"--exact needs the Messages API; the {self.name} backend cannot count")
        return await self.ready().count_tokens(request)

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()


@dataclass
class Context:
    """What every step of one command shares: backend, settings, reporter, tree and ledger."""

    backend: Backend
    settings: Settings
    reporter: Reporter
    tree: Tree = field(default_factory=Tree)
    budget: Budget = field(default_factory=Budget)
    ledger: Ledger | None = None
    slots: asyncio.Semaphore | None = None  # calls in flight, across every runner of the process
    agentic: bool = False  # map's sub-agents are solve loops one level deeper (steps/solve.py)
    max_turns: int = 12
    shard: tuple[int, int] | None = None  # map only shard I of N of the chunks

    def open_ledger(self, ws: Workspace | None) -> Ledger:
        """The tree's ledger (the root's, or this workspace's), opened on first use.

        Fails when this process may not call at all (a sub-agent at the depth limit).
        """
        if self.ledger is None:
            self.tree.check_can_call()
            path = self.tree.trace or (ws.trace_path if ws else None)
            self.tree.settle_scope(ws.root if ws else None)
            self.ledger = Ledger(path, self.budget, self.tree.run, self.tree.limits(self.budget))
            self.slots = asyncio.Semaphore(self.settings.concurrency)
        return self.ledger

    def runner(self, ws: Workspace | None, tree: Tree | None = None) -> Runner:
        """A runner booking its calls in the tree's ledger, sharing this process's call slots.

        tree places the runner's calls deeper than this process, for in-process sub-agents.
        """
        ledger = self.open_ledger(ws)
        on_done = self.reporter.advance if tree is None else None
        return Runner(self.backend, self.settings, ledger, on_done, tree or self.tree, self.slots)

    def check_credentials(self) -> None:
        """Load the backend now, failing before any call when it cannot authenticate.

        Loading here, before the first call is booked, keeps the SDK's import time out of
        the first calls' durations in the trace.
        """
        if isinstance(self.backend, LazyBackend):
            self.backend.ready()
