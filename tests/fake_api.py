"""A fake Anthropic Messages API for tests: real HTTP on 127.0.0.1, real error shapes, faults.

The real `anthropic` SDK reaches it through ANTHROPIC_BASE_URL. The fake "model" answers by
rules a test can predict, driven by directives anywhere in the request:

  FIND:word    every line of the user message that holds `word`, as "- PATH:LINE: text"
               (lines of a numbered chunk are cited from its headers; other lines pass as is)
  COUNT:word   "COUNT word = N": the sum of the COUNT lines already in the message when it
               holds some (a synthesis), else how often `word` occurs in it (one part)
  FAIL:status  fail with that HTTP status and the API's own error body
  an eval question (`rlm-sub eval`'s tasks): a perfect reader's answer (tests/fake_eval.py)
  otherwise    "fake answer: ..." describing what it saw

It has a context window (`--context-window`, in its own token count) and rejects longer
prompts the way the API does. Faults: `--fault-rate` of requests fail with one of
`--fault-kinds` (429, 529, 500, drop = close the connection without answering, stream = an
error event in the middle of a stream). `--latency` delays every answer. Tests started in
the same process use `FakeAPI` directly; bats tests run this file as a program.

Endpoints: POST /v1/messages (JSON or SSE), POST /v1/messages/count_tokens, and for tests
GET /_fake/stats and GET /_fake/requests.

Message Batches: POST /v1/messages/batches (validated like the API: 1 to
`Config.batch_max_requests` requests of `{"custom_id", "params"}`), GET
/v1/messages/batches/{id} (the batch stays `in_progress` until its `Config.batch_polls`-th
retrieve or `Config.batch_seconds` after creation; None for both holds it until a test changes
the config or calls `release_batch`), GET .../results (JSONL in shuffled order, every request
answered by the same rules as /v1/messages: FAIL:NNN and faults give `errored` results with the
API's error shape, ids in `Config.batch_expire` give `expired`), and POST .../cancel (the next
retrieve ends the batch with every request `canceled`). Batch requests are not in `requests`:
see `batch_requests()`.

To play the model for an agent (Claude Code), a test sets `FakeAPI.responder`: it gets each
parsed Messages request and returns the content blocks to answer with (text and tool_use
blocks; a tool_use ends the turn with stop_reason "tool_use"), or None for the rules above.
Messages requests are recorded with their full body, and every HTTP request's method and path
in `FakeAPI.routes`, so a test can show what an agent asked for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fake_eval import eval_answer  # tests/ is on sys.path, also when run as a program

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


@dataclass
class Config:
    """What the fake does; tests may change it while the server runs."""

    context_window: int = 200_000
    latency: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: list[str] = field(default_factory=lambda: ["429", "529", "500", "drop"])
    retry_after: str | None = "0"
    seed: int | None = None
    hold_after: int | None = None  # answer this many, then hold every request until released
    batch_polls: int | None = 2  # a batch ends at this retrieve (None: no limit by polls)
    batch_seconds: float | None = None  # or this long after it was created
    batch_expire: set[str] = field(default_factory=set)  # custom_ids whose requests expire
    batch_max_requests: int = 100_000
    batch_max_bytes: int = 256 * 1024 * 1024


class FakeAPI:
    """The server and everything it saw; start() runs it in a thread."""

    def __init__(self, config: Config | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or Config()
        self.random = random.Random(self.config.seed)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.routes: list[str] = []  # "METHOD /path" of every HTTP request, any endpoint
        self.stats = {"requests": 0, "answered": 0, "errors": 0, "in_flight": 0}
        self.max_in_flight = 0
        self.released = threading.Event()
        self.cached_prefixes: set[str] = set()
        self.responder: Responder | None = None  # scripts the model's answers; see the docstring
        self.batches: dict[str, dict[str, Any]] = {}  # id -> state, requests and results
        self.batch_lock = threading.Lock()  # guards batches; never held while taking lock
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = _Server((host, port), handler)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAPI:
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {**self.stats, "max_in_flight": self.max_in_flight}

    def calls(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Recorded Messages requests, optionally only those whose system prompt mentions kind."""
        with self.lock:
            return [r for r in self.requests if kind is None or kind in r["system"]]

    def batch_requests(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Every request submitted in a batch (or in one batch), as {"batch", "custom_id", "params"}."""
        with self.batch_lock:
            return [
                {"batch": b["id"], **r}
                for b in self.batches.values()
                if batch_id in (None, b["id"])
                for r in b["requests"]
            ]

    def release_batch(self, batch_id: str) -> None:
        """End one batch at its next retrieve, whatever the config says."""
        with self.batch_lock:
            self.batches[batch_id]["release"] = True

    def fault(self) -> str | None:
        """The fault to inject into this request, if any."""
        with self.lock:
            if self.config.fault_rate and self.random.random() < self.config.fault_rate:
                return self.random.choice(self.config.fault_kinds)
        return None


class _Server(ThreadingHTTPServer):
    """A threaded server whose listen backlog holds a burst of concurrent connections.

    socketserver's default backlog of 5 makes the kernel drop the rest of a burst of 32
    connects, which the client resends only after a 1 s timeout.
    """

    request_queue_size = 256
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms ACK wait
    api: FakeAPI

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read /_fake/stats
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:16]}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        etype = ERROR_TYPES.get(status, "api_error")
        body = {
            "type": "error",
            "error": {"type": etype, "message": message},
            "request_id": f"req_fake_{uuid.uuid4().hex[:16]}",
        }
        self._send_json(status, body, headers)
        with self.api.lock:
            self.api.stats["errors"] += 1

    def _drop(self) -> None:
        """Close the connection without a response, as a dropped connection does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.api.routes.append(f"GET {self.path}")
        if self.path == "/_fake/stats":
            self._send_json(200, self.api.snapshot())
        elif self.path == "/_fake/requests":
            self._send_json(200, self.api.calls())
        elif self.path.startswith("/v1/messages/batches/"):
            self._batch_get(self.path.split("?")[0].removeprefix("/v1/messages/batches/"))
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        self.api.routes.append(f"POST {self.path}")
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        if path.startswith("/v1/messages/batches"):
            self._batch_post(path.removeprefix("/v1/messages/batches"), raw)
            return
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._error(404, f"no route {self.path}")
            return
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._error(401, "x-api-key header is required")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not valid JSON")
            return
        problem = _invalid(body, counting=path.endswith("count_tokens"))
        if problem:
            self._error(*problem)
            return
        # The model answers the last user turn; agents may add system-role messages after it.
        users = [m for m in body["messages"] if m.get("role") == "user"] or body["messages"]
        system, user = flatten(body.get("system")), flatten(users[-1]["content"])
        tokens = count_tokens(system) + sum(
            count_tokens(flatten(m["content"])) for m in body["messages"]
        )
        if path.endswith("count_tokens"):
            self._send_json(200, {"input_tokens": tokens})
            return
        self._messages(body, system, user, tokens)

    def _messages(self, body: dict[str, Any], system: str, user: str, tokens: int) -> None:
        api, cfg = self.api, self.api.config
        record = {
            "model": body["model"],
            "max_tokens": body["max_tokens"],
            "stream": bool(body.get("stream")),
            "system": system,
            "user": user,
            "input_tokens": tokens,
            "cache_control": _has_cache_control(body.get("system")),
            "start": time.time(),
            "status": None,
            "body": body,
        }
        with api.lock:
            api.stats["requests"] += 1
            api.stats["in_flight"] += 1
            api.max_in_flight = max(api.max_in_flight, api.stats["in_flight"])
            api.requests.append(record)
            hold = cfg.hold_after is not None and api.stats["answered"] >= cfg.hold_after
        try:
            if hold:
                api.released.wait()
            if cfg.latency:
                time.sleep(cfg.latency)
            record["status"] = self._reply(body, system, user, tokens)
        finally:
            record["end"] = time.time()
            with api.lock:
                api.stats["in_flight"] -= 1

    def _reply(self, body: dict[str, Any], system: str, user: str, tokens: int) -> int | str:
        """Answer, fail or drop; returns what happened, for the request log."""
        api, cfg = self.api, self.api.config
        fault = api.fault()
        stream = bool(body.get("stream"))
        directive = re.search(r"FAIL:(\d{3})", system + "\n" + user)
        if directive:
            status = int(directive[1])
            self._error(status, f"injected by FAIL:{status}")
            return status
        if fault == "drop":
            self._drop()
            return "drop"
        if fault in ("429", "529", "500"):
            headers = {"retry-after": cfg.retry_after} if fault == "429" and cfg.retry_after else {}
            self._error(int(fault), f"injected {fault} fault", headers)
            return int(fault)
        if tokens > cfg.context_window:
            self._error(400, f"prompt is too long: {tokens} tokens > {cfg.context_window} maximum")
            return 400
        message = compose(api, body, system, user, tokens)
        if stream:
            self._stream(message, broken=fault == "stream")
        else:
            self._send_json(200, message)
        with api.lock:
            api.stats["answered"] += 1
        return "stream-error" if stream and fault == "stream" else 200

    def _stream(self, message: dict[str, Any], broken: bool) -> None:
        """Send the message as server-sent events, in HTTP chunks, as the API streams."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:16]}")
        self.end_headers()

        def event(name: str, data: dict[str, Any]) -> None:
            raw = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()

        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        event("message_start", {"type": "message_start", "message": start})
        event("ping", {"type": "ping"})
        if broken:
            error = {"type": "overloaded_error", "message": "injected mid-stream overload"}
            event("error", {"type": "error", "error": error})
            self.wfile.write(b"0\r\n\r\n")
            return
        for index, block in enumerate(message["content"]):
            if block["type"] == "tool_use":  # its input streams as pieces of its JSON text
                first = {**block, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": piece}
                    for piece in _pieces(json.dumps(block["input"]))
                ]
            else:
                first = {**block, "text": ""}
                deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
            event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
            for delta in deltas:
                event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            event("content_block_stop", {"type": "content_block_stop", "index": index})
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        event("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")

    # -- Message Batches --------------------------------------------------------------------

    def _batch_post(self, rest: str, raw: bytes) -> None:
        """Create a batch (rest == "") or cancel one (rest == "/{id}/cancel")."""
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._error(401, "x-api-key header is required")
            return
        if rest.endswith("/cancel"):
            batch = self.api.batches.get(rest.removesuffix("/cancel").strip("/"))
            if batch is None:
                self._error(404, f"no batch {rest}")
                return
            with self.api.batch_lock:
                if batch["status"] == "in_progress":
                    batch["status"] = "canceling"
                    batch["cancel_initiated_at"] = _rfc3339(time.time())
            self._send_json(200, _batch_object(self.api, batch))
            return
        if rest not in ("", "/"):
            self._error(404, f"no route {self.path}")
            return
        if len(raw) > self.api.config.batch_max_bytes:
            self._error(413, f"batch is {len(raw)} bytes, over the size limit")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not valid JSON")
            return
        problem = _invalid_batch(body, self.api.config.batch_max_requests)
        if problem:
            self._error(400, problem)
            return
        now = time.time()
        batch = {
            "id": f"msgbatch_fake_{uuid.uuid4().hex[:20]}",
            "status": "in_progress",
            "created": now,
            "polls": 0,
            "cancel_initiated_at": None,
            "ended_at": None,
            "requests": [
                {"custom_id": r["custom_id"], "params": r["params"]} for r in body["requests"]
            ],
            "results": None,
        }
        with self.api.batch_lock:
            self.api.batches[batch["id"]] = batch
        self._send_json(200, _batch_object(self.api, batch))

    def _batch_get(self, rest: str) -> None:
        """Retrieve a batch (advancing its state) or its results."""
        if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
            self._error(401, "x-api-key header is required")
            return
        batch_id, _, tail = rest.partition("/")
        batch = self.api.batches.get(batch_id)
        if batch is None or tail not in ("", "results"):
            self._error(404, f"no batch {rest}")
            return
        if tail == "":
            _advance(self.api, batch)
            self._send_json(200, _batch_object(self.api, batch))
            return
        if batch["results"] is None:
            self._error(400, f"batch {batch_id} is still {batch['status']}: no results yet")
            return
        lines = list(batch["results"])
        with self.api.lock:
            self.api.random.shuffle(lines)  # the API does not keep request order either
        raw = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-jsonl")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def compose(api: FakeAPI, body: dict[str, Any], system: str, user: str, tokens: int) -> dict:
    """The Message the fake model answers a valid request with (live and batch alike)."""
    content = api.responder(body) if api.responder else None
    if content is None:
        text = answer(system, user)
        out = count_tokens(text)
        stop = "end_turn"
        if out > body["max_tokens"]:
            text, out, stop = (
                " ".join(text.split()[: body["max_tokens"]]),
                body["max_tokens"],
                "max_tokens",
            )
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
        "usage": _usage(api, body, system, tokens, out),
    }


CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _invalid_batch(body: Any, max_requests: int) -> str | None:
    """The API's validation of a batch, reduced to what rlm-sub could get wrong."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return "requests: at least one request is required"
    if len(requests) > max_requests:
        return f"requests: at most {max_requests} requests per batch, got {len(requests)}"
    seen: set[str] = set()
    for i, r in enumerate(requests):
        if not isinstance(r, dict) or set(r) != {"custom_id", "params"}:
            return f"requests.{i}: must have exactly custom_id and params"
        cid = r["custom_id"]
        if not isinstance(cid, str) or not CUSTOM_ID_RE.match(cid):
            return f"requests.{i}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$"
        if cid in seen:
            return f"requests.{i}.custom_id: {cid} is not unique in the batch"
        seen.add(cid)
        problem = _invalid(r["params"], counting=False)
        if problem:
            return f"requests.{i}.params.{problem[1]}"
        if r["params"].get("stream"):
            return f"requests.{i}.params.stream: streaming is not supported in batches"
    return None


def _advance(api: FakeAPI, batch: dict[str, Any]) -> None:
    """One retrieve of a batch: count it, and end the batch when its time has come."""
    cfg = api.config
    with api.batch_lock:
        batch["polls"] += 1
        status = batch["status"]
        due = (
            batch.get("release")
            or (cfg.batch_polls is not None and batch["polls"] >= cfg.batch_polls)
            or (
                cfg.batch_seconds is not None
                and time.time() - batch["created"] >= cfg.batch_seconds
            )
        )
        if status in ("ended", "ending") or (status == "in_progress" and not due):
            return
        batch["status"] = "ending"  # other retrieves see it in progress until results exist
    if status == "canceling":
        results = [
            {"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch["requests"]
        ]
    else:
        results = [
            {"custom_id": r["custom_id"], "result": _batch_result(api, r["custom_id"], r["params"])}
            for r in batch["requests"]
        ]
    with api.batch_lock:
        batch["results"] = results
        batch["ended_at"] = time.time()
        batch["status"] = "ended"


def _batch_result(api: FakeAPI, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request of a batch, answered by the rules of /v1/messages."""
    cfg = api.config
    if custom_id in cfg.batch_expire:
        return {"type": "expired"}
    users = [m for m in body["messages"] if m.get("role") == "user"] or body["messages"]
    system, user = flatten(body.get("system")), flatten(users[-1]["content"])
    tokens = count_tokens(system) + sum(
        count_tokens(flatten(m["content"])) for m in body["messages"]
    )
    directive = re.search(r"FAIL:(\d{3})", system + "\n" + user)
    fault = api.fault()
    if directive:
        status, message = int(directive[1]), f"injected by FAIL:{directive[1]}"
    elif fault:
        status = int(fault) if fault.isdigit() else 500
        message = f"injected {fault} fault"
    elif tokens > cfg.context_window:
        status, message = 400, f"prompt is too long: {tokens} tokens > {cfg.context_window} maximum"
    else:
        return {"type": "succeeded", "message": compose(api, body, system, user, tokens)}
    error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
    return {
        "type": "errored",
        "error": {
            "type": "error",
            "error": error,
            "request_id": f"req_fake_{uuid.uuid4().hex[:16]}",
        },
    }


def _batch_object(api: FakeAPI, batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as the API shows it."""
    with api.batch_lock:
        ended = batch["status"] == "ended"
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if ended:
            for line in batch["results"]:
                counts[line["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch["requests"])
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": batch["status"] if batch["status"] != "ending" else "in_progress",
            "request_counts": counts,
            "created_at": _rfc3339(batch["created"]),
            "expires_at": _rfc3339(batch["created"] + 86400),
            "ended_at": _rfc3339(batch["ended_at"]) if ended else None,
            "archived_at": None,
            "cancel_initiated_at": batch["cancel_initiated_at"],
            "results_url": f"{api.url}/v1/messages/batches/{batch['id']}/results"
            if ended
            else None,
        }


def _pieces(text: str, size: int = 40) -> list[str]:
    """Text cut into the small pieces a stream delivers it in."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _invalid(body: Any, counting: bool) -> tuple[int, str] | None:
    """The API's validation of a request body, reduced to what rlm-sub could get wrong."""
    if not isinstance(body, dict):
        return 400, "body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return 400, "model: Field required"
    if not model.startswith("claude-"):
        return 404, f"model: {model}"
    if not counting and not isinstance(body.get("max_tokens"), int):
        return 400, "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "messages: at least one message is required"
    return None


def _has_cache_control(system: Any) -> bool:
    return isinstance(system, list) and any(
        isinstance(b, dict) and "cache_control" in b for b in system
    )


def _usage(
    api: FakeAPI, body: dict[str, Any], system: str, tokens: int, out: int
) -> dict[str, int]:
    """Usage as the API reports it: a cached system prompt is written once, then read."""
    usage = {
        "input_tokens": tokens,
        "output_tokens": out,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    if _has_cache_control(body.get("system")):
        key = body["model"] + "\0" + system
        cached = count_tokens(system)
        with api.lock:
            seen = key in api.cached_prefixes
            api.cached_prefixes.add(key)
        usage["input_tokens"] = tokens - cached
        usage["cache_read_input_tokens" if seen else "cache_creation_input_tokens"] = cached
    return usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument("--context-window", type=int, default=Config.context_window)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default="429,529,500,drop")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    config = Config(
        context_window=args.context_window,
        latency=args.latency,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds.split(","),
        seed=args.seed,
    )
    api = FakeAPI(config, port=args.port)
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(api.server.server_address[1]))
        tmp.replace(args.port_file)
    with contextlib.suppress(KeyboardInterrupt):
        api.server.serve_forever()


if __name__ == "__main__":
    main()
