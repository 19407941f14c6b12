"""Which files a directory holds for a run: git's own list in a checkout, else a filtered walk."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", ".bzr", ".jj", ".rlm"}
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
GIT_TIMEOUT = 120.0
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def shown(name: str) -> str:
    """A path as it may be printed: undecodable bytes and control characters as \\xNN escapes."""
    if not _UNSAFE.search(name):
        return name
    return _UNSAFE.sub(_escape, name)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def raw_name(name: str) -> str | None:
    """The exact bytes of a path as hex when its shown form differs, else None (lossless record)."""
    return os.fsencode(name).hex() if _UNSAFE.search(name) else None


@dataclass
class Report:
    """What the walk passed over: skipped files (with reasons) and counts of excluded ones."""

    skipped: list[dict[str, str]] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": shown(path), "reason": reason})


@dataclass
class Filters:
    """User choices that decide which walked files are read (named files are always read)."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    gitignore: bool = True
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    skip_paths: set[Path] = field(default_factory=set)
    spool_dir: Path | None = None  # where a large stdin is spooled (the workspace)

    def __post_init__(self) -> None:
        self._include = _spec(self.include) if self.include else None
        self._exclude = _spec(self.exclude) if self.exclude else None


def list_dir(arg: str, filters: Filters, report: Report) -> Iterator[tuple[str | Path, str]]:
    """Files under a directory argument as (path, display path), in a stable order.

    In a git checkout the list comes from git itself (tracked files, and untracked ones
    that are not ignored), so a tracked file is never hidden by a .gitignore pattern.
    """
    root = Path(arg)
    prefix = _display_root(arg)
    if filters.gitignore and _in_git_tree(root.resolve()):
        listed = _git_list(root, report)
        if listed is not None:
            yield from _from_git(root, prefix, listed, filters, report)
            return
    specs = _ancestor_ignores(root) if filters.gitignore else []
    yield from _walk(root, prefix, specs, filters, report)


def _display_root(arg: str) -> str:
    """The prefix shown before paths found under a directory argument."""
    norm = os.path.normpath(arg).replace(os.sep, "/")
    return "" if norm == "." else norm + "/"


def _in_git_tree(root: Path) -> bool:
    return any((p / ".git").exists() for p in [root, *root.parents])


def _git(root: Path, *args: str) -> bytes | None:
    """Output of one git command run in root, or None when git is missing or refuses."""
    try:
        done = subprocess.run(
            ["git", "-C", os.fspath(root), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _git_list(root: Path, report: Report) -> list[str] | None:
    """Paths (relative to root) git would show: tracked plus untracked-not-ignored."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if out is None:
        return None
    ignored = _git(
        root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"
    )
    if ignored:
        report.excluded[".gitignore"] += ignored.count(b"\0")
    names = {os.fsdecode(n) for n in out.split(b"\0") if n}
    return sorted(names, key=lambda n: n.split("/"))


def _from_git(
    root: Path, prefix: str, names: list[str], filters: Filters, report: Report
) -> Iterator[tuple[Path, str]]:
    """Apply the run's own filters (vcs and workspace folders, --include, --exclude) to git's list."""
    base = root.resolve()
    fenced = [
        p.relative_to(base).as_posix() + "/"
        for p in filters.skip_paths
        if p != base and p.is_relative_to(base)
    ]
    for rel in names:
        parts = rel.split("/")
        if any(part in ALWAYS_SKIPPED_DIRS for part in parts[:-1]) or any(
            rel.startswith(f) for f in fenced
        ):
            report.excluded["vcs or workspace directory"] += 1
            continue
        if filters._exclude and filters._exclude.match_file(rel):
            report.excluded["--exclude"] += 1
            continue
        if filters._include and not filters._include.match_file(rel):
            report.excluded["not matched by --include"] += 1
            continue
        yield root / rel, prefix + rel


def _load_ignore(path: Path) -> GitIgnoreSpec | None:
    """Parse one ignore file, or None when it is absent or unreadable."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _spec(lines)


def _spec(lines: list[str]) -> GitIgnoreSpec:
    """Patterns in .gitignore syntax (pathspec is imported here: most runs never need it)."""
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(lines)


def _ancestor_ignores(root: Path) -> list[tuple[Path, GitIgnoreSpec]]:
    """Ignore rules that apply to root from enclosing directories of the same git work tree."""
    root = root.resolve()
    chain = []
    for parent in [root, *root.parents]:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a git work tree: only the walked tree's own .gitignore files count
    top = chain[-1]
    specs = []
    info = _load_ignore(top / ".git" / "info" / "exclude")
    if info:
        specs.append((top, info))
    for parent in reversed(chain[1:]):  # root's own .gitignore is loaded by the walk
        spec = _load_ignore(parent / ".gitignore")
        if spec:
            specs.append((parent, spec))
    return specs


def _ignored(path: Path, is_dir: bool, specs: list[tuple[Path, GitIgnoreSpec]]) -> bool:
    """Whether the deepest ignore file with an opinion on path ignores it (paths are absolute)."""
    for base, spec in reversed(specs):
        if not path.is_relative_to(base):
            continue
        rel = path.relative_to(base).as_posix()
        result = spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            return result.include
    return False


def _walk(
    root: Path,
    prefix: str,
    specs: list[tuple[Path, GitIgnoreSpec]],
    filters: Filters,
    report: Report,
) -> Iterator[tuple[str, str]]:
    """Depth-first walk in sorted order, pruning ignored and excluded directories."""
    base = os.fspath(root.resolve())

    def visit(directory: str, rel_dir: str, specs: list[tuple[Path, GitIgnoreSpec]]) -> Iterator:
        if filters.gitignore:
            own = _load_ignore(Path(directory, ".gitignore"))
            if own:
                specs = [*specs, (Path(directory), own)]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as e:
            report.skip(prefix + rel_dir.rstrip("/"), f"unreadable: {e.strerror}")
            return
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.is_symlink():
                report.skip(prefix + rel, "symlink (not followed)")
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir and (
                entry.name in ALWAYS_SKIPPED_DIRS or Path(entry.path) in filters.skip_paths
            ):
                report.excluded["vcs or workspace directory"] += 1
                continue
            if specs and _ignored(Path(entry.path), is_dir, specs):
                report.excluded[".gitignore"] += 1
                continue
            if filters._exclude and filters._exclude.match_file(rel + "/" if is_dir else rel):
                report.excluded["--exclude"] += 1
                continue
            if is_dir:
                yield from visit(entry.path, rel + "/", specs)
                continue
            if filters._include and not filters._include.match_file(rel):
                report.excluded["not matched by --include"] += 1
                continue
            yield entry.path, prefix + rel

    yield from visit(base, "", specs)
