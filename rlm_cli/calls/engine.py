"""What the engine behind ANTHROPIC_BASE_URL offers: its context window, slots, and locality.

Anthropic's API, llama.cpp's llama-server, Ollama (>= 0.14) and vLLM all serve the
Messages API. Local and self-hosted engines differ in what a user should expect: a
window of a few thousand tokens, one or a few slots (requests answered at once), no
price, and their own words for "the input is too long". This module asks the engine
(with the standard library, so no SDK import) and caches what it said for the process.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

ANTHROPIC_HOST = "api.anthropic.com"
PROBE_TIMEOUT = 3.0
LOADING_WAIT = 60.0  # seconds to wait for an engine that answers 503 while loading its model
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
LOCAL_CONCURRENCY = 1  # a local engine with no slot count: one request at a time
LOCAL_ENGINES = ("llama-server", "ollama", "vllm")  # engines probe() can name
LOCAL_MAX_OUTPUT = 1024  # bounds a small model that loops until its window is full

# How each engine says the input does not fit; matched case-insensitively.
OVERFLOW_PATTERNS = (
    r"prompt is too long",  # Anthropic
    r"exceed_context_size_error|exceeds the available context size",  # llama-server
    r"input length exceeds the context length",  # Ollama
    r"maximum context length is",  # vLLM, OpenAI-style servers
    r"longer than the maximum model length",  # vLLM (the prompt alone is too long)
    r"context_length_exceeded|context length exceeded",  # other OpenAI-style servers
    r"input length and `?max_tokens`? exceed context limit",  # Anthropic, input + max_tokens
)
OVERFLOW_RE = re.compile("|".join(OVERFLOW_PATTERNS), re.IGNORECASE)
WINDOW_RES = (
    re.compile(r"available context size \((\d+) tokens\)"),  # llama-server
    re.compile(r"maximum context length is (\d+) tokens"),  # vLLM
    re.compile(r"maximum model length of (\d+)"),  # vLLM
    re.compile(r"> (\d+) maximum"),  # Anthropic: "N tokens > M maximum"
)


def is_overflow(detail: str) -> bool:
    """Whether an engine's error message says the request is longer than its window."""
    return bool(OVERFLOW_RE.search(detail))


def window_in(detail: str) -> int | None:
    """The context window an overflow message states, when it states one."""
    for pattern in WINDOW_RES:
        found = pattern.search(detail)
        if found:
            return int(found.group(1))
    return None


@dataclass(frozen=True)
class Engine:
    """What is known about the engine at base_url; None where the engine does not say."""

    base_url: str
    local: bool
    context_window: int | None = None
    slots: int | None = None
    tools: bool | None = None  # whether its chat template can call tools (llama-server)
    name: str = "anthropic"


def base_url() -> str:
    """The Messages API endpoint the SDK will use."""
    return (os.environ.get("ANTHROPIC_BASE_URL") or f"https://{ANTHROPIC_HOST}").rstrip("/")


def is_local(url: str) -> bool:
    """Whether url points at this machine (a local engine, or a test's fake server)."""
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def self_hosted(url: str) -> bool:
    """Whether url is some engine other than Anthropic's own API."""
    return (urlsplit(url).hostname or "") != ANTHROPIC_HOST


def _get(url: str) -> dict | None:
    """GET url as JSON within PROBE_TIMEOUT; None when it is not there or not JSON.

    A server still loading its model answers 503 (llama-server: "Loading model"); that is
    asked again for up to LOADING_WAIT seconds, so a probe right after start-up still counts.
    """
    headers = {"accept": "application/json"}
    key = os.environ.get("ANTHROPIC_AUTH_TOKEN") or os.environ.get("ANTHROPIC_API_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    import urllib.error  # here: urllib.request (with http.client and ssl) costs ~20 ms to import
    import urllib.request

    deadline = time.monotonic() + LOADING_WAIT
    while True:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=PROBE_TIMEOUT
            ) as response:
                body = json.loads(response.read(1_000_000))
        except urllib.error.HTTPError as e:
            if e.code == 503 and time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            return None
        except (OSError, ValueError, urllib.error.URLError):
            return None
        return body if isinstance(body, dict) else None


