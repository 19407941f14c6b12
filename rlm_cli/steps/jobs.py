"""The map step: one sub-call per chunk of a staged workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.pricing import round_cost
from rlm_cli.calls.runner import Job, Outcome, Settings, job_key
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL
from rlm_cli.workspace import Workspace, read_json, write_json


@dataclass
class MapSummary:
    """Counts and usage of one map run."""

    total: int = 0
    called: int = 0
    cached: int = 0
    failed: list[Outcome] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = 0.0  # None: some call's model has no known price
    budget_stop: str | None = None  # why a budget stopped new calls, if it did
    answered: int = 0
    shard: str | None = None

    @property
    def exit_code(self) -> int:
        """4 when a budget stopped new calls, 3 when some chunks failed, else 0."""
        return EXIT_BUDGET if self.budget_stop else EXIT_PARTIAL if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data, for --json."""
        return {
            "shard": self.shard,
            "chunks": self.total,
            "answered": self.answered,
            "called": self.called,
            "cached": self.cached,
            "failed": [
                {
                    "id": o.job.id,
                    "sources": o.job.meta.get("sources"),
                    "error": o.record.get("error"),
                }
                for o in self.failed
            ],
            "budget_stop": self.budget_stop,
            "usage": self.usage,
            "cost_usd": round_cost(self.cost),
        }


def shard_jobs(jobs: list[Job], shard: tuple[int, int] | None) -> list[Job]:
    """The jobs of shard I of N (1-based): every N-th chunk, so N shards cover each exactly once."""
    if shard is None:
        return jobs
    index, count = shard
    return [job for n, job in enumerate(jobs) if n % count == index - 1]


def sources_label(sources: list[dict[str, Any]], limit: int = 3) -> str:
    """A short citation-style label for a chunk's sources, e.g. 'a.py:1-80, b.py:1-9'."""
    parts = [f"{s['path']}:{s['start']}-{s['end']}" for s in sources[:limit]]
    if len(sources) > limit:
        parts.append(f"+{len(sources) - limit} more")
    return ", ".join(parts)


def map_jobs(
    ws: Workspace, manifest: dict[str, Any], task: str, settings: Settings, agentic: bool = False
) -> list[Job]:
    """One job per chunk; keys come from the manifest's chunk hashes, texts load lazily.

    An agentic job's answer comes from a solve loop, so it never reuses a plain answer.
    """
    kind = "map-agentic" if agentic else "map"
    system = prompts.MAP_SYSTEM.format(task=task)
    jobs = []
    for c in manifest["chunks"]:
        cid = c["id"]
        jobs.append(
            Job(
                id=cid,
                kind="map",
                system=system,
                material=lambda cid=cid: ws.read_chunk(cid),
                render=lambda text, cid=cid: prompts.MAP_USER.format(id=cid, text=text),
                slot=ws.results_dir / cid,
                key=job_key(settings, kind, system, c["hash"]),
                meta={"chunk_hash": c["hash"], "sources": sources_label(c["sources"])},
            )
        )
    return jobs


def record_map(ws: Workspace, task: str, settings: Settings, agentic: bool = False) -> None:
    """Remember which task and model the results belong to, for reduce to check."""
    write_json(
        ws.root / "map.json",
        {
            "task": task,
            "model": settings.model,
            "max_tokens": settings.max_tokens,
            "agentic": agentic,
        },
    )


def last_map(ws: Workspace) -> dict[str, Any] | None:
    """The task and settings of the last map run in this workspace."""
    return read_json(ws.root / "map.json")
