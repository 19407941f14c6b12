"""The run step: map every chunk, stop on a budget or a failure, else reduce to one answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlm_cli.calls.context import Context
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.steps.jobs import MapSummary
from rlm_cli.steps.map import map_step
from rlm_cli.steps.reduce import ReduceSummary, reduce_step
from rlm_cli.workspace import Workspace


@dataclass
class RunSummary:
    """What a run did: its map, its reduce (None when it stopped before), and why it stopped."""

    mapped: MapSummary
    reduced: ReduceSummary | None = None
    stop: RlmError | None = None  # a budget or failed chunks ended the run before reduce

    @property
    def exit_code(self) -> int:
        if self.stop is not None:
            return self.stop.exit_code
        assert self.reduced is not None
        return self.reduced.exit_code

    @property
    def answer(self) -> str | None:
        return self.reduced.text if self.reduced else None

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data, for --json."""
        return {
            "answer": self.answer,
            "error": self.stop.message if self.stop else None,
            "map": self.mapped.to_dict(),
            "reduce": self.reduced.to_dict() if self.reduced else None,
        }


async def run_step(
    ws: Workspace,
    task: str,
    ctx: Context,
    batch: str | None,
    reduce_tokens: int | None,
    partial: bool,
) -> RunSummary:
    """Map the staged chunks, then reduce; a budget, or failed chunks without partial, stop first."""
    mapped = await map_step(ws, task, ctx, batch)
    if mapped.budget_stop:
        stop = RlmError(
            f"budget reached before every chunk was answered ({mapped.budget_stop}); "
            "raise the limit and re-run the same command to continue",
            EXIT_BUDGET,
        )
        return RunSummary(mapped, stop=stop)
    if mapped.failed and not partial:
        stop = RlmError(
            f"{len(mapped.failed)} chunk(s) failed; re-run the same command to retry them "
            "(finished answers are reused), or add --partial to synthesize without them",
            EXIT_PARTIAL,
        )
        return RunSummary(mapped, stop=stop)
    return RunSummary(mapped, await reduce_step(ws, task, ctx, reduce_tokens, partial))