def _llama_server(url: str) -> Engine:
    """llama-server's /props: the window of one slot, the slot count, tool support."""
    props = _get(f"{url}/props") or {}
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    slots = props.get("total_slots")
    caps = props.get("chat_template_caps")
    tools = caps.get("supports_tool_calls") if isinstance(caps, dict) else None
    return Engine(
        url,
        is_local(url),
        n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None,
        slots if isinstance(slots, int) and slots > 0 else None,
        tools if isinstance(tools, bool) else None,
        "llama-server",
    )


def probe(model: str, url: str | None = None) -> Engine:
    """Ask the engine at url (default: ANTHROPIC_BASE_URL) what it offers; cached per URL."""
    return _probe((url or base_url()).rstrip("/"), model)


@cache
def _probe(url: str, model: str) -> Engine:
    """What the engine at url offers for model, asked once per process.

    One GET of /v1/models (which llama-server, vLLM and Ollama all serve) tells them
    apart; llama-server's /props then gives its window and slots. Anthropic's own API is
    never probed. A server that answers neither is an Engine with nothing known.
    """
    if not self_hosted(url):
        return Engine(url, False)
    listed = (_get(f"{url}/v1/models") or {}).get("data")
    entries = [e for e in listed if isinstance(e, dict)] if isinstance(listed, list) else []
    owners = {e.get("owned_by") for e in entries}
    if "llamacpp" in owners:
        return _llama_server(url)
    for entry in entries:
        one = entry.get("id") == model or len(entries) == 1  # vLLM serves one model, usually
        if one and isinstance(entry.get("max_model_len"), int):
            return Engine(url, is_local(url), entry["max_model_len"], name="vllm")
    if owners & {"library", "ollama"}:
        return Engine(url, is_local(url), name="ollama")
    return Engine(url, is_local(url), name="unknown" if entries else "none")


def local_defaults(engine: Engine) -> tuple[int | None, int | None]:
    """Concurrency and max output that fit this engine, or None to keep the usual defaults.

    A llama-server answers `slots` requests at once (more only wait in its queue) and
    Ollama one per model unless told otherwise; a small model may repeat itself until
    its window is full, so the output is bounded by an eighth of the window (or 1024).
    """
    if engine.name not in LOCAL_ENGINES:
        return None, None
    concurrency = None if engine.name == "vllm" else engine.slots or LOCAL_CONCURRENCY
    window = engine.context_window
    max_output = min(4096, max(256, window // 8)) if window else LOCAL_MAX_OUTPUT
    return concurrency, max_output


# How engines refuse a request with tools when the model or server offers no tool use.
NO_TOOLS_RE = re.compile(
    r"requires --jinja|does not support tools|--enable-auto-tool-choice", re.IGNORECASE
)
NO_TOOLS_FIX = (
    "solve drives a tool-using loop, and {what}. Use `rlm-sub run PROMPT PATH...` (plain "
    "calls, no tools) with this model, or a model and engine with tool use (llama-server "
    "started with --jinja and a model whose chat template has tools; Ollama and vLLM "
    "models listed as supporting tools)"
)


def no_tools(detail: str) -> str | None:
    """The fix to print when an engine's error says it cannot take tools; else None."""
    if NO_TOOLS_RE.search(detail):
        return NO_TOOLS_FIX.format(what=f"the engine refused tools ({detail})")
    return None


def tools_problem(model: str) -> str | None:
    """Why solve cannot work with this engine, known before any call; None if not known."""
    engine = probe(model)
    if engine.tools is False:
        return NO_TOOLS_FIX.format(
            what=f"the {engine.name} at {engine.base_url} reports that its chat template "
            "has no tool calls"
        )
    return None
