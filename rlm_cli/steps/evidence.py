"""Grounded answers: code checks every quoted finding against the part it came from.

Quotes are compared word for word, ignoring case, punctuation and spacing: a small model that
drops a colon still quotes, one that changes a digit or a name does not.

A sub-agent cites a finding as one line, `PATH:LINE: "exact words" - what it shows`. Each
such line is looked up in the text of the part the sub-agent saw: the quote must occur at the
cited line of that path (give or take NEAR lines). A quote found elsewhere in the part is kept
with its line corrected; a quote found nowhere is dropped from the answer and recorded as
rejected. A long quote without a citation is looked up in the whole part and kept as
evidence at the line where it is; so is an input line that an answer line repeats without
quoting or citing it, whole or with a few words slipped in (steps/part_text.py). Checked
findings travel beside the answers through every synthesis level, so the final answer can
list them however the synthesis worded it. An answer with no finding line is kept as
unverified text, and marked; one that says nothing (NOTHING RELEVANT in any wording, or
only the task restated) is not sent to the synthesis at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rlm_cli.steps.part_text import Part, norm

NEAR = 2  # lines either side of the cited line where the quote may start
MIN_QUOTE = 4  # characters a quote needs (after trimming) to be worth checking
MIN_LOCATED = 24  # characters an uncited quote needs before code looks for it in the part
FOOTER_LIMIT = 100  # findings listed under the final answer; all of them go to the JSON file

FINDING_RE = re.compile(
    r"^\s*(?:[-*\u2022]|\d+[.)])?\s*[`*]*(?P<path>[^\s`\"'*]+?):(?P<line>\d+)(?:-(?P<end>\d+))?"
    r"[`*]*\s*(?:[:\u2014\u2013-]\s*)?(?P<rest>.*)$"
)
QUOTE_RE = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|`([^`]+)`")
ELLIPSIS_RE = re.compile(r"\.\.\.|\u2026")
NOTHING_RE = re.compile(
    r"nothing relevant|no relevant|not relevant|does not (?:contain|mention|include)|"
    r"doesn't (?:contain|mention)|no mention|not mentioned|not found|no information",
    re.IGNORECASE,
)
WORD_RE = re.compile(r"[a-z0-9]+")
CITATION_RE = re.compile(r"[\w./-]+:\d+")
# Words too common to tell which findings bear on a question.
COMMON_WORDS = frozenset(
    WORD_RE.findall(
        "the and for are was were what which who whom whose when where why how that this these "
        "those with from into onto than then there their they them its has have had does did "
        "not any all can could should would will shall may might must about each every some "
        "such find list give show tell name input part parts file files line lines text"
    )
)


def _quote_of(rest: str) -> tuple[str | None, str]:
    """The quoted words of a finding line and the claim around them."""
    found = QUOTE_RE.search(rest)
    if found:
        quote = next(g for g in found.groups() if g is not None)
        claim = (rest[: found.start()] + " " + rest[found.end() :]).strip(" -\u2014\u2013:;,.")
        return quote, claim
    return None, rest


def _pieces(quote: str) -> list[str]:
    return [p for p in (norm(s) for s in ELLIPSIS_RE.split(quote)) if p]


def says_nothing(text: str, task: str = "") -> bool:
    """Whether an answer carries nothing: empty, NOTHING RELEVANT in any wording, or the task restated."""
    stripped = text.strip()
    if not stripped:
        return True
    words = WORD_RE.findall(stripped.lower())
    if len(words) <= 25 and NOTHING_RE.search(stripped) and not CITATION_RE.search(stripped):
        return True  # short, says there is nothing, and cites nothing
    task_words = set(WORD_RE.findall(task.lower()))
    return bool(task_words) and all(w in task_words for w in words)


@dataclass
class Checked:
    """One answer after its findings were looked up in its part."""

    status: str  # "checked" (has verified findings), "unverified" (free text), "empty"
    text: str  # the answer without rejected finding lines
    findings: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "findings": self.findings,
            "rejected": self.rejected,
        }


def _locate(part: Part, line: str, source: str) -> dict[str, Any] | None:
    """A finding for an uncited line that quotes the part: its quoted words, or the whole line.

    Small models often repeat the sentence they found without PATH:LINE; code finds where
    it is. Only long quotes count (MIN_LOCATED characters), so common phrases do not.
    """
    quote, claim = _quote_of(line.strip(" -*\u2022"))
    words = quote if quote is not None else line.strip(" -*\u2022")
    pieces = _pieces(words)
    if sum(len(p) for p in pieces) < MIN_LOCATED or not part.may_hold(pieces):
        return None
    for path, lines in part.lines.items():
        at = part.find(path, pieces, 1, max(lines, default=0))
        if at is not None:
            return {
                "path": path,
                "line": at,
                "quote": words.strip(),
                "text": lines[at].strip()[:300],
                "claim": claim if quote is not None else "",
                "source": source,
                "located": True,  # the answer gave no PATH:LINE; code found where it is
            }
    return None


def _contained(
    part: Part, plain: list[str], known: set[tuple[str, int]], source: str
) -> list[dict[str, Any]]:
    """Findings for whole input lines that uncited answer lines repeat (see Part.contained)."""
    out = []
    for path, n in part.contained(plain) if plain else []:
        if (path, n) in known:
            continue
        text = part.lines[path][n].strip()
        out.append(
            {
                "path": path,
                "line": n,
                "quote": text[:300],
                "text": text[:300],
                "claim": "",
                "source": source,
                "located": True,
            }
        )
    return out


def check_answer(
    answer: str, part_text: str, source: str, task: str = "", drop: bool = True
) -> Checked:
    """Check each finding line of an answer against the text of the part it answered.

    drop=False keeps lines whose quote is not in the part (an agentic sub-agent may have read
    beyond it): they stay as text, neither evidence nor rejected.
    """
    part = Part.parse(part_text)
    kept, findings, rejected = [], [], []
    plain = []  # kept lines that yielded no finding: searched for whole input lines below
    for line in answer.splitlines():
        found = FINDING_RE.match(line)
        path = part.path_for(found["path"]) if found else None
        if not found or path is None:
            if drop and found and ("/" in found["path"] or "." in found["path"]):
                rejected.append({"line": line.strip(), "why": "no such file in this part"})
                continue
            located = None if found else _locate(part, line, source)
            if located:
                findings.append(located)
            else:
                plain.append(line)
            kept.append(line)
            continue
        first = int(found["line"])
        last = int(found["end"] or first)
        quote, claim = _quote_of(found["rest"])
        exact = quote is None  # no quotation marks: the rest of the line must be the quote
        pieces = _pieces(quote if quote is not None else found["rest"])
        if sum(len(p) for p in pieces) < MIN_QUOTE:
            kept.append(line)  # a citation without words to check stays as text
            plain.append(line)
            continue
        at = part.find(path, pieces, max(1, first - NEAR), last + NEAR)
        corrected = None
        if at is None:
            at = part.find(path, pieces, 1, max(part.lines[path], default=0))
            corrected = at
        if at is None:
            if exact or not drop:
                kept.append(line)  # a description after a citation, or read beyond the part
                plain.append(line)
            else:
                rejected.append({"line": line.strip(), "why": f"quote not found in {path}"})
            continue
        entry: dict[str, Any] = {
            "path": path,
            "line": at,
            "quote": (quote if quote is not None else found["rest"]).strip(),
            "text": part.lines[path][at].strip()[:300],  # the input's own words at that line
            "claim": "" if exact else claim,
            "source": source,
        }
        if corrected is not None:
            entry["claimed_line"] = first
        findings.append(entry)
        kept.append(line if corrected is None else line.replace(f":{found['line']}", f":{at}", 1))
    findings += _contained(part, plain, {(f["path"], f["line"]) for f in findings}, source)
    text = "\n".join(kept).strip()
    if findings:
        status = "checked"
    elif says_nothing(text, task):
        status = "empty"
    else:
        status = "unverified"
    return Checked(status, text, findings, rejected)


def merge(lists: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every finding of the lists, once each, in order."""
    seen, out = set(), []
    for findings in lists:
        for f in findings:
            key = (f["path"], f["line"], f["quote"])
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def cite(finding: dict[str, Any]) -> str:
    """A finding as one line: PATH:LINE: "quote" - claim."""
    claim = f" - {finding['claim']}" if finding.get("claim") else ""
    return f'{finding["path"]}:{finding["line"]}: "{finding["quote"]}"{claim}'


