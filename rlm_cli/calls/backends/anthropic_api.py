"""The Anthropic Messages API backend, through the official SDK (imported lazily)."""

from __future__ import annotations

import itertools
import time

import anthropic

from rlm_cli.calls.backends.catalog import MessagesApi
from rlm_cli.calls.backends.protocol import (
    RETRYABLE_STATUS,
    USAGE_FIELDS,
    CallError,
    Request,
    Response,
    check_credentials,
    error_detail,
    message_params,
)
from rlm_cli.calls.engine import LOCAL_ENGINES, is_overflow, no_tools, probe
from rlm_cli.errors import RlmError

# Above this many output tokens a non-streaming request risks the SDK's long-request
# guard and idle-connection timeouts, so the answer is streamed instead.
STREAM_ABOVE_MAX_TOKENS = 8192
CLIENT_SHARDS = 8  # SDK clients (connection pools) that calls take turns on
RETRYABLE_ERROR_TYPES = {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}


class AnthropicBackend(MessagesApi):
    """Calls the Messages API; the SDK's own retries are off because the runner owns them."""

    def __init__(self) -> None:
        check_credentials()
        # Each client pools its own connections. The SDK's pool looks at every connection
        # it holds (a syscall or two each) whenever a request starts or ends, so one pool
        # for 64 calls in flight costs ~10 ms of CPU per call; shards keep each pool small.
        self.clients = [anthropic.AsyncAnthropic(max_retries=0) for _ in range(CLIENT_SHARDS)]
        self.client = self.clients[0]
        self._turn = itertools.count()

    async def call(self, request: Request, timeout: float) -> Response:
        """Make one attempt; classify any failure as a CallError."""
        params = {**message_params(request), "timeout": timeout}
        client = self.clients[next(self._turn) % CLIENT_SHARDS]
        first: float | None = None
        try:
            # A self-hosted engine's answers stream, so the trace can tell the time to the
            # first token (prompt processing) from the time spent writing the answer.
            if (
                request.max_tokens > STREAM_ABOVE_MAX_TOKENS
                or probe(request.model).name in LOCAL_ENGINES
            ):
                began = time.monotonic()
                async with client.messages.stream(**params) as stream:
                    async for event in stream:
                        if first is None and event.type == "content_block_delta":
                            first = round(time.monotonic() - began, 3)
                    message = await stream.get_final_message()
            else:
                # The plain JSON, not the SDK's typed Message: building those models was ~8%
                # of a 64-call fan-out's event-loop time.
                raw = await client.messages.with_raw_response.create(**params)
                return _response(await raw.json(), raw.request_id)
        except anthropic.APIStatusError as e:
            raise _classify(e) from None
        except anthropic.APIConnectionError as e:
            unreachable = not isinstance(e, anthropic.APITimeoutError)
            message = f"cannot reach {self.client.base_url}: {e}"
            raise CallError("retryable", message, unreachable=unreachable) from None
        blocks = [b.model_dump(exclude_none=True) for b in message.content]
        usage = message.usage.model_dump() if message.usage else {}
        body = {"content": blocks, "stop_reason": message.stop_reason, "usage": usage}
        return _response(body, getattr(message, "_request_id", None), first)

    async def count_tokens(self, request: Request) -> int:
        """Input tokens of a request, from the free count_tokens endpoint."""
        try:
            result = await self.client.messages.count_tokens(
                model=request.model,
                system=request.system,
                messages=request.messages or [{"role": "user", "content": request.user}],
            )
        except anthropic.APIStatusError as e:
            error = _classify(e)
            raise RlmError(f"count_tokens failed: {error}") from None
        except anthropic.APIConnectionError as e:
            raise RlmError(f"count_tokens failed: connection error: {e}") from None
        return result.input_tokens

    async def aclose(self) -> None:
        for client in self.clients:
            await client.close()


def _response(body: object, request_id: str | None, first: float | None = None) -> Response:
    """A Messages API answer (as JSON) as the runner takes it; refused unless it is a message."""
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(content, list):
        raise CallError("retryable", f"the API answered with no message: {str(body)[:200]!r}")
    blocks = [{k: v for k, v in b.items() if v is not None} for b in content if isinstance(b, dict)]
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    given = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    usage = {f: v if type(v) is int else 0 for f in USAGE_FIELDS for v in [given.get(f)]}
    stop = body.get("stop_reason")
    return Response(
        text, stop if isinstance(stop, str) else "", usage, request_id,
        content=blocks, first_token_s=first,
    )  # fmt: skip


def _classify(e: anthropic.APIStatusError) -> CallError:
    """Map an API error to what the runner should do about it."""
    status = e.status_code
    detail = error_detail(e)
    etype = detail.split(" ", 1)[-1].split(":", 1)[0]
    if is_overflow(detail) or status == 413:  # each engine's way of saying it
        return CallError("overflow", detail, status)
    if no_tools(detail):  # before the 5xx rule: llama-server says it with a 500
        return CallError("fatal", no_tools(detail) or detail, status)
    if status in RETRYABLE_STATUS or etype in RETRYABLE_ERROR_TYPES:
        return CallError("retryable", detail, status, _retry_after(e.response.headers))
    if status == 401:
        return CallError(
            "fatal", f"authentication failed ({detail}): check ANTHROPIC_API_KEY", status
        )
    if status == 403:
        return CallError(
            "fatal",
            f"permission denied ({detail}): check the key's workspace and model access",
            status,
        )
    if status == 404:
        return CallError(
            "fatal",
            f"not found ({detail}): check the model name given with --model or RLM_MODEL",
            status,
        )
    return CallError("failed", detail, status)


def _retry_after(headers) -> float | None:
    """Seconds the server asked us to wait, from retry-after-ms or retry-after."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None
