"""The text of one part as code searches it: lines by path and number, normalised once.

Quotes are compared word for word, ignoring case, punctuation and spacing (see norm). Used
by steps/evidence.py to check what a sub-agent quoted, and to find input lines it repeated.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from rlm_cli.inputs.chunking import HEADER_RE, LINE_NO_RE

MIN_CONTAINED = 24  # characters (normalised) an input line needs to be found inside an answer
MIN_LOOSE_WORDS = 5  # words an input line needs before a loose repetition of it counts
SLIP = 4  # words an answer may slip into a repeated input line (more for long lines)
RARE_WORD = 8  # letters that make a word rare enough to look for
RARE_HITS = 50  # lines looked at per rare word
VALUE_DIGITS = 5  # digits in a number an answer states before its one input line is evidence
PUNCT_RE = re.compile(r"[^\w]+")
LINE_PUNCT_RE = re.compile(r"[^\w\n]+")  # PUNCT_RE that keeps line breaks


def norm(text: str) -> str:
    """Words and numbers only, lower case: quotes are compared ignoring case and punctuation."""
    return " ".join(PUNCT_RE.sub(" ", text.lower()).split())


@dataclass
class _Lines:
    """One path's lines in a part, normalised once and joined, so lookups run as str.find."""

    numbers: list[int]  # line numbers of the lines that hold words, in order
    norms: list[str]  # each line normalised (see _norm)
    joined: str  # the normalised lines joined by single spaces
    offsets: list[int]  # where each line starts in joined

    @classmethod
    def of(cls, lines: dict[int, str]) -> _Lines:
        order = sorted(lines)
        # one regex pass over all lines (kept apart by newlines) instead of one per line
        flat = LINE_PUNCT_RE.sub(" ", "\n".join(lines[n] for n in order).lower()).split("\n")
        numbers, norms, offsets, at = [], [], [], 0
        for n, line in zip(order, flat, strict=True):
            words = line.strip()
            if words:
                numbers.append(n)
                norms.append(words)
                offsets.append(at)
                at += len(words) + 1
        return cls(numbers, norms, " ".join(norms), offsets)

    def end(self, i: int) -> int:
        """Where line i (an index) ends in joined."""
        return self.offsets[i] + len(self.norms[i])


