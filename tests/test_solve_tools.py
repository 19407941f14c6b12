"""Solve's tool dispatch, in process: a scripted model calls tools; mistakes come back as errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from inprocess import fake_context

from rlm_cli.calls.backends.fake import FakeBackend
from rlm_cli.calls.backends.protocol import CallError, Request, Response
from rlm_cli.calls.ledger import read_events
from rlm_cli.steps.solve import Solver
from rlm_cli.steps.tools import Index
from rlm_cli.workspace import Workspace


def use(name: str, args: dict[str, Any], n: int = 0) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"tu_{name}_{n}", "name": name, "input": args}


class Script:
    """A model that plays turns in order and remembers the tool results it was given."""

    def __init__(self, *turns: list[dict[str, Any]]) -> None:
        self.turns = list(turns)
        self.results: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        last = request.messages[-1]["content"] if request.messages else None
        if isinstance(last, list):
            self.results += [b for b in last if b.get("type") == "tool_result"]
        return Response("", "tool_use", {"input_tokens": 10, "output_tokens": 5},
                        content=self.turns.pop(0))  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the model sees input paths as given: src/...


def solve(tmp_path: Path, script: Script, max_turns: int = 6) -> str:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "auth.py").write_text("def login(user):\n    check(user)\n    return token(user)\n")
    (src / "util.py").write_text("def token(user):\n    return 'T'\n")
    ctx = fake_context(FakeBackend(script))
    ws = Workspace(tmp_path / "ws")
    solver = Solver(ctx, ws, ctx.tree, False, max_turns, 2000)
    return asyncio.run(solver.solve("Where is the token made?", Index.build(["src"])))


def error_of(script: Script, tool_use_id: str) -> str | None:
    """The error a tool call got back, or None when it succeeded."""
    [result] = [r for r in script.results if r["tool_use_id"] == tool_use_id]
    return result["content"] if result.get("is_error") else None


def test_bad_arguments_and_unknown_tools_are_errors_for_the_model(tmp_path: Path):
    script = Script(
        [
            use("grep", {"glob": "*.py"}, 1),
            use("peek", {"path": "src/auth.py", "start": 1, "end": 2, "mode": "x"}, 2),
            use("rm", {"path": "src"}, 3),
            use("grep", {"pattern": "("}, 4),
        ],
        [use("final", {"text": "util.py:1"})],
    )
    assert solve(tmp_path, script) == "util.py:1"
    assert "missing ['pattern']" in error_of(script, "tu_grep_1")
    assert "unknown ['mode']" in error_of(script, "tu_peek_2")
    assert "no tool named 'rm'" in error_of(script, "tu_rm_3")
    assert "bad regular expression" in error_of(script, "tu_grep_4")


def test_peek_and_grep_see_only_the_inputs(tmp_path: Path):
    (tmp_path / "secret.txt").write_text("password=hunter2\n")
    outside = str(tmp_path / "secret.txt")
    script = Script(
        [use("grep", {"pattern": "token"}, 1), use("peek", {"path": outside, "start": 1, "end": 1}, 2),
         use("peek", {"path": "../secret.txt", "start": 1, "end": 1}, 3)],
        [use("final", {"text": "done"})],
    )  # fmt: skip
    solve(tmp_path, script)
    [grep] = [r for r in script.results if r["tool_use_id"] == "tu_grep_1"]
    assert grep["content"].splitlines() == [
        "2 matches", "src/auth.py:3: return token(user)", "src/util.py:1: def token(user):"
    ]  # fmt: skip
    assert "not among the inputs" in error_of(script, "tu_peek_2")
    assert "not among the inputs" in error_of(script, "tu_peek_3")
    assert not any("hunter2" in str(r["content"]) for r in script.results)


def test_final_may_name_a_saved_result_and_save_names_stay_in_the_workspace(tmp_path: Path):
    script = Script(
        [use("save", {"name": "../../escape", "text": "x"}, 1),
         use("save", {"name": "answer", "text": "token() in util.py:1"}, 2)],
        [use("final", {"name": "answer"})],
    )  # fmt: skip
    assert solve(tmp_path, script) == "token() in util.py:1"
    assert "bad name" in error_of(script, "tu_save_1")
    assert error_of(script, "tu_save_2") is None
    assert not list(tmp_path.rglob("escape*"))
    assert (tmp_path / "ws" / "vars" / "answer.md").is_file()


def test_final_naming_nothing_saved_fails_the_loop(tmp_path: Path):
    with pytest.raises(CallError, match="final named no saved result"):
        solve(tmp_path, Script([use("final", {"name": "never-saved"})]))


def test_every_tool_run_is_noted_in_the_ledger_under_its_turn(tmp_path: Path):
    script = Script([use("list_files", {}, 1), use("grep", {}, 2)], [use("final", {"text": "ok"})])
    solve(tmp_path, script)
    events = list(read_events(tmp_path / "ws" / "trace.jsonl"))
    turns = [e for e in events if e["ev"] == "start"]
    notes = [e for e in events if e["ev"] == "note"]
    assert [(n["tool"], n["is_error"]) for n in notes] == [("list_files", False), ("grep", True)]
    assert {n["call"] for n in notes} == {turns[0]["call"]}


def test_grep_in_a_staged_chunk_cites_the_sources_path_and_line(tmp_path: Path) -> None:
    """An agentic sub-agent greps its chunk file, but the hits name the source's PATH:LINE."""
    from rlm_cli.inputs.sources import SourceFile
    from rlm_cli.steps.tools import Toolbox

    chunk = (
        "==> src/auth.py [lines 40-41 of 90] <==\n40\tdef login(user):\n41\t    return token(user)\n\n"
        "==> src/util.py [lines 1-2 of 2] <==\n1\tdef token(user):\n2\t    return 'T'\n"
    )
    staged = Index({"c0003.txt": SourceFile("c0003.txt", chunk, len(chunk))}, staged=True)
    found = Toolbox(staged, tmp_path / "vars").grep(r"^def ")
    assert found.splitlines() == [
        "2 matches",
        "src/auth.py:40: def login(user):",
        "src/util.py:1: def token(user):",
    ]
    plain = Index({"c0003.txt": SourceFile("c0003.txt", chunk, len(chunk))})
    assert "c0003.txt:2: 40\tdef login" in Toolbox(plain, tmp_path / "vars").grep("def login")
