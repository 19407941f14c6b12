"""The one small protocol every model backend implements."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from rlm_cli.errors import RlmError
from rlm_cli.redact import scrub

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass
class Request:
    """One model call: fixed instructions (cacheable), the per-call message, and limits.

    A tool-using loop passes the whole conversation as messages (the user text is then
    unused) and its tool definitions; a plain call has neither.
    """

    system: str
    user: str
    model: str
    max_tokens: int
    messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    child_env: dict[str, str] | None = None  # for backends that start a process per call
    max_budget_usd: float | None = None  # a session's own cap (claude -p), set under --max-cost


@dataclass
class Response:
    """A successful answer with its usage figures.

    content holds the raw content blocks (text and tool_use) for tool-using loops; cost_usd
    is set by backends that report their own cost (Claude Code), else the price table is used.
    """

    text: str
    stop_reason: str
    usage: dict[str, int] = field(default_factory=dict)
    request_id: str | None = None
    content: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float | None = None
    first_token_s: float | None = None  # streamed answers: seconds until the first text arrived


RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}


def message_params(request: Request) -> dict[str, Any]:
    """The Messages API body of a request: the fixed instructions carry a cache breakpoint.

    Live calls and Message Batches both build their bodies here, so they ask the same thing.
    """
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": [
            {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
        ],
        "messages": request.messages or [{"role": "user", "content": request.user}],
    }
    if request.tools:
        params["tools"] = request.tools
    if request.tool_choice:
        params["tool_choice"] = request.tool_choice
    return params


def error_detail(e: Any) -> str:
    """'STATUS type: message' from an API status error, whatever shape its body has."""
    body = e.body if isinstance(e.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    etype = error.get("type", "") if isinstance(error, dict) else ""
    message = error.get("message", str(e)) if isinstance(error, dict) else str(e)
    return f"{e.status_code} {etype}: {message}".strip()


class CallError(Exception):
    """A failed call, classified so the runner knows what to do next.

    kind: "retryable" (rate limit, overload, 5xx, dropped connection), "overflow" (input
    too long: split and retry), "fatal" (bad key or model: stop everything), or "failed".
    """

    def __init__(
        self,
        kind: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        spent: tuple[dict[str, int], float] | None = None,
        unreachable: bool = False,
    ) -> None:
        """spent: the usage and dollars a failed call still cost (a claude -p session)."""
        message = scrub(message)  # stored in results/*.json and the trace: no secret, no escape
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.spent = spent
        self.unreachable = unreachable  # no connection to the endpoint at all


class Backend(Protocol):
    """What the runner needs from a model backend, and what it can do (see catalog.py)."""

    name: str
    default_model: str
    supports_tools: bool
    supports_batches: bool
    supports_count_tokens: bool
    runs_sessions: bool

    async def call(self, request: Request, timeout: float) -> Response: ...

    async def count_tokens(self, request: Request) -> int:
        """Input tokens of a request; only backends with supports_count_tokens have it."""
        ...

    async def aclose(self) -> None: ...


def check_credentials() -> None:
    """Fail with a fix before any call when no credentials are configured."""
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise RlmError(
            "no model to call: ANTHROPIC_API_KEY is not set. "
            "Any one of these works: (1) an API key from the Anthropic Console: "
            "`export ANTHROPIC_API_KEY=<your key>`; (2) a Claude Code login: install Claude "
            "Code, run `claude` once to log in, and rlm-sub runs its sub-agents as `claude -p`; "
            "(3) a local engine that speaks the Messages API (Ollama, llama-server, vLLM): "
            "`export ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_AUTH_TOKEN=local` "
            "(the README's \"Local and self-hosted models\" has each engine's exact setup)."
        )
