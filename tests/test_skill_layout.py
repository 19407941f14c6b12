"""The Agent Skill's shape: frontmatter rules, references, scripts, and the command reference."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_cli.cli.install_skill import SKILL_NAME

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "SKILL.md"
KEY_PHRASES = [
    "whole codebase",
    "huge diff or PR",
    "long logs",
    "many files",
    "too big for context",
    "architecture",
    "cross-module bug",
    "large refactor",
]
DRIVERS = ["rlm-review.sh", "rlm-architecture.sh", "rlm-debug.sh", "rlm-refactor.sh", "rlm-ask.sh"]


def split_skill() -> tuple[dict[str, str], str]:
    """The frontmatter as key -> value (one line each) and the body after it."""
    text = SKILL.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, "SKILL.md must start with a --- frontmatter block ---"
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(": ")
        assert sep and re.fullmatch(r"[a-z-]+", key), f"not a simple 'key: value' line: {line!r}"
        fields[key] = value.strip()
    return fields, match.group(2)


def test_name_follows_the_agent_skills_rules_and_matches_the_install_folder():
    name = split_skill()[0]["name"]
    assert 1 <= len(name) <= 64
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), "a-z, 0-9 and single inner hyphens"
    assert name == SKILL_NAME == "rlm"


def test_description_is_bounded_third_person_and_front_loads_the_trigger_words():
    description = split_skill()[0]["description"]
    assert 1 <= len(description) <= 1024
    head = description[:250].lower()
    missing = [p for p in KEY_PHRASES if p.lower() not in head]
    assert not missing, f"not in the first 250 characters: {missing}"
    assert not re.match(r"(i|you|we|use this)\b", description.lower()), "third person"
    # A plain YAML scalar: no ': ' or ' #' inside, no leading indicator character.
    assert ": " not in description and " #" not in description
    assert description[0] not in "\"'[]{}>|*&!%@`#,?:-"


def test_body_is_under_500_lines():
    assert len(split_skill()[1].splitlines()) < 500


def mentioned(text: str) -> set[str]:
    return set(re.findall(r"\b((?:skill|scripts)/[A-Za-z0-9_.-]*[A-Za-z0-9_])", text))


def test_every_file_mentioned_in_skill_md_exists():
    names = mentioned(SKILL.read_text(encoding="utf-8"))
    assert names, "SKILL.md names no reference files or scripts"
    missing = sorted(n for n in names if not (ROOT / n).is_file())
    assert not missing, f"SKILL.md mentions files that do not exist: {missing}"


def test_every_reference_and_driver_is_named_in_skill_md():
    names = mentioned(SKILL.read_text(encoding="utf-8"))
    references = {f"skill/{p.name}" for p in (ROOT / "skill").iterdir()}
    drivers = {f"scripts/{d}" for d in DRIVERS}
    assert references <= names, f"not named in SKILL.md: {sorted(references - names)}"
    assert drivers <= names, f"not named in SKILL.md: {sorted(drivers - names)}"


def test_references_are_one_level_deep():
    entries = list((ROOT / "skill").iterdir())
    assert entries and all(p.is_file() and p.suffix == ".md" for p in entries)
    for ref in entries:
        text = ref.read_text(encoding="utf-8")
        for name in mentioned(text):
            assert (ROOT / name).is_file(), f"{ref.name} mentions a missing file {name}"
        if len(text.splitlines()) > 100:
            assert "## Contents" in text, f"{ref.name} is long: give it a table of contents"


@pytest.mark.parametrize("name", DRIVERS)
def test_drivers_are_strict_executable_bash(name):
    path = ROOT / "scripts" / name
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert path.stat().st_mode & stat.S_IXUSR
    shown = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and shown.stdout.startswith(f"Usage: {name} ")


def test_command_reference_is_up_to_date_with_help():
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("RLM_SUB", None)
    fresh = subprocess.run(
        ["bash", str(ROOT / "tools" / "gen-command-reference.sh"), "-"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    current = (ROOT / "skill" / "commands.md").read_text(encoding="utf-8")
    assert fresh == current, (
        "skill/commands.md is out of date with `rlm-sub --help`: "
        "run tools/gen-command-reference.sh and commit the result"
    )
