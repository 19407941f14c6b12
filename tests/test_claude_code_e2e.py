"""End to end with the real Claude Code CLI: the installed rlm skill is listed, loads, drives rlm-sub.

Claude Code (tests/node_modules/.bin/claude, pinned in tests/package.json, installed by
`npm ci` in tests/run-all.sh) runs headless against the fake Messages API, which plays its
model from a script: invoke the rlm skill, run rlm-sub from Bash, then answer in text.
rlm-sub, started by Claude Code's Bash tool, calls the same fake, whose directive rules
answer it (its requests are told apart by rlm-sub's system prompt). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api import FakeAPI, flatten

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CLAUDE = ROOT / "tests" / "node_modules" / ".bin" / "claude"
PINNED = json.loads((ROOT / "tests" / "package.json").read_text())["devDependencies"][
    "@anthropic-ai/claude-code"
]
MODEL = "claude-haiku-5-5"  # Claude Code's own model here: any claude-* name the fake accepts
RLM_SYSTEM = "recursive language model (RLM) run"  # in every system prompt rlm-sub sends
SKILL_ID, BASH_ID = "toolu_e2e_skill", "toolu_e2e_bash"
COMMAND = 'rlm-sub run "FIND:needle" src/ -o answer.md'
PROMPT = "Where is the needle in src/? Use the rlm skill and write the answer to answer.md.\n"
FINAL = "The needle is at src/app.py:2; the full answer is in answer.md."
RESULT_KEYS = ("type", "subtype", "is_error", "result", "num_turns", "permission_denials")
# What the fake model answers rlm-sub for FIND:needle over src/ (one chunk, so no reduce call).
ANSWER = 'fake answer: found\n- src/app.py:2: return "the needle"'


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use(tool_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def is_agent_turn(body: dict[str, Any]) -> bool:
    """A request of Claude Code's main loop: the one that offers the model the Skill tool."""
    return any(tool.get("name") == "Skill" for tool in body.get("tools") or [])


def tool_results(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tool_result blocks in a request's conversation, by tool_use id."""
    return {
        block["tool_use_id"]: block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    }


def strings(node: Any) -> Iterator[str]:
    """Every string in a request body: system blocks, messages, tool descriptions."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


class ScriptedModel:
    """Plays Claude Code's model: Skill(rlm), then Bash(rlm-sub ...), then a text answer.

    The next step follows from the tool results already in the conversation, not from a
    count of requests, so other requests Claude Code may make in between change nothing.
    Requests that are not Claude Code's main loop (rlm-sub's own) get the fake's rules.
    """

    def __init__(self) -> None:
        self.turns = 0

    def __call__(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        if not is_agent_turn(body):
            return None
        self.turns += 1
        done = tool_results(body)
        if self.turns > 6:
            return [text_block(f"SCRIPT GAVE UP after {self.turns} turns")]
        if BASH_ID in done:
            return [text_block(FINAL)]
        if SKILL_ID in done:
            return [tool_use(BASH_ID, "Bash", {"command": COMMAND, "description": "Ask rlm-sub"})]
        return [tool_use(SKILL_ID, "Skill", {"skill": "rlm"})]


def rlm_sub_script() -> str:
    """The installed rlm-sub console script: what Claude Code's Bash will find on PATH."""
    found = shutil.which("rlm-sub", path=sysconfig.get_path("scripts")) or shutil.which("rlm-sub")
    if not found:
        pytest.fail("the rlm-sub console script is not installed: run `bash tests/run-all.sh`")
    return found


def claude_version() -> str:
    if not os.access(CLAUDE, os.X_OK):
        pytest.fail(
            f"Claude Code is not installed at {CLAUDE}: run `bash tests/run-all.sh`, "
            f"whose `npm ci` in tests/ installs @anthropic-ai/claude-code {PINNED}"
        )
    version = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0 or not version.stdout.startswith(PINNED):
        pytest.fail(
            f"{CLAUDE} --version gave exit {version.returncode}, {version.stdout!r}, "
            f"{version.stderr[-2000:]!r}; expected {PINNED} (is the native binary installed?)"
        )
    return version.stdout.strip()


def read_skill(skill_dir: Path) -> tuple[dict[str, str], str]:
    """The installed SKILL.md: its frontmatter fields and its body."""
    _, front, body = (skill_dir / "SKILL.md").read_text().split("---\n", 2)
    fields = dict(line.split(": ", 1) for line in front.splitlines() if ": " in line)
    return fields, body


def describe(api: FakeAPI, proc: Any) -> str:
    """What claude returned and every request the fake saw, for a failure message."""
    lines = ["", "== claude"]
    if isinstance(proc, subprocess.CompletedProcess):
        lines.append(f"exit {proc.returncode}")
        with contextlib.suppress(ValueError):
            result = json.loads(proc.stdout)
            lines.append(f"result: { {k: result.get(k) for k in RESULT_KEYS} }")
    lines += [f"stdout: {proc.stdout!s:.3000}", f"stderr: {proc.stderr!s:.3000}"]
    lines.append(f"== routes the fake saw: {api.routes}")
    for i, record in enumerate(api.requests):
        body = record["body"]
        if is_agent_turn(body):
            who = "claude-code"
        else:
            who = "rlm-sub" if RLM_SYSTEM in record["system"] else "other"
        lines.append(f"-- request {i}: {who}, model {record['model']}, status {record['status']}")
        users = [m for m in body["messages"] if m["role"] == "user"]
        if users and not tool_results(body):
            lines.append(f"   last user message: {flatten(users[-1]['content'])[-500:]!r}")
        for tool_id, block in tool_results(body).items():
            content = flatten(block.get("content"))[:300]
            lines.append(f"   {tool_id} (is_error={block.get('is_error')}): {content!r}")
    return "\n".join(lines)


