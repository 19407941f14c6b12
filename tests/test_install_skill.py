"""`rlm-sub install-skill`: where it installs, idempotence, and keeping local edits."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def install(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "rlm_cli", "install-skill", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or home,
    )


def expected_files() -> set[str]:
    files = {"SKILL.md"}
    files |= {f"skill/{p.name}" for p in (ROOT / "skill").iterdir()}
    files |= {f"scripts/{p.name}" for p in (ROOT / "scripts").glob("*.sh")}
    return files


def installed_files(dest: Path) -> set[str]:
    return {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}


def test_default_installs_into_home_claude_skills(home):
    result = install(home)
    dest = home / ".claude" / "skills" / "rlm"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(dest)
    assert installed_files(dest) == expected_files() | {".rlm-install.json"}
    assert (dest / "SKILL.md").read_bytes() == (ROOT / "SKILL.md").read_bytes()
    for script in (dest / "scripts").iterdir():
        assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} lost its executable bit"
    record = json.loads((dest / ".rlm-install.json").read_text())
    assert set(record["files"]) == expected_files()
    assert "wrote SKILL.md" in result.stderr


def test_project_installs_under_the_working_directory(home, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    result = install(home, "--project", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(project / ".claude" / "skills" / "rlm")
    assert (project / ".claude" / "skills" / "rlm" / "SKILL.md").is_file()
    assert not (home / ".claude").exists()


def test_dir_installs_into_any_skills_folder(home, tmp_path):
    result = install(home, "--dir", str(tmp_path / "agent-skills"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "agent-skills" / "rlm")
    assert (tmp_path / "agent-skills" / "rlm" / "scripts" / "rlm-review.sh").is_file()


def test_project_and_dir_together_is_a_usage_error(home, tmp_path):
    result = install(home, "--project", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "either --dir (the folder itself) or --agent/--project" in result.stderr


def test_second_install_is_a_no_op(home):
    assert install(home).returncode == 0
    dest = home / ".claude" / "skills" / "rlm"
    before = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}
    result = install(home)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == before


def test_local_edits_are_refused_then_overwritten_with_force(home):
    assert install(home).returncode == 0
    dest = home / ".claude" / "skills" / "rlm"
    edited = dest / "skill" / "patterns.md"
    edited.write_text("my notes\n")
    result = install(home)
    assert result.returncode == 1
    assert "skill/patterns.md" in result.stderr and "--force" in result.stderr
    assert edited.read_text() == "my notes\n"

    result = install(home, "--force")
    assert result.returncode == 0, result.stderr
    assert "overwrote skill/patterns.md" in result.stderr
    assert edited.read_bytes() == (ROOT / "skill" / "patterns.md").read_bytes()


def test_unrecorded_different_files_count_as_local_edits(home, tmp_path):
    dest = tmp_path / "skills" / "rlm"
    dest.mkdir(parents=True)
    (dest / "SKILL.md").write_text("someone else's skill\n")
    (dest / "notes.txt").write_text("user file\n")
    result = install(home, "--dir", str(tmp_path / "skills"))
    assert result.returncode == 1
    assert "SKILL.md" in result.stderr
    assert install(home, "--dir", str(tmp_path / "skills"), "--force").returncode == 0
    assert (dest / "notes.txt").read_text() == "user file\n", "files not ours are left alone"


def test_files_dropped_from_the_skill_are_removed_unless_edited(home):
    assert install(home).returncode == 0
    dest = home / ".claude" / "skills" / "rlm"
    record_path = dest / ".rlm-install.json"
    record = json.loads(record_path.read_text())
    old = dest / "scripts" / "rlm-old.sh"
    old.write_text("#!/usr/bin/env bash\n")
    record["files"]["scripts/rlm-old.sh"] = hashlib.sha256(b"other").hexdigest()
    record["files"]["../../escape.txt"] = "0" * 64  # never trusted: outside the skill
    record_path.write_text(json.dumps(record))
    result = install(home)
    assert result.returncode == 1 and "scripts/rlm-old.sh" in result.stderr  # edited: kept
    old.write_bytes(b"other")  # now identical to what the record says was installed
    result = install(home)
    assert result.returncode == 0, result.stderr
    assert not old.exists() and "removed scripts/rlm-old.sh" in result.stderr


def test_force_removes_only_files_whose_content_it_installed(home):
    assert install(home).returncode == 0
    dest = home / ".claude" / "skills" / "rlm"
    record_path = dest / ".rlm-install.json"
    record = json.loads(record_path.read_text())
    mine = dest / "scripts" / "rlm-gone.sh"
    mine.write_bytes(b"as installed")
    theirs = dest / "skill" / "notes.md"
    theirs.write_text("the user's own notes\n")
    record["files"]["scripts/rlm-gone.sh"] = hashlib.sha256(b"as installed").hexdigest()
    record["files"]["skill/notes.md"] = hashlib.sha256(b"something else").hexdigest()
    record_path.write_text(json.dumps(record))
    result = install(home, "--force")
    assert result.returncode == 0, result.stderr
    assert not mine.exists(), "a file still as installed is removed when dropped"
    assert theirs.read_text() == "the user's own notes\n", "--force deleted a file not ours"
    assert "kept skill/notes.md" in result.stderr


def test_force_never_writes_through_a_symlinked_folder(home, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "lib.sh").write_text("precious\n")
    dest = home / ".claude" / "skills" / "rlm"
    dest.mkdir(parents=True)
    (dest / "scripts").symlink_to(elsewhere, target_is_directory=True)
    result = install(home, "--force")
    assert result.returncode == 1
    assert "scripts is a symbolic link" in result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["lib.sh"]
    assert (elsewhere / "lib.sh").read_text() == "precious\n"


def test_force_replaces_a_symlinked_file_without_touching_its_target(home, tmp_path):
    assert install(home).returncode == 0
    dest = home / ".claude" / "skills" / "rlm"
    target = tmp_path / "secret.txt"
    target.write_text("secret\n")
    (dest / "SKILL.md").unlink()
    (dest / "SKILL.md").symlink_to(target)
    assert install(home).returncode == 1  # a link where a file was: like an edit
    result = install(home, "--force")
    assert result.returncode == 0, result.stderr
    assert not (dest / "SKILL.md").is_symlink()
    assert (dest / "SKILL.md").read_bytes() == (ROOT / "SKILL.md").read_bytes()
    assert target.read_text() == "secret\n"


@pytest.mark.parametrize(
    ("agent", "user", "project"),
    [
        ("claude", ".claude/skills", ".claude/skills"),
        ("agents", ".agents/skills", ".agents/skills"),
        ("codex", ".codex/skills", ".agents/skills"),
        ("gemini", ".gemini/skills", ".gemini/skills"),
        ("copilot", ".copilot/skills", ".github/skills"),
        ("cursor", ".cursor/skills", ".cursor/skills"),
    ],
)
def test_agent_picks_that_agents_skills_folder(home, tmp_path, agent, user, project):
    work = tmp_path / "project"
    work.mkdir()
    result = install(home, "--agent", agent, cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(home / user / "rlm")
    result = install(home, "--agent", agent, "--project", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(work / project / "rlm")
    assert (work / project / "rlm" / "SKILL.md").is_file()


def test_agent_and_dir_together_is_a_usage_error(home, tmp_path):
    result = install(home, "--agent", "codex", "--dir", str(tmp_path))
    assert result.returncode == 2 and "--dir" in result.stderr


def test_drivers_run_the_rlm_sub_that_installed_them(home, tmp_path, fake_api):
    result = install(home, "--dir", str(tmp_path / "skills"))
    dest = Path(result.stdout.strip())
    record = json.loads((dest / ".rlm-install.json").read_text())
    assert record["cli"] == str(Path(sys.executable).parent / "rlm-sub")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("hay\nthe needle\n")
    bare = dict(os.environ, HOME=str(home), PATH="/usr/bin:/bin")
    assert subprocess.run(["sh", "-c", "command -v rlm-sub"], env=bare).returncode != 0
    driver = [str(dest / "scripts" / "rlm-ask.sh"), "FIND:needle", "notes.txt", "-o", "out"]
    ran = subprocess.run(driver, env=bare, cwd=work, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert "- notes.txt:2: the needle" in Path(ran.stdout.strip()).read_text()

    (dest / ".rlm-install.json").unlink()  # no record, no rlm-sub on PATH: a fix that works
    ran = subprocess.run(driver, env=bare, cwd=work, capture_output=True, text=True)
    assert ran.returncode != 0
    assert "cannot find 'rlm-sub'" in ran.stderr and "pipx install" in ran.stderr
    assert "pip install rlm-sub" not in ran.stderr
