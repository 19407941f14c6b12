"""Secrets never reach a file or a log, and control characters never reach a terminal.

An endpoint (a proxy) whose error repeats the request's credential headers is played by a
small server on 127.0.0.1; the key must appear in no stderr, workspace file, trace view or
report.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import rlm

from rlm_cli.redact import REDACTED, printable, redact, scrub

KEY = "sk-ant-api03-REALLOOKINGKEY0123456789abcdefABCDEF"
PROXY_KEY = "proxy-credential-7f3a9c1e5b"  # not shaped like a key: known by its variable


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with an error that repeats its credential headers."""

    status = 401

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        echoed = (
            f"invalid x-api-key: {self.headers.get('x-api-key')}; "
            f"Authorization: {self.headers.get('authorization')}"
        )
        kind = "authentication_error" if self.status == 401 else "invalid_request_error"
        body = json.dumps({"type": "error", "error": {"type": kind, "message": echoed}}).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=[401, 400])
def echo_server(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (EchoHandler,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "credential",
    [{"ANTHROPIC_API_KEY": KEY}, {"ANTHROPIC_AUTH_TOKEN": PROXY_KEY, "ANTHROPIC_API_KEY": ""}],
)
def test_a_key_an_endpoint_echoes_reaches_no_file_and_no_log(
    echo_server: str, tmp_path: Path, credential: dict[str, str]
):
    (tmp_path / "a.txt").write_text("some input\n")
    ws = tmp_path / "ws"
    env = {"ANTHROPIC_BASE_URL": echo_server, "RLM_RETRY_DELAY": "0.01", **credential}
    secret = next(v for v in credential.values() if v)
    r = rlm("run", "Q", "a.txt", "-w", str(ws), "--json", cwd=tmp_path, env=env)
    assert r.returncode != 0
    assert REDACTED in r.stderr + r.stdout  # the error was kept, its secret was not
    outputs = [r.stdout, r.stderr]
    for view in (["trace", "-w", str(ws)], ["status", "-w", str(ws)], ["report", "-w", str(ws)]):
        shown = rlm(*view, cwd=tmp_path, env=env)
        outputs += [shown.stdout, shown.stderr]
    for text in outputs:
        assert secret not in text
    files = [p for p in ws.rglob("*") if p.is_file()]
    assert ws / "trace.jsonl" in files and ws / "report.html" in files
    for path in files:
        assert secret not in path.read_text(errors="replace"), path


def test_a_secret_already_in_an_old_trace_is_not_shown(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    events = [
        {"ev": "start", "call": "c1", "run": "r1", "pid": 1, "t": 1.0, "id": "x", "depth": 1},
        {"ev": "end", "call": "c1", "run": "r1", "pid": 1, "t": 2.0, "status": "failed",
         "error": f"401 x-api-key: {KEY}"},
    ]  # fmt: skip
    (ws / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for view in (["trace", "-w", str(ws)], ["report", "-w", str(ws)]):
        r = rlm(*view, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert KEY not in r.stdout + r.stderr
    assert KEY not in (ws / "report.html").read_text()


def test_control_characters_in_a_file_name_are_escaped(tmp_path: Path):
    name = "\x1b]0;pwned\x07\x1b[2J.txt"
    r = rlm("chunk", name, "-w", "ws", cwd=tmp_path)
    assert r.returncode != 0
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert "\\x1b]0;pwned\\x07" in r.stderr


def test_malformed_trace_lines_are_skipped_with_a_warning(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    good = {"ev": "start", "call": "c1", "run": "r1", "pid": 1, "t": 1.0, "id": "x", "depth": 1}
    lines = [json.dumps(good), "[1, 2]", '"text"', "{not json", json.dumps({**good, "t": "soon"}),
             json.dumps({**good, "call": "c2", "usage": {"input_tokens": "many"}, "ev": "end"})]  # fmt: skip
    (ws / "trace.jsonl").write_text("\n".join(lines) + "\n")
    for view in (["trace", "-w", str(ws)], ["status", "-w", str(ws)], ["report", "-w", str(ws)]):
        r = rlm(*view, cwd=tmp_path)
        assert r.returncode == 0, (view, r.stderr)
        assert "Traceback" not in r.stderr
        assert "skipped 5 malformed line(s)" in r.stderr, r.stderr


def test_redact_knows_the_shapes_of_credentials(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GITHUB_TOKEN", "plain-looking-but-secret")
    samples = [
        "key sk-ant-api03-abcdefghijklmnop",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123",
        "aws AKIAABCDEFGHIJKLMNOP",
        "Authorization: Bearer abc.def.ghi-jkl",
        '{"x-api-key": "whatever-it-is"}',
        "the value plain-looking-but-secret leaked",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
    ]
    for text in samples:
        assert REDACTED in redact(text), text
    assert redact("an ordinary error: 429 rate limited") == "an ordinary error: 429 rate limited"
    advice = "export ANTHROPIC_AUTH_TOKEN=local` (a local server takes any token)"
    assert redact(advice) == advice  # advice in a message is not a secret
    assert printable("a\tb\nc\x1b[0m\u202e") == "a\tb\nc\\x1b[0m\\u202e"
    assert scrub("\x1b sk-ant-api03-abcdefghijklmnop") == f"\\x1b {REDACTED}"
