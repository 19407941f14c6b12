"""Grounded answers: code checks each quoted finding against its part and carries it to the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import rlm
from fake_api import FakeAPI

from rlm_cli.inputs.chunking import pack
from rlm_cli.inputs.sources import SourceFile
from rlm_cli.steps.evidence import check_answer, says_nothing

LINES = [f"line {i}: ordinary words about the weather" for i in range(1, 41)]
LINES[11] = "retry_limit = 5  # the retry policy is decided here"
LINES[29] = "def connect(host, port):"


def part(path: str = "src/net.py") -> str:
    text = "\n".join(LINES) + "\n"
    [chunk] = pack([SourceFile(path, text, len(text))], 10_000)
    return chunk.text


def test_a_quote_at_its_line_is_kept_as_evidence():
    answer = 'src/net.py:12: "retry_limit = 5" - the retry limit is set here'
    checked = check_answer(answer, part(), "c0001")
    assert checked.status == "checked"
    [f] = checked.findings
    assert (f["path"], f["line"], f["quote"]) == ("src/net.py", 12, "retry_limit = 5")
    assert f["claim"] == "the retry limit is set here" and "claimed_line" not in f


def test_a_quote_that_is_not_in_the_part_is_dropped():
    answer = (
        'src/net.py:12: "retry_limit = 10" - an invented value\n'
        'src/other.py:3: "import os" - a file this part does not hold\n'
        'src/net.py:30: "def connect(host, port):" - the connection'
    )
    checked = check_answer(answer, part(), "c0001")
    assert [f["line"] for f in checked.findings] == [30]
    assert "retry_limit = 10" not in checked.text and "src/other.py" not in checked.text
    assert [r["why"] for r in checked.rejected] == [
        "quote not found in src/net.py",
        "no such file in this part",
    ]


def test_line_numbers_are_checked_and_corrected():
    near = check_answer('src/net.py:13: "retry_limit = 5"', part(), "c1")
    assert near.findings[0]["line"] == 12 and "claimed_line" not in near.findings[0]  # off by one
    far = check_answer('- src/net.py:2: "def connect(host, port)"', part(), "c1")
    [f] = far.findings
    assert f["line"] == 30 and f["claimed_line"] == 2
    assert far.text == '- src/net.py:30: "def connect(host, port)"'  # the citation now points right


def test_quote_forms_small_models_use():
    forms = [
        "- `src/net.py:30`: `def connect(host, port):`",
        "1. src/net.py:12 \u2014 \u201cretry_limit = 5  # the retry policy\u201d",
        'net.py:12: "retry_limit ... retry policy is decided"',  # a tail of the path, an ellipsis
        "src/net.py:12: retry_limit = 5  # the retry policy is decided here",  # unquoted, exact
    ]
    for answer in forms:
        checked = check_answer(answer, part(), "c1")
        assert checked.status == "checked", answer
    described = check_answer("src/net.py:12: sets how often to retry", part(), "c1")
    assert described.status == "unverified" and described.text.startswith("src/net.py:12")


def test_quotes_are_compared_word_for_word_ignoring_case_and_punctuation():
    needle = "The special magic number for the brisk canyon is: 2119695."
    lines = [f"filler line {i}" for i in range(1, 31)]
    lines[17] = needle
    text = "\n".join(lines) + "\n"
    [chunk] = pack([SourceFile("haystack.txt", text, len(text))], 10_000)
    loose = 'haystack.txt:18: "the special magic number for the brisk canyon is 2119695"'
    [f] = check_answer(loose, chunk.text, "c1").findings
    assert f["text"] == needle and f["line"] == 18
    wrong = 'haystack.txt:18: "The special magic number for the brisk canyon is: 2119696."'
    assert check_answer(wrong, chunk.text, "c1").rejected


def test_an_uncited_quote_of_the_part_is_located_by_code():
    checked = check_answer(
        'The limit: "retry_limit = 5  # the retry policy is decided here"\n'
        "def connect(host, port): is where connections start\n"
        "The special magic number is 42.",
        part(),
        "c1",
    )
    [f] = checked.findings  # the second line is not word for word, the third not in the part
    assert (f["path"], f["line"], f["located"]) == ("src/net.py", 12, True)
    repeated = check_answer(
        "Line 12 says: retry_limit = 5  # the retry policy is decided here", part(), "c1"
    )
    assert repeated.findings[0]["line"] == 12  # the whole input line is inside the answer line
    whole = check_answer("- retry_limit = 5  # the retry policy is decided here", part(), "c1")
    assert whole.findings[0]["line"] == 12 and whole.status == "checked"


def test_an_input_line_repeated_inside_an_answer_line_becomes_evidence():
    """SmolLM2 at 4K: the needle sentence run on into other words, no quote, no PATH:LINE."""
    lines = [*LINES]
    lines[20] = "The special magic number for the humble canyon is: 1901594."
    text = "\n".join(lines) + "\n"
    [chunk] = pack([SourceFile("haystack.txt", text, len(text))], 10_000)
    answer = (
        "the special magic number for the Humble Canyon is 1901594, and the task is about "
        "reviewing the quarterly figures"
    )
    checked = check_answer(answer, chunk.text, "c0003")
    assert checked.status == "checked"
    [f] = checked.findings
    assert (f["path"], f["line"], f["located"]) == ("haystack.txt", 21, True)
    assert f["quote"] == "The special magic number for the humble canyon is: 1901594."
    # another number is not the input's line; nor is a longer one that starts with it
    for wrong in ("is 1901595", "is 19015940"):
        other = check_answer(
            f"The special magic number for the humble canyon {wrong}.", chunk.text, "c"
        )
        assert other.findings == [] and other.status == "unverified"


def test_an_input_line_repeated_with_a_few_words_slipped_in_becomes_evidence():
    """SmolLM2 at 4K, trial 1: the question's words slipped into the needle sentence."""
    lines = [*LINES]
    lines[20] = "The special magic number for the brisk orchard is: 4205642."
    text = "\n".join(lines) + "\n"
    [chunk] = pack([SourceFile("haystack.txt", text, len(text))], 10_000)
    answer = "The special magic number for the brisk orchard mentioned in the input is 4205642."
    [f] = check_answer(answer, chunk.text, "c0004").findings
    assert (f["line"], f["quote"]) == (21, lines[20])
    lines[25] = "The retry policy is decided by the connection manager in this file."
    text = "\n".join(lines) + "\n"
    [chunk] = pack([SourceFile("net.txt", text, len(text))], 10_000)
    slipped = "The retry policy, as far as I see, is decided by the connection manager in this file"
    assert [f["line"] for f in check_answer(slipped, chunk.text, "c").findings] == [26]
    # words out of order, or too many words slipped in: not the line
    for wrong in (
        "The retry policy is decided by the manager connection in this file.",
        "The retry policy, as far as I can tell from reading every part of this long input, "
        "is decided by the connection manager in this file.",
    ):
        assert check_answer(wrong, chunk.text, "c").findings == [], wrong


