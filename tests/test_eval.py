"""`rlm-sub eval` against the fake API, whose eval reader (tests/fake_eval.py) answers exactly
from the text it is sent: every score below is known before the run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import rlm
from fake_api import FakeAPI
from test_solve import mapping_brain

from rlm_cli.steps.eval_score import score
from rlm_cli.steps.eval_tasks import TASKS, Case, make_case

FIELDS = {"task", "size", "method", "trial", "score", "calls", "input_tokens", "output_tokens",
          "cost_usd", "seconds"}  # fmt: skip
SMALL = ["--context-window", "9000", "--max-output", "1000", "--chunk-tokens", "1500"]


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def by_key(out: Path) -> dict[tuple[str, int, str], float]:
    return {(r["task"], r["size"], r["method"]): r["score"] for r in rows(out)}


def test_every_task_family_scores_what_the_reader_could_see(fake_api: FakeAPI, tmp_path: Path):
    out = tmp_path / "eval"
    r = rlm("eval", *TASKS, "--sizes", "3000,12000", "--methods", "direct,run", "--trials", "1",
            "--depth", "0.9", *SMALL, "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = rows(out)
    assert len(got) == len(TASKS) * 2 * 2
    assert all(set(row) >= FIELDS and row["status"] == "ok" for row in got)
    scores = by_key(out)
    for task in TASKS:
        assert scores[(task, 3000, "direct")] == 1.0, task  # fits the window: nothing cut
        assert scores[(task, 3000, "run")] == 1.0, task
        assert scores[(task, 12000, "run")] == 1.0, task  # every part read, answers combined
    # Over the window, direct sees only the head: the needle and the definition at depth 0.9
    # are cut away, counts come out short, and some needles and pairs are missed.
    assert scores[("niah", 12000, "direct")] == 0.0
    assert scores[("codeqa", 12000, "direct")] == 0.0
    assert scores[("aggregate", 12000, "direct")] < 1.0
    assert scores[("multi-niah", 12000, "direct")] < 1.0
    direct = [row for row in got if row["method"] == "direct" and row["size"] == 12000]
    assert all(row["cut_tokens"] > 0 and row["kept_tokens"] < 9000 for row in direct)
    niah_run = next(row for row in got if row["task"] == "niah" and row["method"] == "run")
    assert niah_run["map_score"] == 1.0 and niah_run["calls"] >= 2
    assert "niah  " in r.stdout and "multi-niah  12,000  run" in r.stdout
    svg = ET.parse(out / "chart.svg").getroot()
    lines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    solid = [p for p in lines if p.get("stroke-dasharray") is None]
    assert len(solid) == len(TASKS) * 2  # one line per task and method
    assert len(lines) - len(solid) == 2  # and what the sub-agents found, for the needle tasks


def test_a_finished_eval_resumes_without_calling_again(fake_api: FakeAPI, tmp_path: Path):
    out = tmp_path / "eval"
    args = ["eval", "niah", "--sizes", "2000,5000", "--trials", "2", *SMALL, "-o", str(out)]
    assert rlm(*args).returncode == 0
    before = fake_api.snapshot()["requests"]
    again = rlm(*args, "--json")
    assert again.returncode == 0, again.stderr
    assert fake_api.snapshot()["requests"] == before
    report = json.loads(again.stdout)
    assert report["ran"] == 0 and report["skipped"] == 8 and len(report["summary"]) == 4
    more = rlm(*args[:-2], "--trials", "3", "-o", str(out), "--json")
    assert json.loads(more.stdout)["ran"] == 4  # only the new trial of each size and method
    assert len(rows(out)) == 12
    other = [a if a != "1000" else "800" for a in args]  # another --max-output: another setup
    report = json.loads(rlm(*other, "--json").stdout)
    assert report["ran"] == 8 and {r["trials"] for r in report["summary"]} == {2}


def test_dry_run_estimates_without_calling(fake_api: FakeAPI, tmp_path: Path):
    out = tmp_path / "eval"
    r = rlm("eval", "niah", "pairs", "--sizes", "4k,16k", "--methods", "direct,run,solve",
            "--dry-run", *SMALL, "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert fake_api.snapshot()["requests"] == 0
    assert "direct: 12 trials, <= 12 calls" in r.stdout
    assert "run: 12 trials" in r.stdout and "solve: 12 trials" in r.stdout
    unknown = rlm("eval", "niah", "--dry-run", "-m", "local-gguf", "-o", str(out))
    assert "<= unknown on local-gguf" in unknown.stdout


def test_a_budget_stops_the_eval_and_a_rerun_continues(fake_api: FakeAPI, tmp_path: Path):
    out = tmp_path / "eval"
    args = ["eval", "niah", "--sizes", "6000", "--methods", "run", "--trials", "3", *SMALL]
    r = rlm(*args, "--max-calls", "8", "-o", str(out))
    assert r.returncode == 4, r.stderr
    assert "budget reached" in r.stderr
    assert fake_api.snapshot()["requests"] <= 8
    assert 0 < len(rows(out)) < 3
    r = rlm(*args, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(row["trial"] for row in rows(out)) == [0, 1, 2]


def test_solve_method_runs_the_tool_loop(fake_api: FakeAPI, tmp_path: Path):
    fake_api.responder = mapping_brain  # the root maps the task over every file, then answers
    out = tmp_path / "eval"
    r = rlm("eval", "niah", "--sizes", "4000", "--methods", "solve", "--trials", "1", *SMALL,
            "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    [row] = rows(out)
    assert row["score"] == 1.0 and row["calls"] >= 3


def test_cases_are_deterministic_and_truth_is_computed():
    a, b = make_case("niah", 5000, 2, 7, None, None), make_case("niah", 5000, 2, 7, None, None)
    assert a.files == b.files and a.truth == b.truth
    assert make_case("niah", 5000, 3, 7, None, None).truth != a.truth
    text = a.files["haystack.txt"].splitlines()
    assert f"is: {a.truth}." in text[a.info["line"] - 1]
    code = make_case("codeqa", 6000, 0, 1, 0.5, None)
    path, line = code.truth.rsplit(":", 1)
    name = code.question.split("`")[1]
    assert f"{name}" in code.files[path].splitlines()[int(line) - 1]


def test_scorers_give_partial_credit_where_it_is_due():
    pairs = Case("pairs", "", {}, ["U00001+U00002", "U00003+U00004"])
    assert score(pairs, "U00002 + U00001\nU00003 + U00004") == 1.0
    assert score(pairs, "U00001 + U00002\nU00005 + U00006") == 0.5  # precision 1/2, recall 1/2
    agg = Case("aggregate", "", {}, {"label": "refund", "count": 10, "most": "shipping"})
    assert score(agg, "count: 10; most frequent: shipping") == 1.0
    assert score(agg, "count: 9; most frequent: login") == 0.375
    code = Case("codeqa", "", {}, "rlm_cli/steps/map.py:12")
    assert score(code, "at x/rlm_cli/steps/map.py:12") == 1.0
    assert score(code, "rlm_cli/steps/map.py:120") == 0.5
    multi = Case("multi-niah", "", {}, ["1234567", "7654321"])
    assert score(multi, "12345678 and 7654321") == 0.5  # digits inside a longer number do not count
