"""Inputs and results for the end-to-end tests: a seeded tree of text files, a planted line."""

from __future__ import annotations

import json
import random
from pathlib import Path


def corpus(root: Path, files: int, lines: int, seed: int = 7) -> Path:
    """A tree of plain text files, each line a few words; returns root."""
    rng = random.Random(seed)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "omega",
        "kappa",
        "sigma",
        "theta",
        "lambda",
        "zeta",
    ]
    for f in range(files):
        path = root / f"pkg{f % 5}" / f"mod{f:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(lines)]
        path.write_text("\n".join(body) + "\n")
    return root


def results(ws: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (ws / "results").glob("*.json")}


def plant(path: Path, line: int, text: str) -> None:
    """Replace one line (1-based) of a file."""
    lines = path.read_text().split("\n")
    lines[line - 1] = text
    path.write_text("\n".join(lines))
