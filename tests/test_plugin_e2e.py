"""The Claude Code plugin, end to end with the real Claude Code CLI and no rlm-sub installed.

A temporary HOME and a copy of the repository as a fresh clone holds it; then, as a user
would: `claude plugin marketplace add <checkout>`, `claude plugin install rlm@rlm-sub`, and
a headless session against the fake Messages API. The fake plays the model: it invokes the
plugin's rlm skill and runs `rlm-sub` from Bash. PATH holds no rlm-sub: the plugin's bin/
launcher installs the package from the plugin's own folder into the plugin's data folder on
first use (pip reaches only the package index), and that rlm-sub answers from the fake.
The first request must offer the model the skill and the reviewer, architect and debugger
agents. Nothing else leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_api import FakeAPI, flatten
from test_claude_code_e2e import (
    ANSWER,
    CLAUDE,
    MODEL,
    RLM_SYSTEM,
    claude_version,
    describe,
    is_agent_turn,
    strings,
    text_block,
    tool_results,
    tool_use,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MARKETPLACE = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text())["name"]
PLUGIN = "rlm"
AGENTS = ("reviewer", "architect", "debugger")
SKILL_ID, BASH_ID = "toolu_e2e_plugin_skill", "toolu_e2e_plugin_bash"
COMMAND = 'rlm-sub run "FIND:needle" src/ -o answer.md'
FINAL = "The needle is at src/app.py:2."


def fresh_clone(dest: Path) -> Path:
    """The files a clone of this checkout would hold (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_symlink() or not source.is_file():
            continue  # tests/node_modules may be a link to a shared install; deleted files
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    return dest


class PluginModel:
    """Plays Claude Code's model: Skill(<the plugin's rlm skill>), Bash(rlm-sub ...), text."""

    def __init__(self, skill: str) -> None:
        self.skill = skill
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
        return [tool_use(SKILL_ID, "Skill", {"skill": self.skill})]


def claude(args: list[str], env: dict[str, str], cwd: Path, **kw: Any):
    return subprocess.run(
        [str(CLAUDE), *args], env=env, cwd=cwd, capture_output=True, text=True, **kw
    )


def test_plugin_installs_from_the_marketplace_and_runs_rlm_sub(fake_api: FakeAPI, tmp_path):
    version = claude_version()
    home, project, tmp = tmp_path / "home", tmp_path / "project", tmp_path / "tmp"
    for folder in (home, project / "src", tmp, tmp_path / "clone"):
        folder.mkdir(parents=True)
    checkout = fresh_clone(tmp_path / "clone")
    (project / "src" / "app.py").write_text('def where():\n    return "the needle"\n')

    path = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])
    assert shutil.which("rlm-sub", path=path) is None, "rlm-sub is installed system-wide"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLAUDE", "ANTHROPIC_", "OTEL_", "VIRTUAL_ENV", "RLM_"))
    }
    env |= {
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PATH": path,  # no virtualenv, no rlm-sub: only what the plugin brings
        "RLM_PYTHON": getattr(sys, "_base_executable", sys.executable),  # a Python, not the venv
        "ANTHROPIC_BASE_URL": fake_api.url,
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }

    added = claude(["plugin", "marketplace", "add", str(checkout)], env, project, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    installed = claude(["plugin", "install", f"{PLUGIN}@{MARKETPLACE}"], env, project, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listing = claude(["plugin", "list", "--json"], env, project, timeout=60)
    assert listing.returncode == 0, listing.stderr
    (entry,) = [p for p in json.loads(listing.stdout) if p["id"] == f"{PLUGIN}@{MARKETPLACE}"]
    plugin_dir = Path(entry["installPath"])
    assert (plugin_dir / "bin" / "rlm-sub").is_file()

    fake_api.responder = model = PluginModel(f"{PLUGIN}:rlm")
    command = [
        "-p",
        "--output-format=json",
        f"--model={MODEL}",
        "--allowedTools=Bash(rlm-sub:*),Skill",
        "--max-turns=8",
        "--no-session-persistence",
    ]
    try:
        proc = claude(command, env, project, input="Find the needle in src/.\n", timeout=600)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(
            f"claude {version} did not finish in {stuck.timeout}s{describe(fake_api, stuck)}"
        )

    def why() -> str:
        return describe(fake_api, proc)

    agent = [r for r in fake_api.requests if is_agent_turn(r["body"])]
    assert agent, f"Claude Code sent no main-loop request{why()}"
    offered = "\n".join(strings(agent[0]["body"]))
    assert f"{PLUGIN}:rlm" in offered, f"the plugin's skill is not offered{why()}"
    for name in AGENTS:
        assert f"{PLUGIN}:{name}" in offered, f"the {name} agent is not offered{why()}"
    assert model.turns >= 3, why()

    after_bash = [r for r in agent if BASH_ID in tool_results(r["body"])]
    assert after_bash, f"Claude Code never answered the Bash call{why()}"
    result = tool_results(after_bash[0]["body"])[BASH_ID]
    assert not result.get("is_error"), f"the Bash call of rlm-sub failed{why()}"
    assert ANSWER in flatten(result["content"]), why()
    answer = (project / "answer.md").read_text()
    assert answer.split("\n---\n")[0].strip() == ANSWER  # then the evidence block
    assert fake_api.calls(RLM_SYSTEM), f"rlm-sub made no call to the fake{why()}"
    # The launcher installed rlm-sub in the folder Claude Code keeps for this plugin's data,
    # which uninstalling the plugin removes.
    data = home / ".claude" / "plugins" / "data" / f"{PLUGIN}-{MARKETPLACE}"
    assert (data / "venv" / "bin" / "rlm-sub").is_file(), f"no rlm-sub in {data}{why()}"
    assert proc.returncode == 0, why()
    assert json.loads(proc.stdout).get("result") == FINAL, why()
    removed = claude(["plugin", "uninstall", f"{PLUGIN}@{MARKETPLACE}"], env, project, timeout=60)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not data.exists(), "uninstalling the plugin left its rlm-sub behind"
