"""solve's tools fail safe: a hostile model's arguments come back as errors, grep stops in time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import rlm
from fake_api import FakeAPI
from test_solve import tool_results, tool_use

from rlm_cli.inputs.sources import SourceFile
from rlm_cli.steps.tools import Index, Toolbox, ToolError, check_arguments


def scripted(attempts: list[tuple[str, Any]]):
    """A root model that tries every attempt in one turn, then finishes."""

    def brain(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        if not body.get("tools"):
            return None
        if not tool_results(body):
            return [tool_use(name, args, n) for n, (name, args) in enumerate(attempts)]
        return [tool_use("final", {"text": "done"})]

    return brain


def test_arguments_of_the_wrong_type_or_range_are_errors_the_model_sees(
    fake_api: FakeAPI, tmp_path: Path
):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "ok.txt").write_text("one\ntwo\nthree\n")
    attempts = [
        ("peek", {"path": "proj/ok.txt", "start": "1", "end": 2}),
        ("peek", {"path": "proj/ok.txt", "start": -2, "end": 2}),
        ("peek", {"path": "proj/ok.txt", "start": 3, "end": 1}),
        ("peek", {"path": ["proj/ok.txt"], "start": 1, "end": 2}),
        ("peek", {"path": "proj/ok.txt", "start": True, "end": 2}),
        ("grep", {"pattern": 5}),
        ("grep", {"pattern": "one", "max_results": 0}),
        ("list_files", {"offset": -1}),
        ("read", {"name": "x", "start": 0}),
        ("query", {"task": "t", "paths": "proj/ok.txt"}),
        ("query", {"task": "t", "paths": [1, 2]}),
        ("map", {"task": "t", "paths": ["*"], "save_as": "a", "per_file": "yes"}),
        ("save", {"name": "good\n", "text": "x"}),
        ("save", {"name": "nul\0", "text": "x"}),
        ("save", {"name": "ok", "text": {"not": "text"}}),
        ("peek", "not an object"),
        ("final", {"text": ["not", "a", "string"]}),
        ("peek", {"path": "proj/ok.txt", "start": 2, "end": 2}),  # a good one still works
    ]
    fake_api.responder = scripted(attempts)
    ws = tmp_path / "ws"
    r = rlm("solve", "Poke at the tools", "proj", "-w", str(ws), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    results = tool_results(fake_api.calls()[-1]["body"])
    assert len(results) == len(attempts)
    *refused, good = results
    bad = [
        (a, res["content"])
        for a, res in zip(attempts[:-1], refused, strict=True)
        if not res.get("is_error")
    ]
    assert not bad, bad
    assert "2\ttwo" in good["content"] and not good.get("is_error")
    assert "must be a whole number" in refused[0]["content"]
    assert not (ws / "vars" / "good\n.md").exists()
    assert r.stdout.strip() == "done"


def test_a_name_with_a_trailing_newline_is_refused(tmp_path: Path):
    box = Toolbox(Index({"a.txt": SourceFile("a.txt", "x\n", 2)}), tmp_path / "vars")
    for name in ["good\n", "a/b", "..", ".hidden", "x" * 65, ""]:
        with pytest.raises(ToolError):
            box.save(name, "text")
    assert box.save("fine-1.md", "text").startswith("saved")
    assert [p.name for p in (tmp_path / "vars").iterdir()] == ["fine-1.md.md"]


def test_a_backtracking_grep_is_stopped_at_its_time_limit(tmp_path: Path):
    line = "a" * 41 + "!"
    index = Index({"evil.txt": SourceFile("evil.txt", f"ok\n{line}\n", 46)})
    box = Toolbox(index, tmp_path / "vars", grep_seconds=1.0)
    with pytest.raises(ToolError, match="time limit of 1s"):
        box.grep(r"^(a+)+$")
    assert box.grep("ok").startswith("1 matches")  # the toolbox still works afterwards


def test_a_backtracking_grep_in_a_run_returns_an_error_and_the_run_finishes(
    fake_api: FakeAPI, tmp_path: Path
):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "evil.txt").write_text("a" * 41 + "!\n")
    fake_api.responder = scripted([("grep", {"pattern": "^(a+)+$"})])
    r = rlm("solve", "Find it", "proj", "-w", str(tmp_path / "ws"), cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    [result] = tool_results(fake_api.calls()[-1]["body"])
    assert result.get("is_error") and "time limit" in result["content"]


def test_the_workspace_is_never_among_the_inputs(fake_api: FakeAPI, tmp_path: Path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "code.txt").write_text("real input\n")
    fake_api.responder = scripted([("list_files", {}), ("grep", {"pattern": "."})])
    ws = proj / "out"  # -w inside the input root
    first = rlm("solve", "List", "proj", "-w", str(ws), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    fake_api.requests.clear()
    again = rlm("solve", "List again", "proj", "-w", str(ws), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    listed, grepped = tool_results(fake_api.calls()[-1]["body"])
    seen = json.dumps([listed, grepped]) + fake_api.calls()[0]["user"]
    assert "proj/code.txt" in seen
    assert "proj/out" not in seen and "trace.jsonl" not in seen and "final.md" not in seen


def test_check_arguments_knows_every_schema_type():
    check_arguments("map", {"task": "t", "paths": ["a"], "save_as": "s", "per_file": True})
    with pytest.raises(ToolError, match="true or false"):
        check_arguments("map", {"task": "t", "paths": ["a"], "save_as": "s", "per_file": 1})
    with pytest.raises(ToolError, match="list of strings"):
        check_arguments("query", {"task": "t", "vars": "a"})
