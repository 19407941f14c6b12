"""Eval scorers: how close an answer is to the truth code computed for its case (0 to 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rlm_cli.steps.eval_tasks import LABELS, Case


def _score_niah(truth: str, answer: str) -> float:
    return 1.0 if re.search(rf"(?<!\d){truth}(?!\d)", answer) else 0.0


def _score_multi(truth: list[str], answer: str) -> float:
    return sum(_score_niah(t, answer) for t in truth) / len(truth)


def _score_aggregate(truth: dict[str, Any], answer: str) -> float:
    count = re.search(r"count\D{0,20}?(\d+)", answer, re.IGNORECASE)
    count_score = 0.75 ** abs(int(count[1]) - truth["count"]) if count else 0.0
    most = re.search(r"most (?:frequent|common)", answer, re.IGNORECASE)
    named = None
    if most:
        after = answer[most.end() :].lower()
        places = [(after.find(label), label) for label in LABELS if label in after]
        named = min(places)[1] if places else None
    return 0.5 * count_score + 0.5 * (named == truth["most"])


def _score_pairs(truth: list[str], answer: str) -> float:
    found = {
        "+".join(sorted(m)) for m in re.findall(r"(U\d{5})\s*(?:\+|and|,|&)\s*(U\d{5})", answer)
    }
    want = set(truth)
    if not want and not found:
        return 1.0
    hits = len(found & want)
    if not hits:
        return 0.0
    precision, recall = hits / len(found), hits / len(want)
    return 2 * precision * recall / (precision + recall)


def _score_codeqa(truth: str, answer: str) -> float:
    path, line = truth.rsplit(":", 1)
    if re.search(rf"{re.escape(path)}:{line}(?!\d)", answer):
        return 1.0
    return 0.5 if path in answer else 0.0


SCORERS: dict[str, Callable[[Any, str], float]] = {
    "niah": _score_niah,
    "multi-niah": _score_multi,
    "aggregate": _score_aggregate,
    "pairs": _score_pairs,
    "codeqa": _score_codeqa,
}


def score(case: Case, answer: str) -> float:
    """The answer's score from 0 to 1 against the case's computed truth."""
    return round(float(SCORERS[case.task](case.truth, answer)), 4)
