"""`rlm-sub install-skill`: copy the rlm Agent Skill into an agent's skills folder.

The skill is SKILL.md, the reference files in skill/ and the driver scripts in scripts/.
An installed wheel carries them as rlm_cli/skill_files/ (setup.py copies them there at
build time); an editable install or a checkout reads them from the repository root.

The folder gets a record, .rlm-install.json, of the hash of every file written and of the
rlm-sub that wrote them (the drivers run that one when rlm-sub is not on PATH). A later
install compares the files on disk with it: a file that differs from both the record and
the new version was edited locally and is not overwritten without --force. A file is only
ever deleted when its content is what rlm-sub installed, and nothing is written through a
symlinked folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import click

from rlm_cli import __version__
from rlm_cli.errors import RlmError

SKILL_NAME = "rlm"
RECORD = ".rlm-install.json"
SUBDIRS = ("skill", "scripts")
# Where each agent reads Agent Skills: (user scope under ~, project scope under the cwd).
AGENT_DIRS = {
    "claude": (".claude/skills", ".claude/skills"),
    "agents": (".agents/skills", ".agents/skills"),  # the shared folder (Codex, Amp, ...)
    "codex": (".codex/skills", ".agents/skills"),
    "gemini": (".gemini/skills", ".gemini/skills"),
    "copilot": (".copilot/skills", ".github/skills"),
    "cursor": (".cursor/skills", ".cursor/skills"),
}


def source_root() -> Traversable:
    """Where the skill's files are: inside the installed package, else the checkout."""
    packaged = resources.files("rlm_cli") / "skill_files"
    if packaged.joinpath("SKILL.md").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "SKILL.md").is_file() and (checkout / "scripts").is_dir():
        return checkout
    raise RlmError(
        "cannot find the skill files (SKILL.md, skill/, scripts/) in this installation of "
        "rlm-sub: reinstall it from its checkout (pipx install --force <checkout>)"
    )


def skill_files(root: Traversable) -> dict[str, bytes]:
    """Every file of the skill, by its path inside the skill folder (one level deep)."""
    files = {"SKILL.md": root.joinpath("SKILL.md").read_bytes()}
    for sub in SUBDIRS:
        folder = root.joinpath(sub)
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            rel = f"{sub}/{entry.name}"
            if entry.is_file() and not entry.name.startswith("."):
                files[rel] = entry.read_bytes()
    return files


def mode_for(rel: str) -> int:
    """Scripts are executable; everything else is plain readable text."""
    return 0o755 if rel.startswith("scripts/") else 0o644


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str | None:
    """The hash of a file on disk; None when absent, "not-a-file" for a folder, a link or such."""
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        return "not-a-file"
    try:
        return digest(path.read_bytes())
    except OSError:
        return "unreadable"


def skill_path(rel: object) -> bool:
    """Whether rel names a file the skill could own: SKILL.md or <subdir>/<name>, nothing else."""
    if not isinstance(rel, str):
        return False
    parts = rel.split("/")
    if parts == ["SKILL.md"]:
        return True
    return len(parts) == 2 and parts[0] in SUBDIRS and parts[1] not in ("", ".", "..")


