"""Eval task generators: seeded inputs whose right answer is computed by code, and scorers."""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from rlm_cli.inputs.chunking import estimate_tokens

TASKS = ("niah", "multi-niah", "aggregate", "pairs", "codeqa")

ADJECTIVES = [
    "brisk",
    "amber",
    "quiet",
    "hollow",
    "gentle",
    "rapid",
    "silent",
    "golden",
    "crooked",
    "distant",
    "frozen",
    "narrow",
    "bright",
    "humble",
    "scarlet",
    "woven",
    "lucky",
    "ancient",
]
NOUNS = [
    "canyon",
    "harbor",
    "meadow",
    "lantern",
    "orchard",
    "glacier",
    "beacon",
    "quarry",
    "thicket",
    "summit",
    "marsh",
    "ridge",
    "spire",
    "delta",
    "grove",
    "vault",
]
FILLER = [
    "the",
    "committee",
    "reviewed",
    "the",
    "quarterly",
    "figures",
    "before",
    "the",
    "long",
    "weekend",
    "began",
    "and",
    "nobody",
    "expected",
    "the",
    "weather",
    "to",
    "change",
    "so",
    "quickly",
    "over",
    "the",
    "hills",
    "while",
    "a",
    "small",
    "boat",
    "drifted",
    "past",
    "the",
    "old",
    "mill",
    "where",
    "children",
    "once",
    "played",
    "among",
    "the",
    "reeds",
    "and",
    "the",
    "baker",
    "counted",
    "loaves",
    "for",
    "the",
    "morning",
    "market",
    "as",
    "the",
    "river",
    "rose",
    "slowly",
]
LABELS = ("billing", "shipping", "refund", "login", "feedback")
LABEL_WEIGHTS = (5, 9, 3, 6, 2)  # a unique most frequent label: shipping, unless chance disagrees
CITIES = [
    "Lyon",
    "Porto",
    "Graz",
    "Turku",
    "Leeds",
    "Bergen",
    "Ghent",
    "Split",
    "Cork",
    "Brno",
    "Malmo",
    "Basel",
    "Lucca",
    "Aarhus",
    "Riga",
]


@dataclass
class Case:
    """One generated input: its files, the question asked, and the right answer."""

    task: str
    question: str
    files: dict[str, str]
    truth: Any
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return sum(estimate_tokens(t) for t in self.files.values())


def _sentence(rng: random.Random) -> str:
    start = rng.randrange(len(FILLER) - 14)
    words = FILLER[start : start + rng.randint(8, 14)]
    return " ".join(words).capitalize() + "."


def _filler_lines(rng: random.Random, tokens: int) -> list[str]:
    """Lines of plain prose adding up to about `tokens` estimated tokens."""
    lines, used = [], 0
    while used < tokens:
        line = " ".join(_sentence(rng) for _ in range(rng.randint(1, 2)))
        lines.append(line)
        used += estimate_tokens(line + "\n")
    return lines


def _keys(rng: random.Random, n: int) -> list[str]:
    pairs = rng.sample([(a, b) for a in ADJECTIVES for b in NOUNS], n)
    return [f"the {a} {b}" for a, b in pairs]


def needle(key: str, digits: str) -> str:
    """The S-NIAH needle sentence, in the usual wording."""
    return f"The special magic number for {key} is: {digits}."


def _place(lines: list[str], items: list[str], depths: list[float]) -> list[int]:
    """Insert each item as its own line at its depth (0 = first line, 1 = last); 1-based lines."""
    at = []
    for item, depth in sorted(zip(items, depths, strict=True), key=lambda p: -p[1]):
        index = round(depth * len(lines))
        lines.insert(index, item)
    for item in items:
        at.append(lines.index(item) + 1)
    return at


def gen_niah(rng: random.Random, size: int, depth: float | None, repo: Path | None) -> Case:
    """One needle at a chosen depth in prose of the given size."""
    [key] = _keys(rng, 1)
    digits = str(rng.randrange(1_000_000, 10_000_000))
    depth = rng.random() if depth is None else depth
    lines = _filler_lines(rng, size - 20)
    [line] = _place(lines, [needle(key, digits)], [depth])
    question = (
        f"What is the special magic number for {key} mentioned in the input? "
        "Answer with the number."
    )
    info = {"depth": round(depth, 3), "line": line}
    return Case("niah", question, {"haystack.txt": "\n".join(lines) + "\n"}, digits, info)


def gen_multi_niah(rng: random.Random, size: int, depth: float | None, repo: Path | None) -> Case:
    """Four needles with different keys spread through the input; recall is scored."""
    keys = _keys(rng, 4)
    numbers = [str(rng.randrange(1_000_000, 10_000_000)) for _ in keys]
    depths = [rng.random() for _ in keys]
    lines = _filler_lines(rng, size - 80)
    at = _place(lines, [needle(k, d) for k, d in zip(keys, numbers, strict=True)], depths)
    question = (
        "What are the special magic numbers for "
        + "; ".join(keys)
        + " mentioned in the input? Give each key with its number."
    )
    info = {"depths": [round(d, 3) for d in depths], "lines": at}
    return Case("multi-niah", question, {"haystack.txt": "\n".join(lines) + "\n"}, numbers, info)


