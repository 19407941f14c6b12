"""The fake API playing a local engine: llama-server, Ollama or vLLM (Config.engine).

What differs from Anthropic's API is what rlm-sub must cope with: how each engine words
"the prompt does not fit", what it reports about itself (GET /v1/models; llama-server's
GET /props with its window, slots and tool support), any model name accepted, and
llama-server without --jinja refusing `tools` with a 500.
"""

from __future__ import annotations

from typing import Any

# (status, error type, message): the llama-server text is what it really sends; the Ollama
# and vLLM ones follow their sources' wording.
OVERFLOW = {
    "llama-server": (
        400,
        "exceed_context_size_error",
        "request ({n} tokens) exceeds the available context size ({w} tokens), try increasing it",
    ),
    "ollama": (400, "api_error", "the input length exceeds the context length"),
    "vllm": (
        400,
        "BadRequestError",
        "This model's maximum context length is {w} tokens. However, you requested {n} tokens "
        "in the messages, Please reduce the length of the messages.",
    ),
}
PROBES = {"GET /v1/models", "GET /props"}  # what rlm-sub asks an engine before its calls
NO_JINJA = "tools param requires --jinja flag"  # llama-server's words, sent with a 500


def overflow(engine: str, tokens: int, window: int) -> tuple[int, dict[str, Any]]:
    """The status and body an engine answers a prompt over its window with."""
    status, etype, text = OVERFLOW[engine]
    message = text.format(n=tokens, w=window)
    return status, {"error": {"code": status, "type": etype, "message": message}}


def info(cfg: Any, path: str) -> dict[str, Any]:
    """GET /v1/models, and llama-server's GET /props, as the engine being played serves them."""
    if path == "/props":
        props: dict[str, Any] = {
            "default_generation_settings": {"n_ctx": cfg.context_window},
            "total_slots": cfg.slots,
        }
        if cfg.caps:
            props["chat_template_caps"] = {"supports_tool_calls": cfg.tools}
        return props
    owner = {"llama-server": "llamacpp", "ollama": "library", "vllm": "vllm"}[cfg.engine]
    entry: dict[str, Any] = {"id": "local-model", "object": "model", "owned_by": owner}
    if cfg.engine == "vllm":
        entry["max_model_len"] = cfg.context_window
    return {"object": "list", "data": [entry]}
