"""Where this process sits in a recursion tree: its depth, the limit, its parent call, the ledger.

The rlm-sub a user (or the root agent) runs is at depth 0. A sub-agent that may delegate
runs its own rlm-sub with RLM_DEPTH one higher, RLM_PARENT naming the call that started it,
and RLM_TRACE pointing at the root's ledger, so depth and budgets hold across the tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rlm_cli.calls.ledger import Budget
from rlm_cli.errors import EXIT_DEPTH, RlmError

DEFAULT_MAX_DEPTH = 2


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RlmError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise RlmError(f"{name} must not be negative (got {value})")
    return value


@dataclass
class Tree:
    """This process's place in the tree."""

    depth: int = 0
    max_depth: int = DEFAULT_MAX_DEPTH
    parent: str | None = None
    trace: Path | None = None  # the root's ledger, when this process is a child
    run: str | None = None  # the root's run id, when this process is a child

    @classmethod
    def from_env(cls, max_depth: int | None = None) -> Tree:
        """Read RLM_DEPTH, RLM_MAX_DEPTH, RLM_PARENT and RLM_TRACE; a flag overrides the limit."""
        trace = os.environ.get("RLM_TRACE")
        return cls(
            depth=_int_env("RLM_DEPTH", 0),
            max_depth=max_depth
            if max_depth is not None
            else _int_env("RLM_MAX_DEPTH", DEFAULT_MAX_DEPTH),
            parent=os.environ.get("RLM_PARENT") or None,
            trace=Path(trace) if trace else None,
            run=os.environ.get("RLM_RUN") or None if trace else None,
        )

    def check_can_call(self) -> None:
        """Refuse at once to start sub-calls from beyond the depth limit."""
        if self.depth >= self.max_depth:
            raise RlmError(
                f"depth limit reached: this rlm-sub runs at depth {self.depth} and "
                f"RLM_MAX_DEPTH is {self.max_depth}, so it may not start sub-agents. "
                "Answer from what you can read directly instead of delegating.",
                EXIT_DEPTH,
            )

    @property
    def children_may_delegate(self) -> bool:
        """Whether this process's sub-agents are below the limit and so may delegate further."""
        return self.depth + 1 < self.max_depth

    def child_env(self, call: str, trace: Path | None, run: str, budget: Budget) -> dict[str, str]:
        """The environment of a sub-agent process started for `call` (CLAUDECODE removed)."""
        env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
        env.update(
            RLM_DEPTH=str(self.depth + 1),
            RLM_MAX_DEPTH=str(self.max_depth),
            RLM_PARENT=call,
            **budget.env(),
        )
        if trace is not None:
            env.update(RLM_TRACE=str(trace.resolve()), RLM_RUN=run)
        return env
