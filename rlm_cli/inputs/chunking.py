"""Packing sources into token-budgeted chunks, each labelled with path and line ranges."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from rlm_cli.inputs.sources import SourceFile

# Newer Claude tokenizers (Claude 4.7 and later, Haiku 5.5) average about 3 bytes per token on
# code and prose (about 30% more tokens than older ones); an overflow is split and retried.
BYTES_PER_TOKEN = 3.0
DEFAULT_CHUNK_TOKENS = 20_000
MIN_CHUNK_TOKENS = 200
BREAK_WINDOW = 1000

HEADER_RE = re.compile(r"^==> (?P<path>.+) \[(?P<where>[^\]]*)\] <==$")
LINE_NO_RE = re.compile(r"^(\d+)\t")
# A line that starts a top-level definition: at column 0 and not closing a bracket.
TOP_LEVEL_RE = re.compile(r"^[A-Za-z_@#$<]")
TOP_LEVEL_BYTES_RE = re.compile(rb"^[A-Za-z_@#$<]")
ASCII_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # the ASCII characters str.strip() removes
PREFIX_CACHE = 100_000  # "\nN\t" line-number prefixes kept for reuse


def estimate_tokens(text: str) -> int:
    """A conservative token estimate from the UTF-8 size."""
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return math.ceil(size / BYTES_PER_TOKEN)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


@dataclass
class Chunk:
    """One unit of work for a sub-agent: rendered UTF-8 text plus where each part came from."""

    id: str
    data: bytes
    sources: list[dict[str, object]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    @property
    def tokens(self) -> int:
        return math.ceil(len(self.data) / BYTES_PER_TOKEN)


def header(path: str, start: int, end: int, total: int) -> str:
    return f"==> {path} [lines {start}-{end} of {total}] <==\n"


def _part_header(path: str, line: int, part: int, parts: int) -> str:
    return f"==> {path} [line {line}, part {part} of {parts}] <==\n"


class Packer:
    """Greedy packer: small files share a chunk, large files are split at good boundaries."""

    def __init__(self, chunk_tokens: int, per_file: bool = False) -> None:
        self.budget = int(chunk_tokens * BYTES_PER_TOKEN)
        self.per_file = per_file
        self._parts: list[bytes] = []
        self._sources: list[dict[str, object]] = []
        self._used = 0
        self._count = 0

    def add(self, source: SourceFile) -> Iterator[Chunk]:
        """Add one file; yield every chunk that became full."""
        if self.per_file and self._parts:
            yield self._flush()
        if source.streamed:
            yield from self._add_stream(source)
            return
        data = source.utf8
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # a trailing newline ends the last line; it does not start a new one
        total = len(lines)
        # Sizes from the text's own size: no per-line work unless the file must be split.
        body = len(data) + (not data.endswith(b"\n")) + total + _digits(total)
        whole = _size(header(source.path, 1, total, total)) + body + 1
        if whole <= self.budget - self._used:
            self._append(source.path, 1, total, total, _numbered(lines, 1), whole)
            return
        if self._parts:
            yield self._flush()
        if whole <= self.budget:
            self._append(source.path, 1, total, total, _numbered(lines, 1), whole)
            return
        # Rendered size of lines [a, b) from running sums of their lengths: no per-line loop.
        cum = list(accumulate(map(len, lines), initial=0))

        def size(a: int, b: int) -> int:
            return cum[b] - cum[a] + 2 * (b - a) + _digits(b) - _digits(a)

        start = 0
        head = _size(header(source.path, total, total, total)) + 1  # the widest header
        room = self.budget - head
        while start < total:
            if size(start, start + 1) > room:
                yield from self._long_line(source.path, start + 1, lines[start].decode("utf-8"))
                start += 1
                continue
            fits = bisect_right(
                range(total + 1), room, start + 1, key=lambda b, a=start: size(a, b)
            )
            end = fits - 1
            if end < total:
                end = _best_break(lines, start, end)
            used = head + size(start, end)
            body = _numbered(lines[start:end], start + 1)
            self._append(source.path, start + 1, end, total, body, used)
            if end < total:
                yield self._flush()
            start = end

    def _add_stream(self, source: SourceFile) -> Iterator[Chunk]:
        """Split a large file read in batches of lines, holding at most one chunk's lines.

        Chunks come out exactly as they would for the same text held in memory, except that
        the parts of a line longer than a chunk say "continues" instead of their count.
        """
        if self._parts:
            yield self._flush()
        path, total, budget = source.path, source.lines_total, self.budget
        head = _size(header(path, total, total, total)) + 1  # the widest header of this file
        room = self._room(path)
        piece: list[str] = []
        start, used, number, part = 1, head, 0, 0  # part: pieces of a long line written so far
        for lines, open_end in source.batches(room):
            if part or open_end:  # a piece of a line longer than room
                text = lines[0]
                if not part:
                    yield from self._close(path, start, piece, text, total)
                    piece = []
                bits = _fit(text, room)
                for n, bit in enumerate(bits, 1):
                    part += 1
                    yield self._part(path, number + 1, part, bit, not open_end and n == len(bits))
                if open_end:
                    continue
                number, part, start, used = number + 1, 0, number + 2, head
                lines = lines[1:]
            sizes = _rendered_sizes(lines, number + 1)
            cum = list(accumulate(sizes))
            k, done = 0, 0  # lines taken from this batch, and their rendered size
            while k < len(lines):
                m = bisect_right(cum, budget - used + done, lo=k)
                if m > k:
                    piece += lines[k:m]
                    used += cum[m - 1] - done
                    number, done, k = number + m - k, cum[m - 1], m
                    if k == len(lines):
                        break
                text, size = lines[k], sizes[k]
                number, done, k = number + 1, cum[k], k + 1
                if head + size > budget:
                    yield from self._close(path, start, piece, text, total)
                    yield from self._long_line(path, number, text)
                    piece, start, used = [], number + 1, head
                    continue
                while piece and used + size > budget:  # a piece ends; its tail carries on
                    cut = _best_break([*piece, text], 0, len(piece))
                    yield self._piece(path, start, piece[:cut], total)
                    piece, start = piece[cut:], start + cut
                    used = head + sum(_rendered_sizes(piece, start))
                piece.append(text)
                used += size
        if piece:
            self._append(path, start, start + len(piece) - 1, total, _render(piece, start), used)

    def _close(
        self, path: str, start: int, piece: list[str], after: str, total: int
    ) -> Iterator[Chunk]:
        """Write out the lines before an over-long one, cut where an in-memory split would."""
        while piece:
            cut = _best_break([*piece, after], 0, len(piece))
            yield self._piece(path, start, piece[:cut], total)
            piece, start = piece[cut:], start + cut

    def _piece(self, path: str, start: int, piece: list[str], total: int) -> Chunk:
        """One full chunk of consecutive lines of a streamed file."""
        self._append(path, start, start + len(piece) - 1, total, _render(piece, start), 0)
        return self._flush()

    def _room(self, path: str) -> int:
        """Characters of one line that fit in a chunk of its own, beside its part header."""
        widest = _part_header(path, 10**12, 10**7, 10**7) + f"{10**12}\t\n\n"
        return self.budget - _size(widest) - len(", continues")

    def finish(self) -> Iterator[Chunk]:
        """Yield the last, partly filled chunk."""
        if self._parts:
            yield self._flush()

    def _append(self, path: str, start: int, end: int, total: int, body: bytes, size: int) -> None:
        self._parts += (header(path, start, end, total).encode(), body, b"\n")
        self._sources.append({"path": path, "start": start, "end": end})
        self._used += size

    def _long_line(self, path: str, number: int, line: str) -> Iterator[Chunk]:
        """Split one over-long line held in memory into parts, each in a chunk of its own."""
        if self._parts:
            yield self._flush()
        room = self._room(path)
        parts = [
            bit for at in range(0, len(line), room) for bit in _fit(line[at : at + room], room)
        ]
        for p, piece in enumerate(parts, 1):
            text = _part_header(path, number, p, len(parts)) + f"{number}\t{piece}\n\n"
            self._parts.append(text.encode())
            self._sources.append(
                {"path": path, "start": number, "end": number, "part": f"{p}/{len(parts)}"}
            )
            yield self._flush()

    def _part(self, path: str, number: int, part: int, piece: str, last: bool) -> Chunk:
        """One piece of an over-long line of a streamed file, in a chunk of its own.

        The line is read as it streams, so a part that is not the last says it continues.
        """
        where = f"part {part} of {part}" if last else f"part {part}, continues"
        self._parts.append(
            f"==> {path} [line {number}, {where}] <==\n{number}\t{piece}\n\n".encode()
        )
        self._sources.append(
            {
                "path": path,
                "start": number,
                "end": number,
                "part": f"{part}/{part if last else '?'}",
            }
        )
        return self._flush()

    def _flush(self) -> Chunk:
        self._count += 1
        chunk = Chunk(f"c{self._count:04d}", b"".join(self._parts), self._sources)
        self._parts, self._sources, self._used = [], [], 0
        return chunk


def _render(lines: list[str], start: int) -> bytes:
    """Lines of a streamed file with their numbers, as UTF-8 ("N\\tTEXT\\n" each)."""
    return _numbered([line.encode("utf-8") for line in lines], start)


_prefixes: list[bytes] = [b"\n0\t"]


def _numbered(lines: list[bytes], start: int) -> bytes:
    """Lines numbered from start ("N\\tTEXT\\n" each), joined by C loops, not a Python one."""
    n = len(lines)
    if not n:
        return b""
    end = start + n
    if end > len(_prefixes) and end <= PREFIX_CACHE:
        _prefixes.extend(b"\n%d\t" % k for k in range(len(_prefixes), end))
    parts: list[bytes] = [b""] * (2 * n)
    if end <= len(_prefixes):
        parts[0::2] = _prefixes[start:end]
    else:
        parts[0::2] = [b"\n%d\t" % k for k in range(start, end)]
    parts[1::2] = lines
    parts[0] = b"%d\t" % start
    parts.append(b"\n")
    return b"".join(parts)


def _digits(n: int) -> int:
    """How many digits the numbers 1 to n have in all."""
    width = len(str(n))
    return (n + 1) * width - (10**width - 1) // 9


def _rendered_sizes(lines: list[str], start: int) -> list[int]:
    """UTF-8 sizes of lines as rendered with their numbers ("N\\tTEXT\\n")."""
    texts = map(len, lines) if all(map(str.isascii, lines)) else map(_size, lines)
    end = start + len(lines) - 1
    if len(str(start)) == len(str(end)):
        width = len(str(start)) + 2
        return [t + width for t in texts]
    return [len(str(n)) + t + 2 for n, t in zip(range(start, end + 1), texts, strict=True)]


def _fit(text: str, room: int) -> list[str]:
    """text cut into pieces of at most room UTF-8 bytes."""
    if text.isascii() or len(text.encode("utf-8", "surrogatepass")) <= room:
        return [text]
    step = max(1, room // 4)
    return [text[i : i + step] for i in range(0, len(text), step)]


def _after_blanks(lines: list[str] | list[bytes], lo: int, hi: int) -> list[int]:
    """Indices i from hi down to lo whose line i - 1 is blank (only whitespace, as str.strip())."""
    window = lines[lo - 1 : hi]
    if window and isinstance(window[0], str):
        flags = [not line.strip() for line in window]  # type: ignore[union-attr]
    else:
        rests = [line.strip(ASCII_SPACE) for line in window]  # type: ignore[arg-type]
        if b"".join(rests).isascii():
            flags = [not rest for rest in rests]
        else:  # a line of, say, NO-BREAK SPACEs is blank too
            flags = [
                not rest or (not rest.isascii() and not rest.decode("utf-8").strip())
                for rest in rests
            ]
    return [lo + k for k in range(len(flags) - 1, -1, -1) if flags[k]]


def _best_break(lines: list[str] | list[bytes], start: int, end: int) -> int:
    """Where to end a piece: before a top-level definition, else after a blank line, else at end.

    Only the last 40% of the piece (at most BREAK_WINDOW lines) is searched, so no piece
    shrinks much below the budget and a piece of many short lines is searched quickly.
    """
    floor = max(start + max(1, (end - start) * 6 // 10), end - BREAK_WINDOW)
    top = TOP_LEVEL_RE.match if isinstance(lines[start], str) else TOP_LEVEL_BYTES_RE.match
    blanks = _after_blanks(lines, max(floor, start + 1), min(end, len(lines) - 1))
    for i in blanks:
        if top(lines[i]):  # type: ignore[arg-type]
            return i
    return blanks[0] if blanks else end


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
