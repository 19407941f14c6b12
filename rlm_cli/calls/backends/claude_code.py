"""Sub-agents as headless Claude Code (`claude -p`): for users with a Claude Code login.

The prompt goes on stdin (never as one huge argument) and the instructions in a file; the
answer, usage and cost come from `--output-format json`. Success is judged by the exit code
and `subtype`, not only `is_error`. A sub-agent at the depth limit gets no tools; one below
it may read the run's inputs and run rlm-sub from Bash, one level deeper.

Confinement is Claude Code's own: --restricted confines Read/Grep/Glob to the working
directory (the root's workspace) and the --add-dir folders (the run's input folders),
ignores the settings files of the user and of the project (a hostile repository's hooks),
and, with --permission-prompts none, denies anything not pre-approved: Bash runs only
commands that start with `rlm-sub` (no `;`, `$(...)` or `VAR=... rlm-sub`), and that rlm-sub
checks its own paths (cli/confine.py). .git folders are denied outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.backends.catalog import ClaudeCode, claude_program
from rlm_cli.calls.backends.protocol import USAGE_FIELDS, CallError, Request, Response
from rlm_cli.calls.depth import Tree
from rlm_cli.errors import RlmError

AGENT_TOOLS = "Read,Grep,Glob,Bash"
AGENT_ALLOWED = ["Read", "Grep", "Glob", "Bash(rlm-sub:*)"]
AGENT_MAX_TURNS = 30
HIDDEN = (".git",)  # never readable, even inside an input folder: a checkout's token is there
RETRYABLE = re.compile(
    r"overloaded|rate.?limit|\b(429|500|502|503|504|529)\b|timed? ?out|ECONNRESET", re.I
)
AUTH = re.compile(r"invalid api key|authentication|\b401\b|please run /login|not logged in", re.I)
OVERFLOW = re.compile(r"prompt is too long|context length|too many tokens", re.I)


class ClaudeCodeBackend(ClaudeCode):
    """Runs one `claude -p` process per call."""

    def __init__(self, tree: Tree) -> None:
        program = claude_program()
        found = shutil.which(program)
        if not found:
            raise RlmError(
                f"cannot find the Claude Code CLI ({program!r}): install it with "
                "`npm install -g @anthropic-ai/claude-code`, or set RLM_CLAUDE to its path"
            )
        self.program = found
        self.tree = tree
        self.tmp = Path(tempfile.mkdtemp(prefix="rlm-claude-"))

    def argv(self, request: Request, system_file: Path) -> list[str]:
        """The command line of one call (the prompt itself goes on stdin)."""
        argv = [
            self.program,
            "-p",
            "--output-format",
            "json",
            "--no-session-persistence",
            "--model",
            request.model,
            "--restricted",
            "--strict-mcp-config",
            "--permission-prompts",
            "none",
            *self.budget(request),
        ]
        if self.tree.children_may_delegate:
            folders = self.readable_folders()
            return [
                *argv,
                "--append-system-prompt-file",
                str(system_file),
                "--tools",
                AGENT_TOOLS,
                "--allowedTools",
                *AGENT_ALLOWED,
                "--disallowedTools",
                *[f"Read(/{folder}/{hidden}/**)" for folder in folders for hidden in HIDDEN],
                *([] if not folders else ["--add-dir", *map(str, folders)]),
                "--max-turns",
                str(AGENT_MAX_TURNS),
            ]
        return [*argv, "--system-prompt-file", str(system_file), "--tools", ""]

    @staticmethod
    def budget(request: Request) -> list[str]:
        """--max-budget-usd at the call's booking, when the run has a dollar cap."""
        if request.max_budget_usd is None:
            return []
        return ["--max-budget-usd", f"{request.max_budget_usd:.4f}"]

    def workdir(self) -> Path:
        """claude's working directory: the root's workspace, else an empty folder of its own."""
        write = [Path(p) for p in self.tree.scope.get("write", [])]
        return next((p for p in write if p.is_dir()), self.tmp)

    def readable_folders(self) -> list[Path]:
        """The folders a sub-agent's file tools may read: the working directory and input folders."""
        reads = [Path(p) for p in self.tree.scope.get("read", [])]
        return list(dict.fromkeys([self.workdir(), *(p for p in reads if p.is_dir())]))

    async def call(self, request: Request, timeout: float) -> Response:
        """Run claude once; classify any failure as a CallError."""
        system = request.system
        if self.tree.children_may_delegate:
            system += "\n\n" + prompts.DELEGATE_WITH_BASH.format(depth=self.tree.depth + 1)
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=".md")
        system_file = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(system)
        proc = None
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(request, system_file),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=request.child_env,
                cwd=self.workdir(),
                start_new_session=True,  # so a timeout can stop its whole process group
            )
            out, err = await proc.communicate(request.user.encode("utf-8"))
        except OSError as e:
            raise CallError("failed", f"cannot run {self.program}: {e.strerror or e}") from None
        finally:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            system_file.unlink(missing_ok=True)
        return parse_result(proc.returncode, out, err)

    async def aclose(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def parse_result(code: int | None, out: bytes, err: bytes) -> Response:
    """The answer from claude's JSON result, or a CallError that says what went wrong."""
    stderr = err.decode("utf-8", "replace").strip()
    try:
        result: Any = json.loads(out)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        detail = stderr or out.decode("utf-8", "replace").strip() or "no output"
        raise _classify(f"claude exited {code} without a JSON result: {detail[:300]}")
    text = result.get("result")
    subtype = result.get("subtype")
    raw = result.get("usage") if isinstance(result.get("usage"), dict) else {}
    usage = {f: int(raw.get(f) or 0) if isinstance(raw.get(f), int) else 0 for f in USAGE_FIELDS}
    cost = result.get("total_cost_usd")
    dollars = float(cost) if isinstance(cost, int | float) and cost >= 0 else None
    if code != 0 or subtype != "success" or result.get("is_error") or not isinstance(text, str):
        why = text if isinstance(text, str) and text else stderr or json.dumps(result)[:300]
        failure = _classify(f"claude exited {code}, subtype {subtype!r}: {why[:300]}")
        failure.spent = (usage, dollars or 0.0)  # a stopped session still cost what it ran
        raise failure
    return Response(
        text=text,
        stop_reason=str(result.get("stop_reason") or "end_turn"),
        usage=usage,
        request_id=result.get("session_id"),
        cost_usd=dollars,
    )


def _classify(message: str) -> CallError:
    """What the runner should do about a failed claude run."""
    if AUTH.search(message):
        return CallError(
            "fatal",
            f"{message} - log in to Claude Code (run `claude` once) or set ANTHROPIC_API_KEY",
        )
    if OVERFLOW.search(message):
        return CallError("overflow", message)
    if RETRYABLE.search(message):
        return CallError("retryable", message)
    return CallError("failed", message)