def test_the_one_input_line_holding_a_number_the_answer_states_becomes_evidence():
    """SmolLM2 at 16K: "The answer is 4726268." and nothing of the needle's words."""
    lines = [*LINES]
    lines[20] = "The special magic number for the woven glacier is: 4726268."
    lines[30] = "ticket 12345 opened, ticket 12345 closed"
    lines[31] = "see ticket 12345"
    text = "\n".join(lines) + "\n"
    [chunk] = pack([SourceFile("haystack.txt", text, len(text))], 10_000)
    [f] = check_answer(
        "The task asks for a number. The answer is 4726268.", chunk.text, "c"
    ).findings
    assert (f["line"], f["quote"], f["located"]) == (21, lines[20], True)
    # a number on two lines, a number in no line, or a shorter one: no evidence
    for answer in ("It is 12345.", "It is 4726269.", "It is 4726.", "It is 726268."):
        assert check_answer(answer, chunk.text, "c").findings == [], answer


def test_short_input_lines_never_match_inside_an_answer():
    text = "ok\nreturn x\nThe end.\n" + "\n".join(LINES) + "\n"
    [chunk] = pack([SourceFile("a.py", text, len(text))], 10_000)
    checked = check_answer("It says ok and then return x, and finally The end.", chunk.text, "c")
    assert checked.findings == [] and checked.status == "unverified"


def test_an_unstructured_answer_is_kept_and_marked_and_nothing_is_not_sent():
    loose = check_answer(
        "The retry limit seems to be five.", part(), "c1", "What is the retry limit?"
    )
    assert loose.status == "unverified" and loose.text == "The retry limit seems to be five."
    for nothing in [
        "NOTHING RELEVANT",
        "Nothing relevant.",
        "This part does not contain the special magic number.",
        "What is the retry limit?",  # the task restated
        "",
    ]:
        assert says_nothing(nothing, "What is the retry limit?"), nothing
        assert check_answer(nothing, part(), "c1", "What is the retry limit?").status == "empty"
    cites = "Not found as such, but src/net.py:12 sets a limit of 5."
    assert check_answer(cites, part(), "c1", "What is the retry limit?").status == "unverified"


