"""The fake API's rules: what it accepts, how many tokens it counts, what its model answers.

The answer is a pure function of the request text (see fake_api.py for the directives), so
tests can predict it; a test may script the model instead with FakeAPI.responder.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fake_eval import eval_answer  # tests/ is on sys.path, also when run as a program

if TYPE_CHECKING:
    from fake_server import FakeAPI

HEADER_RE = re.compile(r"^==> (?P<path>.+?) \[(?P<where>[^\]]*)\] <==$")
NUMBERED_RE = re.compile(r"^(\d+)\t(.*)$")
# Roughly how a BPE tokenizer cuts text: short word pieces (with their leading space),
# runs of digits, single punctuation marks, runs of other whitespace.
TOKEN_RE = re.compile(r" ?[A-Za-z]{1,7}| ?\d{1,3}| ?[^\sA-Za-z\d]|\s+")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def count_tokens(text: str) -> int:
    """The fake's own token count: what its window and its usage figures are measured in."""
    return len(TOKEN_RE.findall(text))


Blocks = list[dict[str, Any]]
Responder = Callable[[dict[str, Any]], Blocks | None]


def flatten(content: Any) -> str:
    """The text of a message's content or of a system prompt, whatever its shape."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, dict):
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                parts.append(flatten(block.get("content")))
    return "\n".join(parts)


def find_lines(word: str, user: str) -> list[str]:
    """Lines holding word, cited as PATH:LINE where a chunk header says where they come from."""
    found, path = [], None
    for line in user.splitlines():
        header = HEADER_RE.match(line)
        if header:
            path = header["path"]
            continue
        if word not in line:
            continue
        numbered = NUMBERED_RE.match(line)
        if numbered and path:
            found.append(f"- {path}:{numbered[1]}: {numbered[2].strip()}")
        else:
            found.append(line.strip())
    return found


def answer(system: str, user: str) -> str:
    """The fake model's answer: a pure function of the request text."""
    evaluated = eval_answer(system, user)
    if evaluated is not None:
        return evaluated
    both = system + "\n" + user
    find = re.search(r"FIND:(\S+)", both)
    if find:
        lines = find_lines(find[1], user)
        return "fake answer: found\n" + "\n".join(lines) if lines else "NOTHING RELEVANT"
    count = re.search(r"COUNT:(\w+)", both)
    if count:
        word = count[1]
        partials = re.findall(rf"COUNT {re.escape(word)} = (\d+)", user)
        total = sum(map(int, partials)) if partials else len(re.findall(re.escape(word), user))
        return f"COUNT {word} = {total}"
    sections = sum(1 for line in user.splitlines() if HEADER_RE.match(line))
    answers = user.count("<answer ")
    return (
        f"fake answer: saw {len(user.splitlines())} lines, {sections} file sections, "
        f"{answers} answers"
    )


def invalid_request(body: Any, counting: bool, any_model: bool = False) -> tuple[int, str] | None:
    """The API's validation of a request body, reduced to what rlm-sub could get wrong.

    any_model: an engine serves whatever it loaded, under any name.
    """
    if not isinstance(body, dict):
        return 400, "body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return 400, "model: Field required"
    if not model.startswith("claude-") and not any_model:
        return 404, f"model: {model}"
    if not counting and not isinstance(body.get("max_tokens"), int):
        return 400, "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "messages: at least one message is required"
    return None


def has_cache_control(system: Any) -> bool:
    return isinstance(system, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in system
    )


def compose(api: FakeAPI, body: dict[str, Any], system: str, user: str, tokens: int) -> dict:
    """The Message the fake model answers a valid request with (live and batch alike)."""
    content = api.responder(body) if api.responder else None
    if content is None:
        text = answer(system, user)
        out = count_tokens(text)
        stop = "end_turn"
        if out > body["max_tokens"]:
            # the first max_tokens words, line breaks kept, as a model's cut answer keeps them
            words = list(re.finditer(r"\S+", text))
            end = words[min(body["max_tokens"], len(words)) - 1].end()
            text, out, stop = text[:end], body["max_tokens"], "max_tokens"
        content = [{"type": "text", "text": text}]
    else:
        out = sum(
            count_tokens(b["text"] if b["type"] == "text" else json.dumps(b["input"]))
            for b in content
        )
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    return {
        "id": f"msg_fake_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage(api, body, system, tokens, out),
    }


def usage(api: FakeAPI, body: dict[str, Any], system: str, tokens: int, out: int) -> dict[str, int]:
    """Usage as the API reports it: a cached system prompt is written once, then read."""
    usage = {
        "input_tokens": tokens,
        "output_tokens": out,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    if has_cache_control(body.get("system")):
        key = body["model"] + "\0" + system
        cached = count_tokens(system)
        with api.lock:
            seen = key in api.cached_prefixes
            api.cached_prefixes.add(key)
        usage["input_tokens"] = tokens - cached
        usage["cache_read_input_tokens" if seen else "cache_creation_input_tokens"] = cached
    return usage
