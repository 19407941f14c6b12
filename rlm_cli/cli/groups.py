"""The typed values an option group becomes, built once at the edge for the steps to use.

A command gets `calls` (backend, settings, budgets, depth), `agents` and `staging` instead
of the options they come from; `batch_mode` is the one check that --agentic and --batch clash.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from rlm_cli.calls.backends.catalog import BACKENDS, choose

if TYPE_CHECKING:
    from rlm_cli.calls.ledger import Budget
    from rlm_cli.calls.runner import Settings
    from rlm_cli.inputs.sources import Filters


@dataclass(frozen=True)
class Calls:
    """How a command makes model calls: backend, per-call settings, budgets, depth, progress."""

    backend: str
    settings: Settings
    budget: Budget
    max_depth: int | None
    quiet: bool


@dataclass(frozen=True)
class Agents:
    """Whether sub-agents are solve loops themselves, and how many turns a loop gets."""

    agentic: bool = False
    max_turns: int = 12


@dataclass(frozen=True)
class Staging:
    """How inputs are read and packed into chunks."""

    filters: Filters
    chunk_tokens: int
    per_file: bool


def grouped(
    into: str, build: Callable[..., Any], names: tuple[str, ...], options: list[Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare options whose values reach the command as one value, build(**values), named into."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kw: Any) -> Any:
            kw[into] = build(**{name: kw.pop(name) for name in names})
            return f(*args, **kw)

        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def make_staging(
    chunk_tokens: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    no_gitignore: bool,
    per_file: bool,
    max_file_bytes: int,
) -> Staging:
    """The staging group from its options."""
    from rlm_cli.inputs.sources import Filters

    filters = Filters(list(include), list(exclude), not no_gitignore, max_file_bytes)
    return Staging(filters, chunk_tokens, per_file)


def make_calls(
    model: str | None,
    backend: str,
    max_output: int,
    concurrency: int,
    retries: int,
    timeout: float,
    retry_delay: float,
    max_calls: int | None,
    max_tokens: int | None,
    max_cost: float | None,
    max_depth: int | None,
    quiet: bool,
) -> Calls:
    """The calls group from its options; the model defaults to the backend's own."""
    from rlm_cli.calls.ledger import Budget
    from rlm_cli.calls.runner import Settings

    backend = choose(backend)
    settings = Settings(
        model=model or BACKENDS[backend].default_model,
        max_tokens=max_output,
        concurrency=concurrency,
        max_attempts=retries,
        call_timeout=timeout,
        backoff_base=retry_delay,
    )
    return Calls(backend, settings, Budget(max_calls, max_tokens, max_cost), max_depth, quiet)


def batch_mode(agents: Agents, batch: bool, resume: bool = False) -> str | None:
    """How map's calls go out: "submit" or "resume" through the Message Batches API, or live.

    The one place that refuses --agentic with --batch: a sub-agent loop is no single request.
    """
    if (batch or resume) and agents.agentic:
        raise click.UsageError("--agentic sub-agents are loops, not single requests: drop --batch")
    return "resume" if resume else "submit" if batch else None