def test_claude_code_lists_loads_and_runs_the_rlm_skill(fake_api: FakeAPI, tmp_path: Path):
    version = claude_version()
    rlm_sub = rlm_sub_script()
    home, project = tmp_path / "home", tmp_path / "project"
    (project / "src").mkdir(parents=True)
    home.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (project / "src" / "app.py").write_text('def where():\n    return "the needle"\n')
    (project / "src" / "util.py").write_text("def other():\n    return 42\n")

    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLAUDE", "ANTHROPIC_", "OTEL_"))  # a developer's own session
    }
    env |= {
        "HOME": str(home),
        "TMPDIR": str(tmp),  # Claude Code keeps per-project scratch files in $TMPDIR/claude-UID
        "PATH": os.pathsep.join([str(Path(rlm_sub).parent), env.get("PATH", "")]),
        "ANTHROPIC_BASE_URL": fake_api.url,  # for Claude Code, and for rlm-sub under its Bash
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    # The real installer, into the temporary HOME: ~/.claude/skills/rlm.
    installed = subprocess.run(
        [rlm_sub, "install-skill"], env=env, cwd=project, capture_output=True, text=True, timeout=60
    )
    assert installed.returncode == 0, installed.stderr
    skill_dir = home / ".claude" / "skills" / "rlm"
    assert installed.stdout.strip() == str(skill_dir)
    fields, body = read_skill(skill_dir)
    assert fields.get("name") == "rlm", fields

    fake_api.responder = ScriptedModel()
    command = [
        str(CLAUDE),
        "-p",
        "--output-format=json",
        f"--model={MODEL}",
        "--allowedTools=Bash(rlm-sub:*),Skill",  # pre-approved: -p denies what would prompt
        "--max-turns=8",
        "--no-session-persistence",
    ]
    try:
        proc = subprocess.run(
            command, input=PROMPT, cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(
            f"claude {version} did not finish within {stuck.timeout}s{describe(fake_api, stuck)}"
        )

    def why() -> str:  # an assert's message is only built when the assert fails
        return describe(fake_api, proc)

    agent = [r for r in fake_api.requests if is_agent_turn(r["body"])]
    assert agent, f"Claude Code sent no main-loop request (with the Skill tool){why()}"

    # (1) The skill is listed to the model: its name next to the start of its description.
    first = agent[0]["body"]
    assert not tool_results(first), f"the first main-loop request already has tool results{why()}"
    listed = re.compile(rf"\brlm\b\W{{1,5}}{re.escape(fields['description'][:100])}")
    assert any(listed.search(s) for s in strings(first)), (
        f"the first request does not list the rlm skill with its description{why()}"
    )

    # (2) Invoking it loads the SKILL.md body, which the listing alone did not carry.
    heading = next(line for line in body.splitlines() if line.strip())
    assert heading not in fields["description"]
    assert not any(heading in s for s in strings(first)), (
        f"the body was sent before invocation{why()}"
    )
    after_skill = [r for r in agent if SKILL_ID in tool_results(r["body"])]
    assert after_skill, f"Claude Code never answered the Skill tool call{why()}"
    loaded = list(strings(after_skill[0]["body"]))
    assert not tool_results(after_skill[0]["body"])[SKILL_ID].get("is_error"), why()
    assert any(heading in s for s in loaded), f"the SKILL.md body ({heading!r}) did not load{why()}"
    if "${CLAUDE_SKILL_DIR}" in body:  # the drivers' paths resolve to the installed folder
        assert any(f"{skill_dir}/scripts/" in s for s in loaded), why()

    # (3) The agent's Bash call of rlm-sub wrote the answer file, from rlm-sub's own calls.
    after_bash = [r for r in agent if BASH_ID in tool_results(r["body"])]
    assert after_bash, f"Claude Code never answered the Bash tool call{why()}"
    bash_result = tool_results(after_bash[0]["body"])[BASH_ID]
    assert not bash_result.get("is_error"), f"the Bash call failed{why()}"
    answer = project / "answer.md"
    assert answer.is_file(), f"rlm-sub wrote no answer.md{why()}"
    assert answer.read_text().split("\n---\n")[0].strip() == ANSWER  # then the evidence block
    assert ANSWER in flatten(bash_result["content"]), f"the agent did not see the answer{why()}"
    order = fake_api.requests.index
    rlm_calls = fake_api.calls(RLM_SYSTEM)
    assert rlm_calls, f"rlm-sub made no call to the fake{why()}"
    for call in rlm_calls:  # made by the Bash call: after the model asked, before the result
        assert order(after_skill[0]) < order(call) < order(after_bash[0]), why()
        assert call["status"] == 200 and "tools" not in call["body"], why()
        assert "==> src/app.py" in call["user"], why()

    # (4) The turn ends with the model's text answer, and claude reports success.
    assert proc.returncode == 0, f"claude exited {proc.returncode}{why()}"
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"claude's stdout is not one JSON object{why()}")
    assert result.get("type") == "result", why()
    assert result.get("subtype") == "success", why()
    assert result.get("is_error") is False, why()
    assert result.get("result") == FINAL, why()
    assert result.get("permission_denials", []) == [], why()
