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
from rlm_cli.cli.failures import cli_errors

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
            kw[into] = cli_errors(build)(**{name: kw.pop(name) for name in names})
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
    return Staging(filters, chunk_tokens or default_chunk_tokens(), per_file)


def default_chunk_tokens() -> int:
    """20000, or half of what a local engine's window leaves beside its answer."""
    from rlm_cli.calls.windows import local_settings, reported_window

    window = reported_window("")
    if window is None:
        return 20_000
    max_output = local_settings("")[1] or window // 8
    return max(200, min(20_000, (window - max_output) // 2))


def make_calls(
    model: str | None,
    backend: str,
    max_output: int | None,
    concurrency: int | None,
    retries: int,
    timeout: float,
    retry_delay: float,
    max_calls: int | None,
    max_tokens: int | None,
    max_cost: float | None,
    price: str | None,
    max_depth: int | None,
    quiet: bool,
) -> Calls:
    """The calls group from its options; the model defaults to the backend's own.

    A local engine's slots and window set the defaults of --concurrency and --max-output;
    --price applies to this process and its sub-agents, and a dollar cap without a price
    is refused here, before any staging or call.
    """
    from rlm_cli.calls.ledger import Budget
    from rlm_cli.calls.runner import Settings

    backend = choose(backend)
    model = model or BACKENDS[backend].default_model
    if BACKENDS[backend].calls_endpoint:
        check_price(model, price, max_cost)
        if concurrency is None or max_output is None:
            from rlm_cli.calls.windows import local_settings

            local_concurrency, local_output = local_settings(model)
            concurrency = concurrency or local_concurrency
            max_output = max_output or local_output
    settings = Settings(
        model=model,
        max_tokens=max_output or 4096,
        concurrency=concurrency or 8,
        max_attempts=retries,
        call_timeout=timeout,
        backoff_base=retry_delay,
    )
    return Calls(backend, settings, Budget(max_calls, max_tokens, max_cost), max_depth, quiet)


def check_price(model: str, price: str | None, max_cost: float | None) -> None:
    """Apply --price (sub-agent processes inherit it); refuse a dollar cap with no price."""
    import os

    from rlm_cli.calls.pricing import PRICE_ENV, check_cap, parse_price

    if price:
        parse_price(price)
        os.environ[PRICE_ENV] = price
    check_cap(model, max_cost)


def batch_mode(agents: Agents, batch: bool, resume: bool = False) -> str | None:
    """How map's calls go out: "submit" or "resume" through the Message Batches API, or live.

    The one place that refuses --agentic with --batch: a sub-agent loop is no single request.
    """
    if (batch or resume) and agents.agentic:
        raise click.UsageError("--agentic sub-agents are loops, not single requests: drop --batch")
    return "resume" if resume else "submit" if batch else None
