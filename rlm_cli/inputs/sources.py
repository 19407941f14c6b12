"""Walking and filtering inputs: files, directories and stdin, honouring .gitignore."""

from __future__ import annotations

import os
import stat
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from rlm_cli.errors import RlmError

ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", ".bzr", ".jj", ".rlm"}
BINARY_SNIFF_BYTES = 8192
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
STDIN_NAME = "<stdin>"


@dataclass
class SourceFile:
    """One text input: its display path, decoded text and a note on how it was decoded."""

    path: str
    text: str
    size: int
    note: str | None = None


@dataclass
class Report:
    """What the walk passed over: skipped files (with reasons) and counts of excluded ones."""

    skipped: list[dict[str, str]] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})


@dataclass
class Filters:
    """User choices that decide which walked files are read."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    gitignore: bool = True
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    skip_paths: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._include = GitIgnoreSpec.from_lines(self.include) if self.include else None
        self._exclude = GitIgnoreSpec.from_lines(self.exclude) if self.exclude else None


def check_paths(paths: list[str]) -> None:
    """Fail early, naming every input that does not exist."""
    if not paths:
        raise RlmError("no inputs given: name files or directories, or '-' to read stdin")
    if paths.count("-") > 1:
        raise RlmError("'-' (stdin) may be given only once")
    missing = [p for p in paths if p != "-" and not os.path.lexists(p)]
    if missing:
        raise RlmError("path not found: " + ", ".join(missing))


def iter_sources(paths: list[str], filters: Filters, report: Report) -> Iterator[SourceFile]:
    """Yield every readable text file under the given paths, in a stable order."""
    check_paths(paths)
    for arg in paths:
        if arg == "-":
            data = sys.stdin.buffer.read()
            source = _decode(STDIN_NAME, data, report)
            if source:
                yield source
        elif os.path.isdir(arg):
            root = Path(arg)
            specs = _ancestor_ignores(root) if filters.gitignore else []
            yield from _walk(root, _display_root(arg), specs, filters, report)
        else:
            yield from _read_file(Path(arg), _display(arg), filters, report)


def _display_root(arg: str) -> str:
    """The prefix shown before paths found under a directory argument."""
    norm = os.path.normpath(arg).replace(os.sep, "/")
    return "" if norm == "." else norm + "/"


def _display(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def _load_ignore(path: Path) -> GitIgnoreSpec | None:
    """Parse one ignore file, or None when it is absent or unreadable."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
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
) -> Iterator[SourceFile]:
    """Depth-first walk in sorted order, pruning ignored and excluded directories."""
    base = root.resolve()

    def visit(directory: Path, specs: list[tuple[Path, GitIgnoreSpec]]) -> Iterator[SourceFile]:
        if filters.gitignore:
            own = _load_ignore(directory / ".gitignore")
            if own:
                specs = [*specs, (directory, own)]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as e:
            report.skip(
                prefix + directory.relative_to(base).as_posix(), f"unreadable: {e.strerror}"
            )
            return
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(base).as_posix()
            if entry.is_symlink():
                report.skip(prefix + rel, "symlink (not followed)")
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir and (entry.name in ALWAYS_SKIPPED_DIRS or path in filters.skip_paths):
                report.excluded["vcs or workspace directory"] += 1
                continue
            if filters.gitignore and _ignored(path, is_dir, specs):
                report.excluded[".gitignore"] += 1
                continue
            if filters._exclude and filters._exclude.match_file(rel + "/" if is_dir else rel):
                report.excluded["--exclude"] += 1
                continue
            if is_dir:
                yield from visit(path, specs)
                continue
            if filters._include and not filters._include.match_file(rel):
                report.excluded["not matched by --include"] += 1
                continue
            yield from _read_file(path, prefix + rel, filters, report)

    yield from visit(base, specs)


def _read_file(path: Path, shown: str, filters: Filters, report: Report) -> Iterator[SourceFile]:
    """Read one file, recording a skip instead of failing when it cannot be used."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            report.skip(shown, "not a regular file")
            return
        if st.st_size > filters.max_file_bytes:
            report.skip(
                shown,
                f"too large ({st.st_size:,} bytes > {filters.max_file_bytes:,}; "
                "raise --max-file-bytes to include it)",
            )
            return
        data = path.read_bytes()
    except OSError as e:
        report.skip(shown, f"unreadable: {e.strerror or e}")
        return
    source = _decode(shown, data, report)
    if source:
        yield source


def _decode(shown: str, data: bytes, report: Report) -> SourceFile | None:
    """Text of a file, or None (with a recorded reason) for binary and empty files."""
    if not data:
        report.skip(shown, "empty")
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        report.skip(shown, "binary (NUL byte in the first 8 KiB)")
        return None
    try:
        return SourceFile(shown, data.decode("utf-8"), len(data))
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        return SourceFile(shown, text, len(data), f"invalid UTF-8: {bad} replacement characters")
