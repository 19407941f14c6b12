"""Reading inputs: named files, directories and stdin, streamed so any size fits in memory."""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rlm_cli.errors import RlmError
from rlm_cli.inputs.listing import Filters, Report, list_dir, raw_name, shown

BINARY_SNIFF_BYTES = 8192
STDIN_NAME = "<stdin>"
SLURP_BYTES = 4 * 1024 * 1024  # files up to this size are read whole; larger ones stream
BLOCK_BYTES = 256 * 1024


class SourceFile:
    """One text input: its display path, size, and text held in memory or streamed from disk."""

    __slots__ = (
        "_bad", "_data", "_text", "file", "lines_total", "note", "path", "raw", "size", "spool"
    )  # fmt: skip

    def __init__(
        self,
        path: str,
        text: str | None = None,
        size: int = 0,
        note: str | None = None,
        file: Path | None = None,
        raw: str | None = None,
        data: bytes | None = None,
    ) -> None:
        self.path, self._text, self.size, self.note = path, text, size, note
        self._data = data  # the text as valid UTF-8, when it was read so
        self.file, self.raw = file, raw  # raw: the name's bytes as hex when path is escaped
        self.spool = False  # file is a temporary copy of a pipe, deleted once read
        self.lines_total = 0  # counted before streaming, for "lines A-B of N" headers
        self._bad = 0

    @property
    def text(self) -> str:
        """The whole decoded text (read on first use for a streamed file)."""
        if self._text is None:
            if self._data is not None:
                self._text = self._data.decode("utf-8")
            else:
                assert self.file is not None
                self._text, self.note = _decode(self.file.read_bytes())
        return self._text

    @property
    def utf8(self) -> bytes:
        """The whole text as UTF-8 bytes (held, not re-encoded, for a file read whole)."""
        if self._data is None:
            self._data = self.text.encode("utf-8")
        return self._data

    @property
    def streamed(self) -> bool:
        return self._text is None and self._data is None

    def batches(self, room: int) -> Iterator[tuple[list[str], bool]]:
        """Decoded lines of a streamed file, a block at a time, as (lines, open_end).

        A line longer than room characters arrives in pieces, one per batch, each with
        open_end True except the last; in any other batch every line is complete.
        """
        assert self.file is not None
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        carry = ""
        with open(self.file, "rb") as f:
            while True:
                block = f.read(BLOCK_BYTES)
                text = carry + decoder.decode(block, final=not block)
                self._bad += text.count("\ufffd") - carry.count("\ufffd")
                lines = text.split("\n")
                carry = lines.pop()
                if lines and max(map(len, lines)) > room:
                    yield from _cut_long(lines, room)
                elif lines:
                    yield lines, False
                while len(carry) > room:
                    yield [carry[:room]], True
                    carry = carry[room:]
                if not block:
                    break
        if carry:
            yield [carry], False
        if self._bad:
            self.note = f"invalid UTF-8: {self._bad} replacement characters"


def _cut_long(lines: list[str], room: int) -> Iterator[tuple[list[str], bool]]:
    """Batches of complete lines, with each line longer than room yielded in pieces."""
    run: list[str] = []
    for line in lines:
        if len(line) <= room:
            run.append(line)
            continue
        if run:
            yield run, False
            run = []
        while len(line) > room:
            yield [line[:room]], True
            line = line[room:]
        run.append(line)  # the last piece: complete, so the next batch starts afresh
    if run:
        yield run, False


def check_paths(paths: list[str]) -> dict[str, os.stat_result | None]:
    """Fail early, naming every input that does not exist; return each one's stat.

    A path that exists but cannot be stat'ed (a dangling link, say) maps to None.
    """
    if not paths:
        raise RlmError("no inputs given: name files or directories, or '-' to read stdin")
    if paths.count("-") > 1:
        raise RlmError("'-' (stdin) may be given only once")
    stats: dict[str, os.stat_result | None] = {}
    for p in paths:
        if p != "-":
            try:
                stats[p] = os.stat(p)
            except OSError:
                stats[p] = None
    missing = [shown(p) for p, st in stats.items() if st is None and not os.path.lexists(p)]
    if missing:
        raise RlmError("path not found: " + ", ".join(missing))
    return stats


class Entry:
    """One input as listed, before it is read: where it is (None: stdin), its name, its stat.

    limit is the size over which it is skipped: set for walked files, None for named ones.
    Only the stat's mode and size are kept (a tree of a million files is listed whole).
    """

    __slots__ = ("limit", "mode", "name", "path", "size")

    def __init__(
        self, path: str | Path | None, name: str, limit: int | None, st: os.stat_result | None
    ) -> None:
        self.path, self.name, self.limit = path, name, limit
        self.mode = st.st_mode if st is not None else None  # None: not stat'ed yet, or stdin
        self.size = st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0

    @property
    def regular(self) -> bool:
        """A plain file whose size is known (not stdin, a pipe, a device or a missing file)."""
        return self.mode is not None and stat.S_ISREG(self.mode)


def iter_entries(paths: list[str], filters: Filters, report: Report) -> Iterator[Entry]:
    """Every input the paths name, in a stable order, stat'ed but not read.

    Size limits apply only to files found by walking a directory (limit is set): a file
    (or stdin, '-') the user named is read whatever its size.
    """
    stats = check_paths(paths)
    for arg in paths:
        if arg == "-":
            yield Entry(None, STDIN_NAME, None, None)
            continue
        st = stats[arg]  # None: read_entry stats it again and records why it cannot be read
        if st is not None and stat.S_ISDIR(st.st_mode):
            for path, display in list_dir(arg, filters, report):
                yield Entry(path, display, filters.max_file_bytes, _lstat(path))
        else:
            yield Entry(arg, _display(arg), None, st)