def _record_lines(rng: random.Random, tokens: int, make: Callable[[int], str]) -> list[str]:
    lines, used, n = [], 0, 0
    while used < tokens:
        n += 1
        line = make(n)
        lines.append(line)
        used += estimate_tokens(line + "\n")
    return lines


def gen_aggregate(rng: random.Random, size: int, depth: float | None, repo: Path | None) -> Case:
    """Labelled support tickets; how many carry one label, and which label is most frequent."""
    target = rng.choice(LABELS)

    def make(n: int) -> str:
        label = rng.choices(LABELS, LABEL_WEIGHTS)[0]
        return f"ticket {n:05d} | label: {label} | {_sentence(rng)}"

    lines = _record_lines(rng, size, make)
    counts = Counter(re.search(r"label: (\w+)", line)[1] for line in lines)
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:  # make the most frequent label unique
        lines.append(f"ticket {len(lines) + 1:05d} | label: {ranked[0][0]} | {_sentence(rng)}")
        counts[ranked[0][0]] += 1
    question = (
        f"How many tickets in the input have the label '{target}', and which label is the most "
        "frequent? Answer as: count: N; most frequent: LABEL"
    )
    truth = {"label": target, "count": counts[target], "most": counts.most_common(1)[0][0]}
    info = {"counts": dict(counts)}
    return Case("aggregate", question, {"tickets.txt": "\n".join(lines) + "\n"}, truth, info)


def gen_pairs(rng: random.Random, size: int, depth: float | None, repo: Path | None) -> Case:
    """Users with a city and a badge; the pairs of gold-badge users who share a city."""
    per_line = estimate_tokens("user U00000 | city: Aarhus | badge: silver | joined 2024-01-01\n")
    users = max(8, size // per_line)
    gold = set(rng.sample(range(1, users + 1), max(4, min(40, size // 1500))))

    def make(n: int) -> str:
        badge = "gold" if n in gold else rng.choice(("silver", "bronze", "none"))
        city = rng.choice(CITIES)
        return f"user U{n:05d} | city: {city} | badge: {badge} | joined 2024-{rng.randint(1, 12):02d}-01"

    lines = [make(n) for n in range(1, users + 1)]
    rows = [re.match(r"user (U\d+) \| city: (\w+) \| badge: gold", line) for line in lines]
    golds = [(m[1], m[2]) for m in rows if m]
    truth = sorted(
        "+".join(sorted((a, b))) for (a, ca), (b, cb) in combinations(golds, 2) if ca == cb
    )
    question = (
        "List every pair of users who both have the gold badge and live in the same city. "
        "Write each pair on its own line as: U00001 + U00002"
    )
    return Case(
        "pairs", question, {"users.txt": "\n".join(lines) + "\n"}, truth, {"gold": len(golds)}
    )


def _definitions(path: str, text: str) -> list[tuple[str, int]]:
    """Top-level and nested function and class definitions of a Python file: (name, line)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [(n.name, n.lineno) for n in ast.walk(tree) if isinstance(n, kinds)]


def gen_codeqa(rng: random.Random, size: int, depth: float | None, repo: Path | None) -> Case:
    """Files of a real Python repository; where is one of its functions or classes defined."""
    root = repo or Path(__file__).resolve().parent.parent
    base = root.parent
    paths = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    rng.shuffle(paths)
    files: dict[str, str] = {}
    used = 0
    for p in paths:
        if used >= size:
            break
        text = p.read_text(encoding="utf-8")
        files[p.relative_to(base).as_posix()] = text
        used += estimate_tokens(text)
    defs = [
        (name, path, line)
        for path, text in files.items()
        for name, line in _definitions(path, text)
    ]
    names = Counter(name for name, _, _ in defs)
    unique = [d for d in defs if names[d[0]] == 1 and not d[0].startswith("__")]
    if not unique:
        raise ValueError(f"no uniquely named definition in the Python files under {root}")
    depth = rng.random() if depth is None else depth
    order = sorted(files)  # the order a directory walk renders them in
    unique.sort(key=lambda d: (order.index(d[1]), d[2]))
    name, path, line = unique[min(len(unique) - 1, int(depth * len(unique)))]
    question = (
        f"In which file and on which line is `{name}` defined (its def or class line)? "
        "Answer as PATH:LINE."
    )
    info = {"depth": round(depth, 3), "files": len(files), "short_of_size": max(0, size - used)}
    return Case("codeqa", question, files, f"{path}:{line}", info)


GENERATORS = {
    "niah": gen_niah,
    "multi-niah": gen_multi_niah,
    "aggregate": gen_aggregate,
    "pairs": gen_pairs,
    "codeqa": gen_codeqa,
}


def make_case(
    task: str, size: int, trial: int, seed: int, depth: float | None, repo: Path | None
) -> Case:
    """The same (task, size, trial, seed) always gives the same case."""
    rng = random.Random(f"{seed}:{task}:{size}:{trial}")
    return GENERATORS[task](rng, size, depth, repo)
