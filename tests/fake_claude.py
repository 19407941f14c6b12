#!/usr/bin/env python3
"""A stand-in for the `claude` CLI: records how it was called, answers like `claude -p`.

Tests put a `claude` wrapper for it first on PATH. It appends one JSON line per run to
$FAKE_CLAUDE_LOG (argv, stdin, the system prompt file, selected environment variables) and
behaves according to $FAKE_CLAUDE_MODE:

  ok          answer like the fake API's model, as an --output-format json result
  delegate    like ok, but first run `rlm-sub query` on the task (as an agent using Bash would);
              $FAKE_CLAUDE_NESTED, a JSON list, replaces that command line
  exit1       print an error result and exit 1
  subtype     exit 0 with subtype "error_max_turns"
  is_error    exit 0, subtype "success", but is_error true
  malformed   print something that is not JSON

$FAKE_CLAUDE_COST sets the session's total_cost_usd; above --max-budget-usd it stops as
Claude Code does (exit 1, subtype error_max_budget_usd, the cost it ran up reported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_api import answer, count_tokens

ENV_SEEN = ("RLM_DEPTH", "RLM_MAX_DEPTH", "RLM_PARENT", "RLM_TRACE", "RLM_RUN", "CLAUDECODE")
SECRETS_SEEN = ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY")


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def main() -> int:
    argv = sys.argv[1:]
    prompt = sys.stdin.read()
    system_file = option(argv, "--system-prompt-file") or option(
        argv, "--append-system-prompt-file"
    )
    system = Path(system_file).read_text() if system_file else ""
    mode = os.environ.get("FAKE_CLAUDE_MODE", "ok")
    with open(os.environ["FAKE_CLAUDE_LOG"], "a") as log:
        entry = {"argv": argv, "stdin": prompt, "system": system, "mode": mode}
        entry["env"] = {k: os.environ.get(k) for k in ENV_SEEN}
        entry["secrets"] = sorted(k for k in SECRETS_SEEN if k in os.environ)
        entry["cwd"] = os.getcwd()
        log.write(json.dumps(entry) + "\n")

    if mode == "malformed":
        print("Welcome to Claude Code! <not json>")
        return 0
    text = answer(system, prompt)
    if mode == "delegate":
        command = json.loads(os.environ.get("FAKE_CLAUDE_NESTED") or "null")
        nested = subprocess.run(
            command or ["rlm-sub", "query", "FIND:needle", "-", "-q"],
            input=prompt,
            capture_output=True,
            text=True,
        )
        text = (
            f"delegated (exit {nested.returncode}): {nested.stdout.strip()} {nested.stderr.strip()}"
        )
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": text,
        "session_id": "fake-session",
        "num_turns": 1,
        "total_cost_usd": 0.0125,
        "usage": {
            "input_tokens": count_tokens(system + prompt),
            "output_tokens": count_tokens(text),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 7,
        },
    }
    budget = option(argv, "--max-budget-usd")
    if os.environ.get("FAKE_CLAUDE_COST"):  # what one session costs, as a real one reports it
        result["total_cost_usd"] = float(os.environ["FAKE_CLAUDE_COST"])
    if budget is not None and result["total_cost_usd"] > float(budget):
        # Like Claude Code: the turn that crossed the budget has run (and is paid for), then
        # the session stops with an error result.
        result.update(subtype="error_max_budget_usd", is_error=True, result="")
        print(json.dumps(result))
        return 1
    if mode == "exit1":
        result.update(subtype="error_during_execution", is_error=True, result="boom: tool crashed")
        print(json.dumps(result))
        return 1
    if mode == "subtype":
        result.update(subtype="error_max_turns", result="")
    if mode == "is_error":
        result.update(is_error=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
