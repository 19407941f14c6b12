"""The Message Batches API through the official SDK (imported lazily, like the live backend).

Request bodies come from backends.message_params, as live calls' do, so a batch asks exactly
what live map asks; failures become RlmError (nothing to retry), Transient (poll again) or Gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from rlm_cli.calls.backends.protocol import RETRYABLE_STATUS, check_credentials, error_detail
from rlm_cli.errors import RlmError


class Transient(Exception):
    """The API could not be reached or was busy: try again at the next poll."""


class BatchApi:
    """The SDK's batch methods, with failures turned into RlmError (fatal) or _Transient."""

    def __init__(self) -> None:
        check_credentials()
        import anthropic

        self.sdk = anthropic
        self.client = anthropic.AsyncAnthropic(max_retries=2)

    async def create(self, requests: list[dict[str, Any]]) -> Any:
        """Submit one batch; no retry, since a retried create could submit (and bill) it twice."""
        try:
            return await self.client.with_options(max_retries=0).messages.batches.create(
                requests=requests  # type: ignore[arg-type]
            )
        except self.sdk.APIStatusError as e:
            raise RlmError(
                f"the batch was not accepted ({error_detail(e)}); nothing was submitted. "
                + _fix(e.status_code)
            ) from None
        except self.sdk.APIConnectionError as e:
            raise RlmError(
                f"could not reach the API to submit a batch ({e}); check the network and "
                "re-run: chunks already submitted are kept in batches.json"
            ) from None

    async def retrieve(self, batch_id: str) -> Any:
        """The batch's current state."""
        try:
            return await self.client.messages.batches.retrieve(batch_id)
        except self.sdk.APIStatusError as e:
            if e.status_code in RETRYABLE_STATUS:
                raise Transient(error_detail(e)) from None
            raise RlmError(
                f"cannot look up batch {batch_id} ({error_detail(e)}). {_fix(e)}"
            ) from None
        except self.sdk.APIConnectionError as e:
            raise Transient(str(e)) from None

    async def results(self, batch_id: str) -> AsyncIterator[Any]:
        """The batch's result lines; _Gone when they cannot be downloaded any more."""
        try:
            lines = await self.client.messages.batches.results(batch_id)
            async for line in lines:
                yield line
        except self.sdk.APIStatusError as e:
            if e.status_code in RETRYABLE_STATUS:
                raise Transient(error_detail(e)) from None
            raise Gone(error_detail(e)) from None
        except self.sdk.APIConnectionError as e:
            raise Transient(str(e)) from None

    async def aclose(self) -> None:
        await self.client.close()


class Gone(Exception):
    """A batch's results cannot be downloaded any more (they are kept 29 days)."""


def _fix(e: Any) -> str:
    """What to do about a status the batch API refused a request with."""
    status = getattr(e, "status_code", e)
    if status == 401:
        return "Check ANTHROPIC_API_KEY."
    if status == 403:
        return "Check the key's workspace and model access."
    if status == 404:
        return (
            "Check --model; a saved batch that is not found may belong to another key: delete "
            "batches.json to abandon it."
        )
    if status == 413:
        return "Lower RLM_BATCH_MAX_BYTES to submit smaller batches."
    return "Re-run to try again, or drop --batch to call the model directly."


def read_result(result: Any) -> tuple[str, str | None, Any]:
    """(status, error, message) of one result line."""
    if result.type == "succeeded":
        return "ok", None, result.message
    if result.type == "errored":
        error = getattr(result.error, "error", None)
        etype, message = getattr(error, "type", "error"), getattr(error, "message", str(error))
        why = f"batch request errored: {etype}: {message}"
        if "prompt is too long" in message:
            why += "; re-run without --batch, which splits chunks the model finds too long"
        return "failed", why, None
    if result.type == "expired":
        return "failed", "batch request expired: the batch hit its 24 h limit; re-run", None
    if result.type == "canceled":
        return "failed", "batch request canceled before it was processed; re-run", None
    return "failed", f"batch result of unknown type {result.type!r}; re-run", None
