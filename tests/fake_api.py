"""A fake Anthropic Messages API for tests: real HTTP on 127.0.0.1, real error shapes, faults.

This file describes it, re-exports what tests use, and is the program bats starts; the parts
are fake_model.py (what it accepts and answers), fake_server.py (the HTTP/SSE server and
FakeAPI), fake_batches.py (the Message Batches endpoints) and fake_engines.py (Config.engine
plays llama-server, Ollama or vLLM: their probes, errors and any model name).

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
from pathlib import Path

from fake_model import answer, count_tokens, flatten  # noqa: F401  (what tests import from here)
from fake_server import Config, FakeAPI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument("--context-window", type=int, default=Config.context_window)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default="429,529,500,drop")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--engine", choices=["llama-server", "ollama", "vllm"])
    args = parser.parse_args()
    config = Config(
        context_window=args.context_window,
        latency=args.latency,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds.split(","),
        seed=args.seed,
        engine=args.engine,
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
