"""The fake model's reader for `rlm-sub eval` questions: exact answers from the text it is given.

It recognises each eval task by its question (in the system prompt, where every rlm-sub call
puts the task) and answers from the user message alone, the way a perfect reader would:

  niah, multi-niah  each needle sentence it sees, cited "- PATH:LINE: "sentence"" on numbered
                    lines of a part, and passed on as written in a synthesis
  aggregate         "count: N; most frequent: L" and "label counts: a=1, b=2", counted from the
                    ticket lines of a part, or summed from the "label counts:" lines of answers
  pairs             every gold-badge user line it sees (cited), then each same-city pair
  codeqa            the def or class line of the asked name (cited), and "defined at PATH:LINE"

What it cannot see (a part of the input cut away from a direct call) it cannot answer, so the
scores of a run are known in advance. None means the question is not an eval question.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations

HEADER_RE = re.compile(r"^==> (?P<path>.+?) \[(?P<where>[^\]]*)\] <==$")
NUMBERED_RE = re.compile(r"^(\d+)\t(.*)$")

NIAH_Q = re.compile(r"special magic numbers? for (.+?) mentioned in the input")
AGGREGATE_Q = re.compile(r"How many tickets in the input have the label '(\w+)'")
PAIRS_Q = re.compile(r"pairs? of users who both have the gold badge")
CODEQA_Q = re.compile(r"which line is `(\w+)` defined")
GOLD_RE = re.compile(r"user (U\d+) \| city: (\w+) \| badge: gold")


def cited(user: str, pattern: re.Pattern[str]) -> list[tuple[str, re.Match[str]]]:
    """Lines matching pattern: '- PATH:LINE: "match"' on a part's numbered lines, else the line."""
    out, path = [], None
    for line in user.splitlines():
        header = HEADER_RE.match(line)
        if header:
            path = header["path"]
            continue
        found = pattern.search(line)
        if not found:
            continue
        numbered = NUMBERED_RE.match(line)
        if numbered and path:
            out.append((f'- {path}:{numbered[1]}: "{found[0]}"', found))
        else:
            out.append((line.strip(), found))
    return out


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def niah(keys: list[str], user: str) -> str:
    lines = []
    for key in keys:
        pattern = re.compile(rf"The special magic number for {re.escape(key)} is:? \d+\.?")
        lines += [text for text, _ in cited(user, pattern)]
    return "\n".join(_unique(lines)) or "NOTHING RELEVANT"


def aggregate(label: str, user: str) -> str:
    partials = re.findall(r"label counts: (.*)", user)
    counts: Counter[str] = Counter()
    if partials:
        for line in partials:
            for name, n in re.findall(r"(\w+)=(\d+)", line):
                counts[name] += int(n)
    else:
        for line in user.splitlines():
            found = re.match(r"^\d+\tticket \d+ \| label: (\w+) \|", line)
            if found:
                counts[found[1]] += 1
    if not counts:
        return "NOTHING RELEVANT"
    most = min(counts, key=lambda name: (-counts[name], name))
    every = ", ".join(f"{name}={n}" for name, n in sorted(counts.items()))
    return f"count: {counts[label]}; most frequent: {most}\nlabel counts: {every}"


def pairs(user: str) -> str:
    found = cited(user, GOLD_RE)
    if not found:
        return "NOTHING RELEVANT"
    users = {m[1]: m[2] for _, m in found}
    lines = _unique([text for text, _ in found])
    same = [f"{a} + {b}" for a, b in combinations(sorted(users), 2) if users[a] == users[b]]
    return "\n".join(lines + same)


def codeqa(name: str, user: str) -> str:
    pattern = re.compile(rf"^\d+\t\s*(?:async\s+def|def|class)\s+{name}\b.*$")
    lines, path = [], None
    for line in user.splitlines():
        header = HEADER_RE.match(line)
        if header:
            path = header["path"]
        elif path and pattern.match(line):
            number, text = NUMBERED_RE.match(line).groups()
            lines += [
                f'- {path}:{number}: "{text.strip()}"',
                f"`{name}` is defined at {path}:{number}",
            ]
    if not lines:
        lines = [line.strip() for line in user.splitlines() if f"`{name}` is defined at" in line]
    return "\n".join(_unique(lines)) or "NOTHING RELEVANT"


def eval_answer(system: str, user: str) -> str | None:
    """The answer to an eval question, or None when the system prompt asks none."""
    if found := NIAH_Q.search(system):
        return niah(found[1].split("; "), user)
    if found := AGGREGATE_Q.search(system):
        return aggregate(found[1], user)
    if PAIRS_Q.search(system):
        return pairs(user)
    if found := CODEQA_Q.search(system):
        return codeqa(found[1], user)
    return None
