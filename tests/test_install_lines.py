"""The README's install lines, run as written on a fresh clone into temporary tool folders.

`pipx install <checkout>`, `pipx install git+<URL>`, `uv tool install <checkout>` and
`pip install <checkout>` in a new virtualenv each give an `rlm-sub` that answers from the
fake Messages API and carries the skill files `install-skill` copies. pipx and uv come from
the package index (the test extras); they reach only the package index for dependencies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import FakeAPI
from test_plugin_e2e import fresh_clone

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
NEEDLE = "- notes.txt:2: the needle is here"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def tool(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed in {BIN}: run `bash tests/run-all.sh`")
    return str(path)


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return fresh_clone(tmp_path / "clone")


@pytest.fixture
def env(tmp_path: Path, fake_api: FakeAPI) -> dict[str, str]:
    """A shell with no rlm-sub on PATH and every tool folder inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    path = [p for p in clean["PATH"].split(os.pathsep) if Path(p) != BIN]
    return clean | {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(tmp_path / "bin"), *path]),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "PIPX_DEFAULT_PYTHON": getattr(sys, "_base_executable", sys.executable),
        "UV_TOOL_DIR": str(tmp_path / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
        # The machine's own caches, as a user's install would use them (warm after one run).
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(CACHE / "uv"),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(CACHE / "pip"),
        "UV_PYTHON_DOWNLOADS": "never",
    }


def check_installed(rlm_sub: Path, env: dict[str, str], tmp_path: Path) -> None:
    """The installed command answers from the fake and installs its skill."""
    assert rlm_sub.is_file(), f"no {rlm_sub}"
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("nothing here\nthe needle is here\n")
    answer = run([str(rlm_sub), "query", "FIND:needle", "notes.txt"], env, work)
    assert NEEDLE in answer.stdout
    skill = run([str(rlm_sub), "install-skill", "--dir", str(tmp_path / "skills")], env, work)
    installed = Path(skill.stdout.strip())
    assert (installed / "SKILL.md").is_file() and (installed / "scripts" / "lib.sh").is_file()
    assert not (installed / "scripts" / "gen-command-reference.sh").exists()


def test_pipx_install_checkout(clone, env, tmp_path):
    run([tool("pipx"), "install", str(clone)], env, tmp_path)
    check_installed(tmp_path / "bin" / "rlm-sub", env, tmp_path)


def test_pipx_install_git_url(clone, env, tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    run([*git, "init", "-q", str(clone)], env, tmp_path)
    run([*git, "-C", str(clone), "add", "-A"], env, tmp_path)
    run([*git, "-C", str(clone), "commit", "-q", "-m", "clone"], env, tmp_path)
    run([tool("pipx"), "install", f"git+file://{clone}"], env, tmp_path)
    check_installed(tmp_path / "bin" / "rlm-sub", env, tmp_path)


def test_uv_tool_install_checkout(clone, env, tmp_path):
    python = getattr(sys, "_base_executable", sys.executable)
    run([tool("uv"), "tool", "install", "--python", python, str(clone)], env, tmp_path)
    check_installed(tmp_path / "bin" / "rlm-sub", env, tmp_path)


def test_pip_install_in_a_new_venv(clone, env, tmp_path):
    venv = tmp_path / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], env, tmp_path)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(clone)], env, clone)
    check_installed(venv / "bin" / "rlm-sub", env, tmp_path)


def test_no_document_tells_anyone_to_install_an_unpublished_package():
    root = Path(__file__).resolve().parents[1]
    texts = [root / "README.md", root / "SKILL.md", root / "action.yml"]
    texts += [*(root / "skill").glob("*.md"), *(root / "scripts").glob("*.sh")]
    texts += [*(root / "agents").glob("*.md"), *(root / "rlm_cli").rglob("*.py")]
    for path in texts:
        for line in path.read_text().splitlines():
            if "install rlm-sub" in line:  # pip/pipx/uv install of a name no index has
                assert "not published" in line or "Never" in line, f"{path.name}: {line}"
