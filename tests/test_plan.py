"""Plans before spending: dry-run figures against the fake server's own token counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import rlm
from fake_api import FakeAPI

SOURCE = Path(__file__).resolve().parents[1] / "rlm_cli"
MAP = "you see exactly one part"


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """Real source code as the input: this project's own package."""
    return Path(
        shutil.copytree(SOURCE, tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    )


def plan(*args: str, cwd: Path) -> dict:
    r = rlm(*args, "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_estimated_input_tokens_are_within_10_percent_of_the_servers_count(
    fake_api: FakeAPI, code: Path, tmp_path: Path
):
    args = ["run", "Summarise", "src", "-w", "ws", "--chunk-tokens", "4000"]
    estimate = plan(*args, "--dry-run", cwd=tmp_path)
    assert fake_api.calls() == []  # a dry run makes no model call
    assert estimate["map_calls"] == estimate["chunks"] > 10
    r = rlm(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    counted = sum(c["input_tokens"] for c in fake_api.calls(MAP))
    assert abs(estimate["map_input_tokens"] - counted) <= 0.10 * counted, (estimate, counted)
    assert len(fake_api.calls(MAP)) == estimate["map_calls"]

    again = plan(*args, "--dry-run", cwd=tmp_path)
    assert again["map_calls"] == 0 and again["cached"] == estimate["chunks"]


def test_exact_counts_match_the_server_and_plan_equals_run_dry_run(
    fake_api: FakeAPI, code: Path, tmp_path: Path
):
    exact = plan("plan", "Summarise", "src", "-w", "ws", "--chunk-tokens", "4000", "--exact",
                 cwd=tmp_path)  # fmt: skip
    assert fake_api.calls() == []  # count_tokens is not a Messages call
    assert "POST /v1/messages/count_tokens" in fake_api.routes
    r = rlm("map", "Summarise", "-w", "ws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert exact["map_input_tokens"] == sum(c["input_tokens"] for c in fake_api.calls(MAP))
    dry = plan("run", "Summarise", "src", "-w", "ws2", "--chunk-tokens", "4000", "--dry-run",
               cwd=tmp_path)  # fmt: skip
    same = plan("plan", "Summarise", "src", "-w", "ws3", "--chunk-tokens", "4000", cwd=tmp_path)
    assert {k: v for k, v in dry.items() if k != "workspace"} == {
        k: v for k, v in same.items() if k != "workspace"
    }


def test_dollars_come_from_the_price_table_with_a_worst_case(tmp_path: Path):
    (tmp_path / "a.txt").write_text("word " * 3000)
    cheap = plan("plan", "Q", "a.txt", "-w", "w1", cwd=tmp_path)
    dear = plan("plan", "Q", "a.txt", "-w", "w1", "--model", "claude-opus-4-1", cwd=tmp_path)
    assert 0 < cheap["expected_cost_usd"] <= cheap["max_cost_usd"]
    assert dear["expected_cost_usd"] > 50 * cheap["expected_cost_usd"]  # $15/$75 vs $0.10/$0.50
    unknown = plan("plan", "Q", "a.txt", "-w", "w1", "--model", "claude-new-9", cwd=tmp_path)
    assert unknown["expected_cost_usd"] is None
    text = rlm("map", "Q", "-w", "w1", "--dry-run", cwd=tmp_path)
    assert text.returncode == 0 and "No model call was made" in text.stdout
