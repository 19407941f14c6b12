"""Packing sources into token-budgeted chunks, each labelled with path and line ranges."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rlm_cli.inputs.sources import SourceFile

# Newer Claude tokenizers (Claude 4.7 and later, Haiku 5.5) average about 3 bytes per token on
# code and prose (about 30% more tokens than older ones); an overflow is split and retried.
BYTES_PER_TOKEN = 3.0
DEFAULT_CHUNK_TOKENS = 20_000
MIN_CHUNK_TOKENS = 200

HEADER_RE = re.compile(r"^==> (?P<path>.+) \[(?P<where>[^\]]*)\] <==$")
LINE_NO_RE = re.compile(r"^(\d+)\t")
# A line that starts a top-level definition: at column 0 and not closing a bracket.
TOP_LEVEL_RE = re.compile(r"^[A-Za-z_@#$<]")


def estimate_tokens(text: str) -> int:
    """A conservative token estimate from the UTF-8 size."""
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return math.ceil(size / BYTES_PER_TOKEN)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


@dataclass
class Chunk:
    """One unit of work for a sub-agent: rendered text plus where each part came from."""

    id: str
    text: str
    sources: list[dict[str, object]] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def header(path: str, start: int, end: int, total: int) -> str:
    return f"==> {path} [lines {start}-{end} of {total}] <==\n"


def _part_header(path: str, line: int, part: int, parts: int) -> str:
    return f"==> {path} [line {line}, part {part} of {parts}] <==\n"


class Packer:
    """Greedy packer: small files share a chunk, large files are split at good boundaries."""

    def __init__(self, chunk_tokens: int, per_file: bool = False) -> None:
        self.budget = int(chunk_tokens * BYTES_PER_TOKEN)
        self.per_file = per_file
        self._parts: list[str] = []
        self._sources: list[dict[str, object]] = []
        self._used = 0
        self._count = 0

    def add(self, source: SourceFile) -> Iterator[Chunk]:
        """Add one file; yield every chunk that became full."""
        lines = source.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # a trailing newline ends the last line; it does not start a new one
        rendered = [f"{i}\t{line}\n" for i, line in enumerate(lines, 1)]
        sizes = [_size(r) for r in rendered]
        total = len(lines)
        whole = _size(header(source.path, 1, total, total)) + sum(sizes) + 1
        if self.per_file and self._parts:
            yield self._flush()
        if whole <= self.budget - self._used:
            self._append(source.path, 1, total, total, rendered, whole)
            return
        if self._parts:
            yield self._flush()
        if whole <= self.budget:
            self._append(source.path, 1, total, total, rendered, whole)
            return
        start = 0
        while start < total:
            head = _size(header(source.path, start + 1, total, total)) + 1
            if head + sizes[start] > self.budget:
                yield from self._long_line(source.path, start + 1, lines[start])
                start += 1
                continue
            end, used = start, head
            while end < total and used + sizes[end] <= self.budget:
                used += sizes[end]
                end += 1
            if end < total:
                end = _best_break(lines, start, end)
                used = head + sum(sizes[start:end])
            self._append(source.path, start + 1, end, total, rendered[start:end], used)
            if end < total:
                yield self._flush()
            start = end

    def finish(self) -> Iterator[Chunk]:
        """Yield the last, partly filled chunk."""
        if self._parts:
            yield self._flush()

    def _append(
        self, path: str, start: int, end: int, total: int, rendered: list[str], size: int
    ) -> None:
        self._parts.append(header(path, start, end, total) + "".join(rendered) + "\n")
        self._sources.append({"path": path, "start": start, "end": end})
        self._used += size

    def _long_line(self, path: str, number: int, line: str) -> Iterator[Chunk]:
        """Split one over-long line into parts, each in a chunk of its own."""
        if self._parts:
            yield self._flush()
        room = (
            self.budget - _size(_part_header(path, number, 99999, 99999)) - len(f"{number}\t\n\n")
        )
        if not line.isascii():
            room = room // 4  # worst case: four bytes per character
        parts = math.ceil(len(line) / room)
        for p in range(parts):
            piece = line[p * room : (p + 1) * room]
            text = _part_header(path, number, p + 1, parts) + f"{number}\t{piece}\n\n"
            self._parts.append(text)
            self._sources.append(
                {"path": path, "start": number, "end": number, "part": f"{p + 1}/{parts}"}
            )
            yield self._flush()

    def _flush(self) -> Chunk:
        self._count += 1
        chunk = Chunk(f"c{self._count:04d}", "".join(self._parts), self._sources)
        self._parts, self._sources, self._used = [], [], 0
        return chunk


def _best_break(lines: list[str], start: int, end: int) -> int:
    """Where to end a piece: before a top-level definition, else after a blank line, else at end.

    Only the last 40% of the piece is searched, so no piece shrinks much below the budget.
    """
    floor = start + max(1, (end - start) * 6 // 10)
    blank = None
    for i in range(end, floor - 1, -1):
        if i <= start or i >= len(lines):
            continue
        after_blank = not lines[i - 1].strip()
        if after_blank and TOP_LEVEL_RE.match(lines[i]):
            return i
        if after_blank and blank is None:
            blank = i
    return blank or end


def pack(
    sources: Iterable[SourceFile], chunk_tokens: int, per_file: bool = False
) -> Iterator[Chunk]:
    """Pack sources into chunks of at most chunk_tokens estimated tokens each.

    per_file starts every file in a chunk of its own (large files still split).
    """
    packer = Packer(chunk_tokens, per_file)
    for source in sources:
        yield from packer.add(source)
    yield from packer.finish()


def render_files(sources: Iterable[SourceFile]) -> str:
    """Render whole files with headers and line numbers, as a sub-agent sees them."""
    parts = []
    for s in sources:
        lines = s.text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        body = "".join(f"{i}\t{line}\n" for i, line in enumerate(lines, 1))
        parts.append(header(s.path, 1, len(lines), len(lines)) + body + "\n")
    return "".join(parts)


def split_text(text: str) -> tuple[str, str] | None:
    """Split rendered chunk text in two near its middle, keeping each half labelled.

    Prefers a file boundary; inside a file the second half gets a header naming where it
    resumes. Returns None when the text is too small to split further.
    """
    if len(text) < 400:
        return None
    lines = text.split("\n")
    if len(lines) < 3:
        mid = len(text) // 2
        return text[:mid], text[mid:]
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    half = len(text) // 2
    mid = min(range(1, len(lines)), key=lambda i: abs(offsets[i] - half))
    headers = [i for i, line in enumerate(lines) if HEADER_RE.match(line)]
    near = [i for i in headers if i > 0 and abs(offsets[i] - half) < len(text) // 4]
    if near:
        cut = min(near, key=lambda i: abs(offsets[i] - half))
        return "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:])
    owner = max((i for i in headers if i < mid), default=None)
    first, second = "\n".join(lines[:mid]) + "\n", "\n".join(lines[mid:])
    if owner is None:
        return first, second
    m = HEADER_RE.match(lines[owner])
    number = LINE_NO_RE.match(lines[mid])
    where = f"continued from line {number.group(1)}" if number else "continued"
    return first, f"==> {m['path']} [{where}] <==\n" + second if m else second
