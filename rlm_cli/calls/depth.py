"""Where this process sits in a recursion tree: its depth, the limit, its parent call, the ledger.

The rlm-sub a user (or the root agent) runs is at depth 0. A sub-agent that may delegate
runs its own rlm-sub with RLM_DEPTH one higher, RLM_PARENT naming the call that started it,
and RLM_TRACE pointing at the root's ledger, so depth and budgets hold across the tree.

Limits only go down: the root records its depth limit, budgets and scope (what the tree may
read and write) in its ledger; a child reads them there, and a larger flag or variable of its
own is clamped to them, with a notice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.calls.ledger import Budget, read_limits
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
    scope: dict[str, list[str]] = field(default_factory=dict)  # "read"/"write" roots, resolved

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
        )._with_scope()

    def _with_scope(self) -> Tree:
        """A child's scope as its parent passed it on; a root's, its inputs (record_inputs)."""
        self.scope = _scope_env() if self.is_child else {"read": list(_root_inputs)}
        return self

    @property
    def is_child(self) -> bool:
        """Whether a sub-agent started this process (so the root's limits and scope bind it)."""
        return self.depth > 0 or self.trace is not None

    def settle_scope(self, workspace: Path | None) -> None:
        """A root's scope: its inputs (recorded at the command line) and its workspace.

        The workspace is where the whole tree may write; a child keeps the root's scope.
        """
        if self.is_child:
            return
        write = [str(workspace.resolve())] if workspace is not None else []
        self.scope = {"read": [*self.scope.get("read", []), *write], "write": write}

    def limits(self, budget: Budget) -> dict[str, Any]:
        """What the root records in its ledger for every descendant to read."""
        return {"max_depth": self.max_depth, **budget.fields(), "scope": self.scope}

    def inherit(self, budget: Budget, quiet: bool = False) -> list[str]:
        """Clamp this child's depth limit, budgets and scope to the root's; notices of clamps.

        The root's ledger holds the limits; a child with no ledger (its root had no
        workspace) takes them from the variables its parent set. A child whose RLM_TRACE
        names a ledger without a record of its run is refused: it could otherwise escape the
        root's budgets by pointing elsewhere.
        """
        if not self.is_child:
            return []
        if self.trace is None or self.run is None:
            recorded: dict[str, Any] | None = _env_limits()
        else:
            recorded = read_limits(self.trace, self.run)
        if recorded is None:
            raise RlmError(
                f"RLM_TRACE={self.trace} and RLM_RUN={self.run} name no run of a root rlm-sub: "
                "a sub-agent's rlm-sub must run under the ledger of the run that started it"
            )
        notices = []
        root_depth = recorded.get("max_depth")
        if isinstance(root_depth, int) and self.max_depth > root_depth:
            notices.append(f"--max-depth {self.max_depth} is above the root's {root_depth}")
            self.max_depth = root_depth
        for name, value in budget.clamp(recorded).items():
            notices.append(f"--{name.replace('_', '-')} {value} is above the root's limit")
        scope = recorded.get("scope", self.scope)
        self.scope = scope if isinstance(scope, dict) else {}
        return [] if quiet else [f"{n}: using the root's (limits only go down)" for n in notices]

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
        """The environment of a sub-agent process started for `call`: an allow-list.

        What a sub-agent needs to run and reach its endpoint (see passed_on); never the
        caller's other secrets (GITHUB_TOKEN, cloud keys), and never CLAUDECODE.
        """
        env = {k: v for k, v in os.environ.items() if passed_on(k)}
        env.update(
            RLM_DEPTH=str(self.depth + 1),
            RLM_MAX_DEPTH=str(self.max_depth),
            RLM_PARENT=call,
            **budget.env(),
        )
        if trace is not None:  # the child reads the scope from the root's ledger (inherit)
            env.update(RLM_TRACE=str(trace.resolve()), RLM_RUN=run)
        else:
            env["RLM_SCOPE"] = _scope_value(self.scope)
        return env


# A root's inputs, resolved: the start of its scope. The command line records them here for
# this process only (cli/confine.py), never in the environment: every process the root
# starts would inherit them, and Linux refuses to start one with a variable over 128 KiB.
_root_inputs: list[str] = []


def record_inputs(paths: list[str]) -> None:
    """Record a root's resolved inputs, which its whole tree may read (see settle_scope)."""
    _root_inputs[:] = paths


def _scope_value(scope: dict[str, list[str]]) -> str:
    """The scope as RLM_SCOPE for a child with no ledger to read it from, if it fits."""
    value = json.dumps(scope)
    if len(value) > MAX_SCOPE_ENV:
        raise RlmError(
            f"{len(scope.get('read', [])):,} named inputs are too many to pass to a sub-agent "
            "process without a workspace: give -w DIR (its ledger carries them), or name "
            "their folders instead of each file"
        )
    return value


MAX_SCOPE_ENV = 100_000  # characters; Linux's limit for one variable is 131,072 bytes


def _scope_env() -> dict[str, list[str]]:
    raw = os.environ.get("RLM_SCOPE", "")
    try:
        scope = json.loads(raw) if raw else {}
    except ValueError:
        raise RlmError("RLM_SCOPE is not valid JSON: it is set by rlm-sub, not by hand") from None
    if not isinstance(scope, dict):
        return {}
    return {k: [str(p) for p in v] for k, v in scope.items() if isinstance(v, list)}


# Passed to a sub-agent process: what it needs to run, to find its tools and to reach its
# endpoint. Everything else in the caller's environment stays behind.
PASSED_NAMES = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR",
    "VIRTUAL_ENV", "PYTHONPATH", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy", "CLAUDE_CONFIG_DIR",
}  # fmt: skip
PASSED_PREFIXES = ("LC_", "XDG_", "ANTHROPIC_", "CLAUDE_CODE_", "DISABLE_", "RLM_")
KEPT_BACK = {"RLM_WORKSPACE", "RLM_SCOPE"}  # the root's own workspace; the scope is set per child
# Cloud providers' credentials, passed only when Claude Code is told to use that provider.
PROVIDERS = {"CLAUDE_CODE_USE_BEDROCK": ("AWS_",), "CLAUDE_CODE_USE_VERTEX": ("GOOGLE_", "CLOUD_ML_", "VERTEX_")}  # fmt: skip


def passed_on(name: str) -> bool:
    """Whether a variable of the caller's environment reaches a sub-agent process."""
    if name in KEPT_BACK:
        return False
    extra = {n.strip() for n in os.environ.get("RLM_CLAUDE_ENV", "").split(",") if n.strip()}
    if name in PASSED_NAMES or name in extra or name.startswith(PASSED_PREFIXES):
        return True
    return any(
        os.environ.get(flag, "") not in ("", "0") and name.startswith(prefixes)
        for flag, prefixes in PROVIDERS.items()
    )


def _env_limits() -> dict[str, Any]:
    """The limits a parent passed in the environment, for a child with no ledger to read."""
    limits: dict[str, Any] = {}
    for name, kind in (
        ("max_depth", int),
        ("max_calls", int),
        ("max_tokens", int),
        ("max_cost", float),
    ):
        raw = os.environ.get(f"RLM_{name.upper()}", "").strip()
        try:
            limits[name] = kind(raw) if raw else None
        except ValueError:
            continue
    return {k: v for k, v in limits.items() if v is not None}