def _words(text: str) -> set[str]:
    return {w for w in WORD_RE.findall(text.lower()) if len(w) > 2 and w not in COMMON_WORDS}


def ranked(findings: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """Findings sharing the most words with the task first, else in input order.

    Located evidence is any input line an answer repeated, so a small model's answers bring
    filler too; the line that bears on the question should lead, and survive FOOTER_LIMIT.
    """
    asked = _words(task)
    if not asked:
        return findings
    shared = [len(asked & _words(f"{f['quote']} {f.get('claim', '')}")) for f in findings]
    order = sorted(range(len(findings)), key=lambda i: -shared[i])  # stable: ties keep order
    return [findings[i] for i in order]


def footer(
    findings: list[dict[str, Any]], unverified: list[str], rejected: int, task: str = ""
) -> str:
    """What code checked behind the answer, written under it (never by the model).

    With a task, the findings that share the most words with it are listed first.
    """
    lines = ["", "---"]
    if findings:
        order = " (those sharing the most words with the task first)" if _words(task) else ""
        lines.append(
            f"Evidence checked by rlm-sub: {len(findings)} quote(s), each found at its PATH:LINE "
            f"in the input{order}:"
        )
        findings = ranked(findings, task)
        lines += [
            f"- {cite(f)}" + (" (from an answer cut at --max-output)" if f.get("cut") else "")
            for f in findings[:FOOTER_LIMIT]
        ]
        if len(findings) > FOOTER_LIMIT:
            lines.append(f"- ... and {len(findings) - FOOTER_LIMIT} more in final.evidence.json")
    else:
        lines.append(
            "Evidence checked by rlm-sub: none (no answer quoted the input in the form asked)."
        )
    if unverified:
        shown = ", ".join(unverified[:10]) + (
            f" and {len(unverified) - 10} more" if len(unverified) > 10 else ""
        )
        lines.append(
            f"Unverified: {len(unverified)} answer(s) gave no checkable quote and were used as "
            f"plain text: {shown}."
        )
    if rejected:
        lines.append(
            f"Dropped: {rejected} quote(s) not found in the part they cite "
            "(listed in evidence/*.json)."
        )
    return "\n".join(lines) + "\n"
