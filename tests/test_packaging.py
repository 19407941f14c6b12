"""The sdist and wheel built from a fresh clone: license, the tests with what they read, the
plugin, and no developer tool in the wheel."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from test_plugin_e2e import fresh_clone

pytestmark = pytest.mark.slow


def test_sdist_and_wheel_carry_what_they_should(tmp_path: Path):
    clone = fresh_clone(tmp_path / "clone")
    out = tmp_path / "dist"
    built = subprocess.run(
        # In the test venv, which has the build backend (test extras): no isolated env to set up.
        [sys.executable, "-m", "build", "--no-isolation", "-s", "-w", "-o", str(out), str(clone)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("LICENSE", "tests/conftest.py", "tests/fake_api.py", "tests/package.json",
                   "tests/bats/helpers.bash", "tests/run-all.sh", ".claude-plugin/plugin.json",
                   "agents/reviewer.md", "bin/rlm-sub", "action.yml", "action/review.sh",
                   "tools/gen-command-reference.sh"):  # fmt: skip
        assert needed in names, f"the sdist lacks {needed}"
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n]
    with zipfile.ZipFile(wheel) as whl:
        files = whl.namelist()
        metadata = whl.read(next(n for n in files if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in files)
    skill = {n.split("skill_files/", 1)[1] for n in files if "skill_files/" in n}
    assert "SKILL.md" in skill and "scripts/rlm-review.sh" in skill
    assert not [n for n in files if "gen-command-reference" in n or n.startswith("tests/")]
