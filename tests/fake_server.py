"""The fake API's server: real HTTP on 127.0.0.1 in a thread, JSON and SSE answers, faults.

FakeAPI holds the config and everything the server saw; tests start it in process (see
conftest.py), bats through fake_api.py. What it answers comes from fake_model.py, the
Message Batches endpoints from fake_batches.py.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fake_engines
from fake_batches import BatchRoutes
from fake_model import (
    ERROR_TYPES,
    Responder,
    compose,
    count_tokens,
    flatten,
    has_cache_control,
    invalid_request,
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
    engine: str | None = None  # play "llama-server", "ollama" or "vllm" (fake_engines.py)
    slots: int = 1  # llama-server's total_slots, in /props
    tools: bool = True  # False: llama-server refuses tools, as without --jinja
    caps: bool = True  # whether /props states the chat template's tool support
    loading: int = 0  # probes answered 503 "Loading model" first, as llama-server starting up


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
        # A short poll: shutdown() waits for the loop's next poll, 0.5 s by default, per test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
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

    def api_routes(self) -> list[str]:
        """Every route but the engine probes (rlm_cli/calls/engine.py asks before calling)."""
        return [r for r in self.routes if r not in fake_engines.PROBES]

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


class _Handler(BatchRoutes, BaseHTTPRequestHandler):
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
        self._call_done()
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
        self._call_done()
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
        elif self.api.config.engine and self.path in ("/v1/models", "/props"):
            if self.api.config.loading > 0:
                self.api.config.loading -= 1
                self._error(503, "Loading model")
                return
            self._send_json(200, fake_engines.info(self.api.config, self.path))
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
        engine = self.api.config.engine  # an engine serves its model under any name
        problem = invalid_request(body, path.endswith("count_tokens"), any_model=bool(engine))
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
            "cache_control": has_cache_control(body.get("system")),
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
        self.in_flight = True
        try:
            if hold:
                api.released.wait()
            if cfg.latency:
                time.sleep(cfg.latency)
            record["status"] = self._reply(body, system, user, tokens)
        finally:
            record["end"] = time.time()
            self._call_done()

    def _call_done(self) -> None:
        """The Messages call is no longer in flight: called before its last byte is sent,
        since the client may send its next request as soon as that byte arrives."""
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with self.api.lock:
                self.api.stats["in_flight"] -= 1

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
        if cfg.engine == "llama-server" and body.get("tools") and not cfg.tools:
            self._error(500, fake_engines.NO_JINJA)
            return 500
        if tokens > cfg.context_window and cfg.engine:
            status, error = fake_engines.overflow(cfg.engine, tokens, cfg.context_window)
            self._send_json(status, error)
            with api.lock:
                api.stats["errors"] += 1
            return status
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
            self._call_done()
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
        self._call_done()
        event("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")


def _pieces(text: str, size: int = 40) -> list[str]:
    """Text cut into the small pieces a stream delivers it in."""
    return [text[i : i + size] for i in range(0, len(text), size)]
