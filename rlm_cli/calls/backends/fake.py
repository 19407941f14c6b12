"""An in-process backend for tests: a function of the request answers it, no network.

Like httpx's MockTransport or llm's MockModel: `FakeBackend(lambda r: "answer")` is a
backend the runner, the ledger and every step use as they use the real ones. The function
may return text, a Response, or an awaitable of either, or raise CallError.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from rlm_cli.calls.backends.catalog import Capabilities
from rlm_cli.calls.backends.protocol import Request, Response
from rlm_cli.inputs.chunking import estimate_tokens

Answer = Callable[[Request], "str | Response | Awaitable[str | Response]"]


def request_tokens(request: Request) -> int:
    """The input tokens the fake reports for a request: its estimate, as the runner makes it."""
    texts = [request.system, request.user, *(str(m.get("content")) for m in request.messages or [])]
    return sum(estimate_tokens(t) for t in texts)


class FakeBackend(Capabilities):
    """Answers every request with answer(request); keeps the requests it was sent."""

    name = "fake"
    default_model = "claude-haiku-5-5"  # a priced model, so dollar budgets apply
    supports_tools = True
    supports_count_tokens = True

    def __init__(self, answer: Answer = lambda request: "ok") -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.closed = False

    async def call(self, request: Request, timeout: float) -> Response:
        self.requests.append(request)
        result = self.answer(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Response):
            return result
        usage = {"input_tokens": request_tokens(request), "output_tokens": estimate_tokens(result)}
        return Response(result, "end_turn", usage)

    async def count_tokens(self, request: Request) -> int:
        return request_tokens(request)

    async def aclose(self) -> None:
        self.closed = True
