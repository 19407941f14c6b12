"""Prices of Claude models, in one place, and the cost of a call from its usage."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rlm_cli.errors import RlmError

# Checked against Anthropic's pricing and model pages on this date. Update the table and the
# date together.
PRICES_CHECKED = "2026-11-24"
PRICE_ENV = "RLM_PRICE"  # "IN/OUT" dollars per million tokens, for models not in the table
BATCH_DISCOUNT = 0.5  # Message Batches: half price on input and output


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens; cache_write is the 5-minute TTL rate."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# Model-id prefix -> (price, and for tiered models the prompt size above which `long` applies).
# The longest matching prefix wins, so dated ids ("claude-sonnet-4-5-20250929") match too.
PRICES: dict[str, tuple[Price, int | None, Price | None]] = {
    "claude-haiku-5-5": (Price(0.10, 0.50, 0.125, 0.01), 100_000, Price(0.50, 2.50, 0.625, 0.05)),
    "claude-sonnet-5-5": (Price(2.0, 10.0, 2.50, 0.10), None, None),
    "claude-opus-5-5": (Price(4.0, 20.0, 5.0, 0.20), None, None),
    "claude-fable-5-1": (Price(10.0, 50.0, 12.50, 0.25), None, None),
    "claude-fable-5": (Price(10.0, 50.0, 12.50, 1.0), None, None),
    "claude-mythos-5-1": (Price(10.0, 50.0, 12.50, 0.25), None, None),
    "claude-mythos-5": (Price(10.0, 50.0, 12.50, 1.0), None, None),
    "claude-sonnet-5": (Price(2.0, 10.0, 2.50, 0.20), None, None),
    "claude-opus-5": (Price(5.0, 25.0, 6.25, 0.50), None, None),
    "claude-opus-4-5": (Price(5.0, 25.0, 6.25, 0.50), None, None),
    "claude-opus-4-6": (Price(5.0, 25.0, 6.25, 0.50), None, None),
    "claude-opus-4-7": (Price(5.0, 25.0, 6.25, 0.50), None, None),
    "claude-opus-4-8": (Price(5.0, 25.0, 6.25, 0.50), None, None),
    "claude-opus-4": (Price(15.0, 75.0, 18.75, 1.50), None, None),
    "claude-sonnet-4": (Price(3.0, 15.0, 3.75, 0.30), None, None),
    "claude-haiku-4-5": (Price(1.0, 5.0, 1.25, 0.10), None, None),
    "claude-3-5-haiku": (Price(0.80, 4.0, 1.0, 0.08), None, None),
    "claude-3-haiku": (Price(0.25, 1.25, 0.30, 0.03), None, None),
}

ALIASES = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}


def parse_price(text: str) -> Price:
    """'IN/OUT' in dollars per million tokens (e.g. '0.2/0.8', or '0/0' for a free local model)."""
    try:
        inp, out = (float(part) for part in text.split("/"))
    except ValueError:
        raise RlmError(
            f"--price {text!r} is not IN/OUT: give dollars per million input and output "
            "tokens, e.g. --price 0.2/0.8 (or 0/0 for a model that costs nothing per token)"
        ) from None
    if inp < 0 or out < 0:
        raise RlmError(f"--price {text!r}: prices cannot be negative")
    return Price(inp, out, inp, inp)  # cache writes and reads at the input price


def price_for(model: str, prompt_tokens: int = 0) -> Price | None:
    """The price that applies to one request of this size, or None for an unknown model.

    RLM_PRICE (set by --price, and inherited by sub-agent processes) overrides the table.
    """
    custom = os.environ.get(PRICE_ENV, "").strip()
    if custom:
        return parse_price(custom)
    model = ALIASES.get(model, model)
    matches = [p for p in PRICES if model.startswith(p)]
    if not matches:
        return None
    base, threshold, long = PRICES[max(matches, key=len)]
    if threshold is not None and long is not None and prompt_tokens > threshold:
        return long
    return base


def known(model: str) -> bool:
    return price_for(model) is not None


def cost(model: str, usage: dict[str, int], batch: bool = False) -> float | None:
    """Dollars for one request's usage; None when the model's price is unknown."""
    inp = usage.get("input_tokens", 0)
    write = usage.get("cache_creation_input_tokens", 0)
    read = usage.get("cache_read_input_tokens", 0)
    price = price_for(model, inp + write + read)
    if price is None:
        return None
    dollars = (
        inp * price.input
        + usage.get("output_tokens", 0) * price.output
        + write * price.cache_write
        + read * price.cache_read
    ) / 1_000_000
    return dollars * (BATCH_DISCOUNT if batch else 1.0)


def unpriced(model: str) -> str:
    """Why a dollar cap cannot hold for a model with no known price, and the fixes."""
    return (
        f"--max-cost needs a price, and model {model} is not in the price table "
        "(rlm_cli/calls/pricing.py): give its price with --price IN/OUT (dollars per million "
        "input/output tokens; 0/0 for a local model), or cap with --max-tokens or --max-calls"
    )


def check_cap(model: str, max_cost: float | None) -> None:
    """Refuse a dollar cap up front, before any staging or call, when the price is unknown."""
    if max_cost is not None and price_for(model) is None:
        raise RlmError(unpriced(model))


def add_cost(total: float | None, dollars: float | None) -> float | None:
    """A sum of dollars that stays None (unknown) once any part of it is unknown."""
    return None if total is None or dollars is None else total + dollars


def round_cost(dollars: float | None) -> float | None:
    """Dollars rounded for output; None (unknown price) stays None."""
    return None if dollars is None else round(dollars, 6)


def show_cost(dollars: float | None) -> str:
    """'$0.0123', or 'unknown' when a call's model has no known price (see --price)."""
    return "unknown" if dollars is None else f"${dollars:.4f}"
