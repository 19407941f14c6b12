"""The command line's confinement: a sub-agent's rlm-sub reads and writes only what the root allows.

The root rlm-sub (the one a person or CI runs) records what its tree may read: the inputs
it was given, and later its workspace, which is also the only place the tree may write
(calls/depth.py keeps this scope in the root's ledger). An rlm-sub that a sub-agent started
checks every path on its command line against that scope before doing anything: input
paths and @file prompts must lie inside the inputs or the workspace (never in a .git
folder), -o and -w inside the workspace, and install-skill is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from rlm_cli.calls.depth import Tree, record_inputs
from rlm_cli.calls.ledger import Budget
from rlm_cli.cli.failures import CliError
from rlm_cli.errors import RlmError

READS = ("paths",)  # parameters naming inputs
WRITES = ("output", "workspace")  # parameters naming files or folders rlm-sub writes
DEFAULT_WORKSPACE = ("run", "plan", "solve")  # without -w, they write .rlm/... in the cwd
CALLING = {"query", "map", "reduce", "run", "solve", "eval"}  # commands that make model calls
FORBIDDEN = {"install-skill": "a sub-agent may not install skills"}
HIDDEN_DIRS = {".git"}  # inside an input root, still never readable: it holds credentials


class ConfinedGroup(click.Group):
    """A click group that records the root's inputs, or confines a sub-agent's paths."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is None or name is None or {"--help", "-h"} & set(rest):
            return name, command, rest
        try:
            if name not in CALLING and not Tree.from_env().is_child:
                return name, command, rest  # a root that starts no sub-agent: no scope to record
            with command.make_context(name, list(rest), parent=ctx, resilient_parsing=True) as sub:
                params = dict(sub.params)
            confine(name, params)
        except RlmError as e:
            raise CliError(e.message, e.exit_code) from None
        return name, command, rest


def confine(command: str, params: dict[str, Any]) -> None:
    """Record a root's inputs as its scope, or refuse a sub-agent's paths outside the scope."""
    tree = Tree.from_env(params.get("max_depth"))
    if not tree.is_child:  # a calling root (see resolve_command): its scope, for sub-agents
        record_inputs(resolved(_reads(params)))
        return
    tree.inherit(Budget(), quiet=True)
    if command in CALLING:
        tree.check_can_call()  # the clearest refusal first: no delegation at the limit
    if command in FORBIDDEN:
        raise RlmError(f"{command} refused: {FORBIDDEN[command]} (RLM_DEPTH={tree.depth})")
    writable = [Path(p) for p in tree.scope.get("write", [])]
    readable = [Path(p) for p in tree.scope.get("read", [])] + writable
    for path in _reads(params):
        _check(path, readable, "read", "the inputs of the run that started this sub-agent")
    for key in WRITES:
        if params.get(key) is not None:
            _check(str(params[key]), writable, "write", "the workspace of the root run")
    if command in DEFAULT_WORKSPACE and params.get("workspace") is None:
        _check(".rlm", writable, "write", "the workspace of the root run (pass -w DIR there)")


def _reads(params: dict[str, Any]) -> list[str]:
    """The files and folders a command line names as inputs (stdin, '-', is not a path)."""
    paths = [str(p) for key in READS for p in params.get(key) or () if str(p) != "-"]
    prompt = params.get("prompt")
    if isinstance(prompt, str) and prompt.startswith("@") and len(prompt) > 1:
        paths.append(prompt[1:])
    return paths


def resolved(paths: list[str]) -> list[str]:
    """Each path with links resolved, as Path.resolve() gives it; each folder resolved once.

    Thousands of files named in a few folders cost one lstat each, not one per component.
    """
    folders: dict[str, str] = {}
    out = []
    cwd = os.getcwd()  # once: abspath would ask the system for it again for every path
    for p in paths:
        if ".." in p and ".." in p.split(os.sep):
            out.append(os.path.realpath(p))  # ".." after a link: resolve the whole path
            continue
        folder, _, name = os.path.normpath(os.path.join(cwd, p)).rpartition(os.sep)
        if name in ("", "."):
            out.append(os.path.realpath(p))
            continue
        if folder not in folders:
            folders[folder] = os.path.realpath(folder or os.sep).rstrip(os.sep)
        full = f"{folders[folder]}{os.sep}{name}"
        out.append(os.path.realpath(full) if os.path.islink(full) else full)
    return out


def _check(raw: str, roots: list[Path], verb: str, what: str) -> None:
    """Refuse a path that resolves (links followed) outside roots, or into a .git folder."""
    path = Path(raw).resolve()
    for root in roots:
        if path == root or path.is_relative_to(root):
            inside = path.relative_to(root).parts
            if not HIDDEN_DIRS.intersection(inside):
                return
            break
    allowed = ", ".join(str(r) for r in roots) or "nothing"
    raise RlmError(
        f"refused to {verb} {raw!r}: a sub-agent's rlm-sub may {verb} only inside {what} "
        f"({allowed}), never a .git folder"
    )