def _lstat(path: str | Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # read_entry stats it again and records why


def iter_sources(paths: list[str], filters: Filters, report: Report) -> Iterator[SourceFile]:
    """Yield every readable text file under the given paths, in a stable order."""
    for entry in iter_entries(paths, filters, report):
        source = read_entry(entry, report, filters.spool_dir)
        if source:
            yield source


def _display(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def read_entry(entry: Entry, report: Report, spool_dir: Path | None = None) -> SourceFile | None:
    """Read one input, recording a skip instead of failing when it cannot be used.

    A walked file over its limit is skipped; a named pipe (say, `<(git log)`) or stdin is
    read like stdin, spooled to spool_dir when large.
    """
    if entry.path is None:
        return _spooled(sys.stdin.buffer, STDIN_NAME, spool_dir, report)
    path, limit = entry.path, entry.limit
    display = shown(entry.name)
    try:
        mode, size = entry.mode, entry.size
        if mode is None:  # the listing could not stat it: again, to record why
            st = os.stat(path) if limit is None else os.lstat(path)
            mode, size = st.st_mode, st.st_size
        if stat.S_ISLNK(mode):
            report.skip(display, "symlink (not followed)")
            return None
        if limit is None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            with open(path, "rb") as stream:
                return _spooled(stream, display, spool_dir, report)
        if stat.S_ISDIR(mode):
            report.skip(display, "a directory in git's list (a submodule?); name it to read it")
            return None
        if not stat.S_ISREG(mode):
            report.skip(display, "not a regular file")
            return None
        if limit is not None and size > limit:
            report.skip(
                display,
                f"too large ({size:,} bytes > {limit:,}; raise --max-file-bytes "
                "to include it, or name the file)",
            )
            return None
        if size <= SLURP_BYTES:
            source = _in_memory(display, _slurp(path, size), report)
        else:
            source = _streamed(Path(path), display, size, report)
    except OSError as e:
        report.skip(display, f"unreadable: {e.strerror or e}")
        return None
    if source:
        source.raw = raw_name(entry.name)
    return source


def _slurp(path: str | Path, size: int) -> bytes:
    """A small file's bytes in few system calls; a binary one is not read past its first block."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        first = BINARY_SNIFF_BYTES if size > 8 * BINARY_SNIFF_BYTES else size + 1
        parts = [os.read(fd, first)]
        if b"\0" in parts[0][:BINARY_SNIFF_BYTES] or len(parts[0]) == size < first:
            return parts[0]  # binary, or all of it: its listed size, and no byte more
        while parts[-1]:  # until end of file, even if it grew since its size was read
            parts.append(os.read(fd, max(size + 1 - len(parts[0]), BLOCK_BYTES)))
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 2 else b"".join(parts)


def _in_memory(display: str, data: bytes, report: Report) -> SourceFile | None:
    """A small file's text, or None (with a recorded reason) for binary and empty files."""
    if not data:
        report.skip(display, "empty")
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        report.skip(display, "binary (NUL byte in the first 8 KiB)")
        return None
    text, note = (None, None) if data.isascii() else _decode(data)
    if note:  # not valid UTF-8: the text with replacement characters is what gets staged
        return SourceFile(display, text, len(data), note)
    return SourceFile(display, None, len(data), data=data)  # only the bytes are held


def _decode(data: bytes) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        return text, f"invalid UTF-8: {text.count(chr(0xFFFD))} replacement characters"


def _streamed(path: Path, display: str, size: int, report: Report) -> SourceFile | None:
    """A large file, checked and its lines counted in one pass of fixed-size blocks."""
    newlines, last = 0, b""
    with open(path, "rb") as f:
        first = f.read(BINARY_SNIFF_BYTES)
        if b"\0" in first:
            report.skip(display, "binary (NUL byte in the first 8 KiB)")
            return None
        block = first
        while block:
            newlines += block.count(b"\n")
            last = block[-1:]
            block = f.read(8 * BLOCK_BYTES)
    source = SourceFile(display, None, size, file=path)
    source.lines_total = newlines + (last != b"\n")
    return source


def _spooled(
    stream: BinaryIO, display: str, spool_dir: Path | None, report: Report
) -> SourceFile | None:
    """A pipe: held in memory when small, else spooled to a file in the workspace and streamed."""
    import shutil
    import tempfile

    head = stream.read(SLURP_BYTES + 1)
    if len(head) <= SLURP_BYTES:
        return _in_memory(display, head, report)
    if spool_dir is not None:
        spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".stdin.", suffix=".spool", dir=spool_dir)
    with os.fdopen(fd, "wb") as out:
        out.write(head)
        shutil.copyfileobj(stream, out, 8 * BLOCK_BYTES)
    spool = Path(name)
    try:
        source = _streamed(spool, display, spool.stat().st_size, report)
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    if source is None:
        spool.unlink(missing_ok=True)
    else:
        source.spool = True
    return source


def release(source: SourceFile) -> None:
    """Delete the spool file behind a streamed pipe once it has been read."""
    if source.spool and source.file is not None:
        source.file.unlink(missing_ok=True)
