"""The Messages API backend reads answers as plain JSON: a message becomes a Response, and
anything else the endpoint may send is a retryable failure, never a crash or a bad record."""

from __future__ import annotations

import pytest

from rlm_cli.calls.backends.anthropic_api import _response
from rlm_cli.calls.backends.protocol import CallError


def test_a_message_becomes_a_response():
    body = {
        "content": [
            {"type": "text", "text": "first ", "citations": None},
            {"type": "tool_use", "id": "t1", "name": "grep", "input": {"pattern": "x"}},
            {"type": "text", "text": "second"},
        ],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 12, "output_tokens": 5, "cache_read_input_tokens": None},
    }
    r = _response(body, "req_1")
    assert r.text == "first second" and r.stop_reason == "max_tokens"
    assert r.usage["input_tokens"] == 12 and r.usage["output_tokens"] == 5
    assert r.usage["cache_read_input_tokens"] == 0 and r.request_id == "req_1"
    assert r.content[0] == {"type": "text", "text": "first "}  # no null fields, as the SDK dumps
    assert r.content[1]["input"] == {"pattern": "x"}


@pytest.mark.parametrize(
    "body", [None, [], "text", {"type": "error"}, {"content": "not a list"}, {"content": None}]
)
def test_anything_else_is_a_retryable_failure(body):
    with pytest.raises(CallError) as e:
        _response(body, None)
    assert e.value.kind == "retryable" and "no message" in str(e.value)


def test_odd_fields_never_reach_the_ledger_as_non_integers():
    body = {"content": [{"type": "text", "text": 7}, "junk"], "stop_reason": 3,
            "usage": {"input_tokens": "12", "output_tokens": True}}  # fmt: skip
    r = _response(body, None)
    assert r.text == "7" and r.stop_reason == ""
    assert all(type(v) is int for v in r.usage.values()) and r.usage["input_tokens"] == 0
