"""`rlm-sub solve`: the RLM loop against the fake API, whose responder plays the root model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import rlm
from fake_api import FakeAPI

from rlm_cli.calls.ledger import read_events


def tool_use(name: str, args: dict[str, Any], n: int = 1) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{name}_{n}", "name": name, "input": args}


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = body["messages"][-1]["content"]
    return [b for b in last if b.get("type") == "tool_result"] if isinstance(last, list) else []


def task_of(body: dict[str, Any]) -> str:
    return body["system"][0]["text"].split("The task:\n", 1)[1]


def mapping_brain(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A root model that maps the task over every file, then answers with the saved result."""
    tools = {t["name"] for t in body.get("tools", [])}
    if not tools:
        return None  # a plain sub-call: the fake's directive rules answer it
    if tools == {"final"}:
        return [tool_use("final", {"text": "forced to finish"})]
    if not tool_results(body):
        return [tool_use("map", {"task": task_of(body), "paths": ["*"], "save_as": "found"})]
    return [tool_use("final", {"name": "found"})]


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for f in range(6):
        (root / f"pkg{f % 2}").mkdir(parents=True, exist_ok=True)
        lines = [f"line {i} of module {f}, nothing here" for i in range(1, 121)]
        if f == 4:
            lines[76] = "the secret needle sits here"
        (root / f"pkg{f % 2}" / f"mod{f}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_solve_maps_from_one_tool_call_and_answers_from_the_saved_result(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.responder = mapping_brain
    tree(tmp_path)
    ws = tmp_path / "ws"
    r = rlm("solve", "FIND:needle", "src", "-w", str(ws), "--chunk-tokens", "800", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "src/pkg0/mod4.txt:77: the secret needle sits here" in r.stdout
    assert (ws / "final.md").read_text() == r.stdout
    turns = [c for c in fake_api.calls() if c["body"].get("tools")]
    assert len(turns) == 2  # map, then final
    first = turns[0]["body"]["messages"][0]["content"]
    assert "src/pkg0/mod4.txt" in first and "secret needle" not in first  # metadata only
    subcalls = [c for c in fake_api.calls() if not c["body"].get("tools")]
    assert len(subcalls) >= 6  # one tool call started every chunk's sub-call
    notes = [e for e in read_events(ws / "trace.jsonl") if e["ev"] == "note"]
    assert [n["tool"] for n in notes] == ["map"]


def test_a_needle_reachable_only_by_delegating_twice(fake_api: FakeAPI, tmp_path: Path):
    fake_api.responder = mapping_brain
    tree(tmp_path)
    ws = tmp_path / "ws"
    r = rlm("solve", "FIND:needle", "src", "-w", str(ws), "--agentic", "--chunk-tokens", "2400",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "the secret needle sits here" in r.stdout
    starts = {e["call"]: e for e in read_events(ws / "trace.jsonl") if e["ev"] == "start"}
    assert {e["depth"] for e in starts.values()} == {0, 1, 2}
    # Only plain calls (no tools) read text, and every one that saw the needle ran at depth 2,
    # started by a depth-1 loop whose own parent is the depth-0 loop.
    readers = [e for e in starts.values() if e["kind"] in ("map", "query") and e["depth"] == 2]
    assert readers
    for e in readers:
        parent = starts[e["parent"]]
        assert parent["depth"] == 1 and parent["kind"] == "solve"
        assert starts[parent["parent"]]["depth"] == 0
    plain = [c for c in fake_api.calls() if not c["body"].get("tools")]
    assert plain and all("<part" in c["user"] for c in plain)
    status = json.loads(rlm("status", "-w", str(ws), "--json").stdout)
    assert [d["key"] for d in status["calls"]["by_depth"]] == [0, 1, 2]


def test_the_tools_are_confined_to_the_inputs(fake_api: FakeAPI, tmp_path: Path):
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "ok.txt").write_text("public line\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    attempts = [
        ("peek", {"path": "../secret.txt", "start": 1, "end": 5}),
        ("peek", {"path": str(tmp_path / "secret.txt"), "start": 1, "end": 5}),
        ("peek", {"path": "proj/link.txt", "start": 1, "end": 5}),
        ("grep", {"pattern": "SECRET", "glob": "../*"}),
        ("read", {"name": "../../secret"}),
        ("save", {"name": "../escape", "text": "x"}),
        ("query", {"task": "t", "paths": ["/etc/passwd"]}),
        ("peek", {"path": "proj/ok.txt", "lines": "all"}),  # arguments outside the schema
        ("peek", {"path": "proj/ok.txt", "start": 1, "end": 1}),
    ]

    def brain(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        if not body.get("tools"):
            return None
        if not tool_results(body):
            return [tool_use(name, args, n) for n, (name, args) in enumerate(attempts)]
        return [tool_use("final", {"text": "done"})]

    fake_api.responder = brain
    ws = tmp_path / "ws"
    r = rlm("solve", "Read everything", "proj", "-w", str(ws), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    results = tool_results(fake_api.calls()[-1]["body"])
    assert len(results) == len(attempts)
    grep = results.pop(3)
    *refused, allowed = results
    assert all(res.get("is_error") for res in refused), refused
    assert all("SECRET" not in json.dumps(res) for res in [*results, grep])
    assert grep["content"].startswith("0 matches")  # outside the inputs there is nothing to find
    assert "1\tpublic line" in allowed["content"] and not allowed.get("is_error")
    assert not (tmp_path / "escape.md").exists() and not (ws / "escape.md").exists()


def test_the_last_turn_must_call_final(fake_api: FakeAPI, tmp_path: Path):
    def wanderer(body: dict[str, Any]) -> list[dict[str, Any]] | None:
        if {t["name"] for t in body.get("tools", [])} == {"final"}:
            assert body["tool_choice"] == {"type": "tool", "name": "final"}
            return [tool_use("final", {"text": "forced to finish"})]
        return [tool_use("list_files", {})]

    fake_api.responder = wanderer
    (tmp_path / "a.txt").write_text("x\n")
    r = rlm("solve", "Q", "a.txt", "--max-turns", "3", "-w", str(tmp_path / "ws"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "forced to finish"
    assert len(fake_api.calls()) == 3


def test_solve_needs_a_backend_with_tool_use(tmp_path: Path):
    (tmp_path / "a.txt").write_text("x\n")
    r = rlm("solve", "Q", "a.txt", "--backend", "claude-code", cwd=tmp_path)
    assert r.returncode == 2 and "'claude-code' is not one of 'auto', 'anthropic'" in r.stderr
    # auto picks Claude Code when there is no key but a `claude` program: solve says why not.
    r = rlm("solve", "Q", "a.txt", cwd=tmp_path, env={"RLM_CLAUDE": "true"})
    assert r.returncode == 1 and "Messages API" in r.stderr and "Traceback" not in r.stderr


def test_map_agentic_gives_each_chunk_a_solve_loop(fake_api: FakeAPI, tmp_path: Path):
    fake_api.responder = mapping_brain
    tree(tmp_path)
    ws = tmp_path / "ws"
    assert (
        rlm("chunk", "src", "-w", str(ws), "--chunk-tokens", "2400", cwd=tmp_path).returncode == 0
    )
    r = rlm("map", "FIND:needle", "-w", str(ws), "--agentic")
    assert r.returncode == 0, r.stderr
    answers = " ".join(p.read_text() for p in (ws / "results").glob("*.md"))
    assert "the secret needle sits here" in answers
    loops = [c for c in fake_api.calls() if c["body"].get("tools")]
    assert len(loops) == 2 * len(list((ws / "results").glob("*.md")))  # map + final per chunk
    r = rlm("reduce", "FIND:needle", "-w", str(ws))
    assert r.returncode == 0, r.stderr  # reduce recognises the agentic answers as current
    assert "secret needle" in r.stdout