def read_record(dest: Path) -> dict[str, str]:
    """Hashes of what the last install wrote, or {} when there was none (or it is unreadable)."""
    try:
        data = json.loads((dest / RECORD).read_text(encoding="utf-8"))
        files = data.get("files", {})
        return {k: v for k, v in files.items() if skill_path(k) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


def record_cli(dest: Path) -> str | None:
    """The rlm-sub path the last install recorded (None when none, or no record)."""
    try:
        cli = json.loads((dest / RECORD).read_text(encoding="utf-8")).get("cli")
    except (OSError, ValueError, AttributeError):
        return None
    return cli if isinstance(cli, str) else None


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file in the same folder and rename, so a file is never half there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def log(message: str) -> None:
    print(message, file=sys.stderr)


def this_cli() -> str | None:
    """The rlm-sub console script of this installation, for drivers that cannot find one."""
    script = Path(sys.executable).parent / "rlm-sub"
    return str(script) if script.is_file() and os.access(script, os.X_OK) else None


def refuse_links(dest: Path) -> None:
    """Never write through a symlink: the skill folder and its subfolders must be real."""
    for folder in (dest, *(dest / sub for sub in SUBDIRS)):
        if folder.is_symlink():
            raise RlmError(
                f"{folder} is a symbolic link: rlm-sub does not write through links; "
                "remove the link (its target is left alone) and run install-skill again"
            )


def install(dest: Path, force: bool = False) -> Path:
    """Install (or update) the skill in dest; returns dest. Refuses to clobber local edits."""
    root = source_root()
    if isinstance(root, Path) and dest.resolve() == root.resolve():
        log(f"{dest} is the rlm-sub checkout itself: nothing to install")
        return dest
    refuse_links(dest)
    if dest.exists() and not dest.is_dir():
        raise RlmError(f"{dest} exists and is not a folder: move it away, or choose --dir")
    files = skill_files(root)
    new = {rel: digest(data) for rel, data in files.items()}
    old = read_record(dest)

    edited = []  # files on disk that are neither what we installed last nor what we install now
    for rel in sorted(set(new) | set(old)):
        on_disk = file_digest(dest / rel)
        if on_disk is None or on_disk == new.get(rel) or on_disk == old.get(rel):
            continue
        edited.append(rel)
    if edited and not force:
        listing = "\n".join(f"  {rel}" for rel in edited)
        raise RlmError(
            f"{dest} has files that differ from what rlm-sub installed (edited locally, or "
            f"not installed by rlm-sub):\n{listing}\n"
            "Move your changes elsewhere, or re-run with --force to overwrite them."
        )

    changed = 0
    for rel, data in files.items():
        path = dest / rel
        on_disk = file_digest(path)
        if on_disk == new[rel]:
            if path.stat().st_mode & 0o777 != mode_for(rel):
                os.chmod(path, mode_for(rel))
            continue
        if on_disk == "not-a-file" and not (force and path.is_symlink()):
            raise RlmError(
                f"{path} is a folder or a link where the skill has a file: move it away"
                + ("" if path.is_dir() and not path.is_symlink() else " (or use --force)")
            )
        verb = "wrote" if on_disk is None else "overwrote" if rel in edited else "updated"
        write_atomic(path, data, mode_for(rel))
        log(f"  {verb} {rel}")
        changed += 1
    for rel in sorted(set(old) - set(new)):
        path = dest / rel
        if file_digest(path) == old[rel]:  # only what rlm-sub wrote, as it wrote it
            path.unlink()
            log(f"  removed {rel} (no longer part of the skill)")
            changed += 1
        elif path.exists() or path.is_symlink():
            log(f"  kept {rel}: no longer part of the skill, but not as rlm-sub installed it")

    record = {"skill": SKILL_NAME, "version": __version__, "cli": this_cli(), "files": new}
    if read_record(dest) != new or record_cli(dest) != record["cli"]:
        write_atomic(dest / RECORD, (json.dumps(record, indent=2) + "\n").encode(), 0o644)
    if changed:
        log(f"installed the {SKILL_NAME} skill ({len(files)} files, {changed} written) in {dest}")
    else:
        log(f"the {SKILL_NAME} skill in {dest} is up to date ({len(files)} files)")
    return dest


def skills_folder(agent: str, project: bool, skills_dir: Path | None) -> Path:
    """The folder that holds skills: the agent's (user or --project scope), or --dir PATH."""
    if skills_dir is not None and (project or agent != "claude"):
        raise click.UsageError(
            "give either --dir (the folder itself) or --agent/--project, not both"
        )
    if skills_dir is not None:
        return skills_dir.expanduser()
    user, in_project = AGENT_DIRS[agent]
    return Path.cwd() / in_project if project else Path.home() / user


def install_command(agent: str, project: bool, skills_dir: Path | None, force: bool) -> Path:
    """What `rlm-sub install-skill` does; returns the installed skill folder."""
    dest = skills_folder(agent, project, skills_dir) / SKILL_NAME
    return install(dest, force=force).absolute()
