"""SECURITY.md: every claim names a test that tries to break it, and every named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "SECURITY.md"
REF = re.compile(r"\[(tests/[^\]:]+)::([^\]]+)\]")


def defined_tests(path: Path) -> set[str]:
    """The test names a pytest module or a bats file defines."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".bats":
        return set(re.findall(r'^@test "([^"]+)"', text, re.M))
    return {
        node.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_claim_names_a_test_that_exists():
    claims = [line for line in DOC.read_text().splitlines() if line.startswith("- ")]
    assert len(claims) >= 25
    missing = [line for line in claims if not REF.search(line)]
    assert not missing, f"claims with no test: {missing}"
    for line in claims:
        for path, name in REF.findall(line):
            assert (ROOT / path).is_file(), path
            assert name in defined_tests(ROOT / path), f"{path} has no test {name!r}"


def test_security_md_is_linked_from_the_readme_and_the_skill():
    assert "SECURITY.md" in (ROOT / "README.md").read_text()
    skill = (ROOT / "SKILL.md").read_text()
    ci = skill.split("## In CI", 1)
    assert len(ci) == 2 and "SECURITY.md" in ci[1].split("\n## ", 1)[0]
