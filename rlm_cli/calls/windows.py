"""How much one call can take: a model's context window, and the synthesis budget it allows."""

from __future__ import annotations

import math

from rlm_cli.calls.engine import local_defaults, probe
from rlm_cli.errors import RlmError

DEFAULT_WINDOW = 200_000  # every Claude model in the price table takes at least this
# An answer of N tokens (as the model counts) may be estimated at up to this many times N
# from its size (rlm_cli/inputs/chunking.py assumes 3 bytes per token; prose runs ~4.5).
ANSWER_SLACK = 1.5
ITEM_OVERHEAD = 40  # the label and separators around one answer in a synthesis request


def reported_window(model: str) -> int | None:
    """The window the engine behind ANTHROPIC_BASE_URL reports (llama-server's /props,
    vLLM's max_model_len), or None where it does not say (Anthropic's API, Ollama)."""
    return probe(model).context_window


def context_window(model: str) -> int:
    """The model's context window in tokens: the one place rlm-sub asks for it.

    The engine's own figure where it offers one, else the model table's: every Claude
    model takes 200K.
    """
    return reported_window(model) or DEFAULT_WINDOW


def reducible_output(window: int) -> int:
    """The largest --max-output whose answers a default synthesis budget (half the window
    less the answer's room) can still combine two of; see reduce_budget."""
    # budget = window // 2 - m must hold 2 * (ceil(m * ANSWER_SLACK) + ITEM_OVERHEAD)
    return int((window // 2 - 2 * ITEM_OVERHEAD - 1) // (1 + 2 * ANSWER_SLACK))


def local_settings(model: str) -> tuple[int | None, int | None]:
    """Concurrency and --max-output defaults for the engine serving model (None: the usual
    ones); the output is capped so that the synthesis can combine the answers."""
    engine = probe(model)
    concurrency, max_output = local_defaults(engine)
    if max_output and engine.context_window:
        max_output = min(max_output, reducible_output(engine.context_window))
    return concurrency, max_output


def reduce_budget(
    model: str, max_output: int, given: int | None, overhead: int, window: int | None = None
) -> int:
    """Token budget of one synthesis request, checked so that the synthesis can always combine.

    Without --reduce-tokens it is half the model's window less the answer's room; either
    way it must hold two answers of --max-output tokens (else every group would hold one)
    and, with the prompt and the answer, fit the window. Raises RlmError naming the option
    to change, before any call is paid for.
    """
    window = window or context_window(model)
    budget = given if given is not None else window // 2 - max_output
    least = 2 * (math.ceil(max_output * ANSWER_SLACK) + ITEM_OVERHEAD)
    if budget < least:
        fix = (
            f"raise --reduce-tokens to at least {least:,} or lower --max-output"
            if given is not None
            else f"lower --max-output (the window of {model} is {window:,} tokens)"
        )
        raise RlmError(
            f"the synthesis budget of {budget:,} tokens cannot hold two answers of up to "
            f"--max-output {max_output:,} tokens, so answers could not be combined: {fix}"
        )
    if budget + overhead + max_output > window:
        raise RlmError(
            f"--reduce-tokens {budget:,} plus the prompt and --max-output {max_output:,} "
            f"exceed the {window:,}-token window of {model}: lower --reduce-tokens to at most "
            f"{window - overhead - max_output:,}"
        )
    return budget
