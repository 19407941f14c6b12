"""The fake API's responder hook, read back through the real anthropic SDK (JSON and stream)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from fake_api import FakeAPI

TOOL_INPUT = {"command": 'rlm-sub run "FIND:x" src/ -o answer.md', "n": [1, 2, {"deep": True}]}


def scripted(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    if "script me" not in str(body["messages"]):
        return None  # the directive rules answer
    return [
        {"type": "text", "text": "Running it now."},
        {"type": "tool_use", "id": "toolu_test_1", "name": "Bash", "input": TOOL_INPUT},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_responder_answers_with_tool_use_blocks(fake_api: FakeAPI, stream: bool):
    fake_api.responder = scripted
    client = anthropic.Anthropic(base_url=fake_api.url, api_key="sk-ant-test", max_retries=0)
    request = {
        "model": "claude-test",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "script me"}],
    }
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Running it now."
    tool = message.content[1]
    assert (tool.id, tool.name, tool.input) == ("toolu_test_1", "Bash", TOOL_INPUT)
    assert fake_api.requests[-1]["body"]["messages"] == request["messages"]


def test_a_responder_returning_none_keeps_the_directive_rules(fake_api: FakeAPI):
    fake_api.responder = scripted
    client = anthropic.Anthropic(base_url=fake_api.url, api_key="sk-ant-test", max_retries=0)
    message = client.messages.create(
        model="claude-test",
        max_tokens=100,
        messages=[{"role": "user", "content": "COUNT:a a a"}],
    )
    assert message.stop_reason == "end_turn"
    assert message.content[0].text == "COUNT a = 3"
    assert fake_api.routes == ["POST /v1/messages"]