@dataclass
class Part:
    """The lines of one part, by path and line number, as its sub-agent saw them."""

    lines: dict[str, dict[int, str]] = field(default_factory=dict)
    lowered: str = ""  # the part's text in lower case: a quote's words are all in it, or no quote
    _normed: dict[str, _Lines] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, text: str) -> Part:
        part, path = cls(), None
        for raw in text.split("\n"):
            header = HEADER_RE.match(raw)
            if header:
                path = header["path"]
                part.lines.setdefault(path, {})
                continue
            number = LINE_NO_RE.match(raw)
            if number and path is not None:
                part.lines[path][int(number.group(1))] = raw[number.end() :]
        part.lowered = text.lower()
        return part

    def may_hold(self, pieces: list[str]) -> bool:
        """False when some word of the quote is nowhere in the part (no need to normalise it)."""
        return all(word in self.lowered for piece in pieces for word in piece.split())

    def normed(self, path: str) -> _Lines:
        """The path's lines normalised (computed once per part)."""
        if path not in self._normed:
            self._normed[path] = _Lines.of(self.lines.get(path, {}))
        return self._normed[path]

    def path_for(self, cited: str) -> str | None:
        """The part's path a citation means (exact, or one naming the other by its tail)."""
        cited = cited.removeprefix("./")
        if cited in self.lines:
            return cited
        tails = [p for p in self.lines if p.endswith("/" + cited) or cited.endswith("/" + p)]
        return tails[0] if len(tails) == 1 else None

    def find(self, path: str, quote: list[str], start: int, end: int) -> int | None:
        """The line in start..end where the quote (pieces in order, within four lines) begins.

        The quote's first words must start in that line. One str.find over the joined
        normalised lines per candidate, so a whole-part lookup costs one pass, not one
        normalisation per line.
        """
        t = self.normed(path)
        first, last = bisect_left(t.numbers, start), bisect_right(t.numbers, end)
        if first >= last:
            return None
        head = quote[0][:12]
        pos = t.joined.find(head, t.offsets[first], t.end(last - 1))
        while pos >= 0:
            i = bisect_right(t.offsets, pos) - 1
            # the quote starts here (its first words whole), the rest follows within 4 lines
            if pos + len(head) <= t.end(i) and t.joined.startswith(quote[0], pos):
                window = t.joined[pos : t.end(min(i + 3, len(t.norms) - 1))]
                if pieces_in(quote, window):
                    return t.numbers[i]
            pos = t.joined.find(head, pos + 1, t.end(last - 1))
        return None

    def contained(self, answer_lines: list[str]) -> list[tuple[str, int]]:
        """Input lines (MIN_CONTAINED characters or more, normalised) that an answer line
        repeats: whole, or with a few words slipped in (SmolLM2's "the magic number for X
        mentioned in the input is N" for the line "The magic number for X is: N."); and the
        one line holding a long number an answer states."""
        answers = [norm(a) for a in answer_lines]
        blob = "\n".join(f" {a} " for a in answers)
        found = []
        for path in self.lines:
            t = self.normed(path)
            for n, line in zip(t.numbers, t.norms, strict=True):
                if len(line) >= MIN_CONTAINED and f" {line} " in blob:
                    found.append((path, n))
            seen = {n for p, n in found if p == path}
            for i in self._sharing(t, answers):
                if t.numbers[i] not in seen and len(t.norms[i]) >= MIN_CONTAINED:
                    words = t.norms[i].split()
                    if any(_loosely_in(words, a.split()) for a in answers):
                        found.append((path, t.numbers[i]))
                        seen.add(t.numbers[i])
        return found + [hit for hit in self._by_value(answers) if hit not in found]

    def _by_value(self, answers: list[str]) -> list[tuple[str, int]]:
        """The one line of the part holding a long number an answer states (VALUE_DIGITS
        digits or more, as a whole word, on no other line): "The answer is 4726268." """
        values = {
            w for a in answers for w in a.split() if sum(c.isdigit() for c in w) >= VALUE_DIGITS
        }
        found = []
        for value in values:
            lines = set()
            for path in self.lines:
                t = self.normed(path)
                pos = t.joined.find(value)
                while pos >= 0 and len(lines) < 2:
                    end = pos + len(value)
                    if (pos == 0 or t.joined[pos - 1] == " ") and (
                        end == len(t.joined) or t.joined[end] == " "
                    ):
                        lines.add((path, t.numbers[bisect_right(t.offsets, pos) - 1]))
                    pos = t.joined.find(value, end)
            if len(lines) == 1:
                found += lines
        return sorted(found)

    @staticmethod
    def _sharing(t: _Lines, answers: list[str]) -> list[int]:
        """Lines holding a rare word of an answer (one with a digit, or of RARE_WORD letters):
        the only ones worth a word-by-word comparison, found by str.find."""
        rare = {
            w
            for a in answers
            for w in a.split()
            if len(w) >= RARE_WORD or (len(w) >= 3 and any(c.isdigit() for c in w))
        }
        lines: set[int] = set()
        for word in rare:
            pos, hits = t.joined.find(word), 0
            while pos >= 0 and hits < RARE_HITS:
                lines.add(bisect_right(t.offsets, pos) - 1)
                pos, hits = t.joined.find(word, pos + len(word)), hits + 1
        return sorted(lines)


def _loosely_in(words: list[str], answer: list[str]) -> bool:
    """Whether the words (MIN_LOOSE_WORDS or more) occur in order in the answer with at most
    SLIP other words slipped in between them, or half as many as there are words if more."""
    if len(words) < MIN_LOOSE_WORDS:
        return False
    slip = max(SLIP, len(words) // 2)
    for start, word in enumerate(answer):
        if word != words[0]:
            continue
        at, end = 1, start
        for j in range(start + 1, min(len(answer), start + len(words) + slip)):
            if at < len(words) and answer[j] == words[at]:
                at, end = at + 1, j
        if at == len(words) and end - start + 1 - len(words) <= slip:
            return True
    return False


def pieces_in(pieces: list[str], text: str) -> bool:
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True
