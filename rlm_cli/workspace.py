"""Workspace layout, the manifest, and atomic file writes: files are the variables of an RLM."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlm_cli.errors import RlmError

MANIFEST_VERSION = 1
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
TMP_RE = re.compile(r"\..+\.(\d+)\.[^.]+\.tmp")  # atomic_write's temp names carry the writer's pid


def check_id(value: object, where: Path) -> str:
    """An id read from a workspace file, refused unless it is a plain file name."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise RlmError(
            f"{where} names an id {value!r} that is not a plain file name: the file was "
            "edited by hand or by another program; delete the workspace and re-run"
        )
    return value


def alive(pid: object) -> bool:
    """Whether a process with this id is running."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_links(root: Path) -> None:
    """Refuse a workspace holding a symlink anywhere inside; remove temp files of dead writers.

    Every write into a workspace goes to a path inside it, so with no link inside nothing is
    written or deleted through one. The temp files a killed writer left are removed here.
    """
    if root.is_symlink():
        raise RlmError(f"workspace {root} is a symbolic link: use the real folder it points to")
    for parent in [p for p in root.parents if not p.is_absolute() and str(p) != "."]:
        if parent.is_symlink():
            raise RlmError(f"workspace {root}: {parent} is a symbolic link; use a real folder")
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                raise RlmError(
                    f"workspace {root} holds a symbolic link ({path}): rlm-sub never reads or "
                    "writes through one; remove it (or the workspace) and re-run"
                )
        for name in files:
            stale = TMP_RE.fullmatch(name)
            if stale and not alive(int(stale.group(1))):
                (Path(folder) / name).unlink(missing_ok=True)


def atomic_write(path: Path, data: str | bytes, durable: bool = True) -> None:
    """Write a file so that readers see either the old content or the new, never a torn one.

    durable=False skips fsync: for files that are cheap to regenerate (chunks) or whose
    readers check them (a result's record holds its answer's hash), where an fsync per
    file would dominate the time.
    """
    try:
        tmp = write_temp(path, data, durable)
    except FileNotFoundError:  # its folder does not exist yet
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp(path, data, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_temp(
    path: Path, data: str | bytes, durable: bool = True, owner: int | None = None
) -> Path:
    """Write data to a new temporary file beside path (in path's folder); return its path.

    Renaming it over path publishes it whole. Its name carries the pid of its owner, the
    process that will publish it (this one unless given), so a workspace opened after the
    owner died deletes it, and never while the owner lives.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    pid = owner or os.getpid()
    tmp = path.parent / f".{path.name}.{pid}.{next(_serial)}.tmp"
    try:
        # O_EXCL: never through a link or over another writer's file; mode 0666 less the umask.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:  # left by a killed process that had this pid
        import tempfile

        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{pid}.", suffix=".tmp")
        tmp = Path(name)
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600; a file follows the umask
    try:
        with memoryview(raw) as view:
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


_serial = itertools.count()  # temp-file names unique within this process (threads included)


def _file_mode() -> int:
    """The mode a new file gets from open(): 0666 less the umask (read at import, once)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    """Atomically write an object as indented JSON (durable=False: see atomic_write)."""
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n", durable)


def read_json(path: Path) -> Any | None:
    """Read a JSON file, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sha256(*parts: str | bytes) -> str:
    """Hex digest of the parts (text as UTF-8), each length-prefixed so that boundaries matter."""
    h = hashlib.sha256()
    for p in parts:
        b = p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass")
        h.update(f"{len(b)}:".encode())
        h.update(b)
    return h.hexdigest()


def slugify(text: str, limit: int = 40) -> str:
    """A short filesystem-safe name for a task."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "task"


@dataclass
class Workspace:
    """A directory holding one job's manifest, chunks, results and final answer."""

    root: Path

    def __post_init__(self) -> None:
        check_links(self.root)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def chunks_dir(self) -> Path:
        return self.root / "chunks"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def reduce_dir(self) -> Path:
        return self.root / "reduce"

    @property
    def evidence_dir(self) -> Path:
        return self.root / "evidence"

    @property
    def final_path(self) -> Path:
        return self.root / "final.md"

    @property
    def trace_path(self) -> Path:
        return self.root / "trace.jsonl"

    def chunk_path(self, chunk_id: str) -> Path:
        return self.chunks_dir / f"{check_id(chunk_id, self.manifest_path)}.txt"

    def load_manifest(self) -> dict[str, Any]:
        """The manifest, or an error that says to run `rlm-sub chunk` first."""
        manifest = read_json(self.manifest_path)
        if manifest is None:
            raise RlmError(
                f"no manifest in workspace {self.root}: stage inputs first with "
                f"`rlm-sub chunk PATH... -w {self.root}`"
            )
        if manifest.get("version") != MANIFEST_VERSION:
            raise RlmError(
                f"{self.manifest_path} was written by another rlm-sub version; "
                "re-run `rlm-sub chunk` to restage"
            )
        for chunk in manifest.get("chunks") or []:
            check_id(chunk.get("id") if isinstance(chunk, dict) else chunk, self.manifest_path)
        return manifest

    def read_chunk(self, chunk_id: str) -> str:
        """The text a sub-agent sees for one chunk."""
        try:
            return self.chunk_path(chunk_id).read_text(encoding="utf-8")
        except OSError as e:
            raise RlmError(
                f"chunk file missing: {self.chunk_path(chunk_id)} ({e.strerror}); "
                "re-run `rlm-sub chunk` to restage"
            ) from e


def ignore_in_git(root: Path) -> None:
    """A workspace inside a `.rlm` folder: give that folder a .gitignore of `*`, once.

    `git add -A` then never commits workspaces (they hold copies of the sources).
    """
    folder = root.absolute().parent
    if folder.name == ".rlm" and not (folder / ".gitignore").exists():
        atomic_write(folder / ".gitignore", "# rlm-sub workspaces: never commit them\n*\n")


def remove_empty(root: Path) -> None:
    """Remove root and the folders under it when they hold no file at all; else nothing."""
    for folder, _dirs, _files in os.walk(root, topdown=False):
        try:
            os.rmdir(folder)
        except OSError:
            return
    if root.parent.name == ".rlm":
        with contextlib.suppress(OSError):
            root.parent.rmdir()  # .rlm itself, when this was all it held
