"""The backends rlm-sub knows and what each can do, readable before its SDK or program loads.

Each backend class inherits its entry here, so a step asks `backend.supports_batches`, never
which backend it has; LazyBackend (calls/context.py) answers the same before loading one.
"""

from __future__ import annotations

import os
import shutil
from typing import ClassVar


class Capabilities:
    """What a backend can do; the base of every backend class."""

    name: ClassVar[str]
    default_model: ClassVar[str]  # the model when --model is not given
    supports_tools: ClassVar[bool] = False  # tool-using loops (solve, --agentic)
    supports_batches: ClassVar[bool] = False  # the Message Batches API (map --batch)
    supports_count_tokens: ClassVar[bool] = False  # exact input counts (--dry-run --exact)
    calls_endpoint: ClassVar[bool] = False  # calls ANTHROPIC_BASE_URL itself: price, engine probe
    runs_sessions: ClassVar[bool] = False  # a call is a process of many turns (booked up front)


class MessagesApi(Capabilities):
    """The Anthropic Messages API through the official SDK."""

    name = "anthropic"
    default_model = "claude-haiku-5-5"
    supports_tools = True
    supports_batches = True
    supports_count_tokens = True
    calls_endpoint = True


class ClaudeCode(Capabilities):
    """Headless Claude Code (`claude -p`), one process per call."""

    name = "claude-code"
    default_model = "haiku"
    runs_sessions = True


BACKENDS: dict[str, type[Capabilities]] = {b.name: b for b in (MessagesApi, ClaudeCode)}
DEFAULT_BACKEND = MessagesApi.name
AUTO = "auto"  # the default: whichever backend this machine can run, see choose()


def claude_program() -> str:
    """The Claude Code program the claude-code backend starts."""
    return os.environ.get("RLM_CLAUDE") or "claude"


def choose(name: str) -> str:
    """The backend to use: `auto` is an API key's Messages API, else a `claude` on PATH.

    With neither, the Messages API: its credential check then names every way to get one.
    """
    if name != AUTO:
        return name
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        return MessagesApi.name
    if shutil.which(claude_program()):
        return ClaudeCode.name
    return MessagesApi.name
