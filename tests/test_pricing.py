"""The price table: figures from Anthropic's pricing page, tiers, dated ids, unknown models."""

import pytest

from rlm_cli.calls.pricing import cost, price_for


def test_haiku_call_with_cache_write_and_read():
    usage = {
        "input_tokens": 1_000_000,
        "output_tokens": 1_000_000,
        "cache_creation_input_tokens": 1_000_000,
        "cache_read_input_tokens": 1_000_000,
    }
    # 0.10 in + 0.50 out + 0.125 cache write (1.25x) + 0.01 cache read (0.1x), but the prompt
    # is over 100k tokens, so the long-context tier applies: 0.50 + 2.50 + 0.625 + 0.05.
    assert cost("claude-haiku-5-5", usage) == pytest.approx(3.675)
    small = {"input_tokens": 50_000, "output_tokens": 2_000}
    assert cost("claude-haiku-5-5", small) == pytest.approx((50_000 * 0.10 + 2_000 * 0.50) / 1e6)


def test_batch_is_half_price_and_dated_ids_and_aliases_resolve():
    usage = {"input_tokens": 10_000, "output_tokens": 1_000}
    assert cost("claude-sonnet-5-5", usage, batch=True) == pytest.approx(
        cost("claude-sonnet-5-5", usage) / 2
    )
    assert price_for("claude-opus-4-5-20251101") == price_for("claude-opus-4-5")
    assert price_for("sonnet") == price_for("claude-sonnet-5-5")
    assert price_for("claude-sonnet-5").input == 2.0  # not the older Sonnet 4 price


def test_an_unknown_model_has_no_price():
    assert cost("claude-nonesuch-9", {"input_tokens": 5}) is None