def needle_corpus(root: Path, files: int = 12, needles: tuple[int, ...] = (2, 9)) -> Path:
    for n in range(files):
        lines = [f"row {i} of file {n}" for i in range(1, 11)]
        if n in needles:
            lines[6] = f"the needle of file {n} is here"
        (root / f"f{n:02d}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / f"f{n:02d}.txt").write_text("\n".join(lines) + "\n")
    return root


def forgetful(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A synthesis that loses every finding; map calls follow the fake's rules."""
    system = body["system"][0]["text"] if isinstance(body["system"], list) else body["system"]
    if "combining the answers" in system:
        return [{"type": "text", "text": "Merged: the parts mention something, details lost."}]
    return None


def test_evidence_survives_three_reduce_levels_of_a_synthesis_that_drops_it(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.responder = forgetful
    needles = tuple(n for n in range(60) if n % 5)
    needle_corpus(tmp_path / "src", 60, needles)
    ws = tmp_path / "ws"
    # a 500-token synthesis budget must hold two answers of --max-output (checked up front)
    r = rlm("run", "FIND:needle", "src", "-w", str(ws), "--per-file", "--reduce-tokens", "500",
            "--max-output", "100", "--json", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["reduce"]["levels"]) >= 3
    want = {(f"src/f{n:02d}.txt", 7, f"the needle of file {n} is here") for n in needles}
    assert {(f["path"], f["line"], f["quote"]) for f in out["reduce"]["evidence"]} == want
    final = (ws / "final.md").read_text()
    assert final.startswith("Merged: the parts mention something, details lost.")
    assert 'src/f02.txt:7: "the needle of file 2 is here"' in final.split("---")[1]
    assert 'src/f09.txt:7: "the needle of file 9 is here"' in final.split("---")[1]
    top = max((ws / "evidence").glob("L*-g*.json"), key=lambda p: p.name)
    assert top.name.startswith(f"L{len(out['reduce']['levels'])}-")
    assert len(json.loads(top.read_text())["findings"]) == len(needles)
    # every synthesis was shown the checked findings its inputs lost
    merges = [c for c in fake_api.calls() if "combining the answers" in c["system"]]
    assert any("Checked findings behind this answer:" in c["user"] for c in merges)
    # the twelve answers with nothing in them never reached a synthesis
    assert out["reduce"]["dropped_irrelevant"] == 12


def liar(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Map answers that invent a quote, or ignore the format; syntheses follow the rules."""
    system = body["system"][0]["text"] if isinstance(body["system"], list) else body["system"]
    user = body["messages"][-1]["content"]
    user = user if isinstance(user, str) else " ".join(b.get("text", "") for b in user)
    if "combining the answers" in system:
        return None
    if "f02.txt" in user:
        return [{"type": "text", "text": 'src/f02.txt:7: "the needle is made of gold"'}]
    if "f09.txt" in user:
        return [{"type": "text", "text": "I think there is a needle somewhere around here."}]
    return [{"type": "text", "text": "There is nothing relevant in this part."}]


def test_invented_quotes_are_dropped_and_free_text_is_marked_unverified(
    fake_api: FakeAPI, tmp_path: Path
):
    fake_api.responder = liar
    needle_corpus(tmp_path / "src")
    ws = tmp_path / "ws"
    r = rlm("run", "Where is the needle?", "src", "-w", str(ws), "--per-file", "--json",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["reduce"]
    assert out["evidence"] == [] and out["rejected_quotes"] == 1
    assert [u.split(" ")[0] for u in out["unverified"]] == ["c0010"]
    record = json.loads((ws / "evidence" / "c0003.json").read_text())
    assert record["rejected"][0]["line"] == 'src/f02.txt:7: "the needle is made of gold"'
    # only the unverified answer reached the merge: nothing to combine, so no merge call
    assert not [c for c in fake_api.calls() if "combining the answers" in c["system"]]
    answer = json.loads(r.stdout)["answer"]
    assert answer.startswith("I think there is a needle somewhere around here.")  # kept, marked
    assert "Unverified: 1 answer(s)" in answer and "Dropped: 1 quote(s)" in answer


def test_findings_that_share_the_tasks_words_lead_the_list_and_survive_its_limit():
    from rlm_cli.steps.evidence import FOOTER_LIMIT, footer

    noise = [
        {"path": "log.txt", "line": n, "quote": f"a small boat drifted past the mill {n}"}
        for n in range(1, FOOTER_LIMIT + 20)
    ]
    needle = {"path": "log.txt", "line": 900, "quote": "The special magic number for the frozen grove is 1309662."}  # fmt: skip
    text = footer([*noise, needle], [], 0, "What is the special magic number for the frozen grove?")
    listed = [line for line in text.splitlines() if line.startswith("- log.txt:")]
    assert listed[0] == '- log.txt:900: "The special magic number for the frozen grove is 1309662."'
    assert listed[1:4] == [
        f'- log.txt:{n}: "a small boat drifted past the mill {n}"' for n in (1, 2, 3)
    ]
    assert "those sharing the most words with the task first" in text
    assert "... and 20 more in final.evidence.json" in text
    # without a task, input order, and the same limit: the last finding is not listed
    plain = footer([*noise, needle], [], 0)
    assert "log.txt:900" not in plain and "sharing the most words" not in plain
