"""Packing and splitting: budgets hold, every line lands in exactly one chunk, labels are right."""

import re

from rlm_cli.inputs.chunking import (
    HEADER_RE,
    estimate_tokens,
    pack,
    render_files,
    split_text,
)
from rlm_cli.inputs.sources import SourceFile


def src(path: str, text: str) -> SourceFile:
    return SourceFile(path, text, len(text.encode()))


def lines_seen(chunks) -> dict[str, list[int]]:
    """Map each path to the line numbers that appear across all chunks."""
    seen: dict[str, list[int]] = {}
    for c in chunks:
        current = None
        for line in c.text.split("\n"):
            m = HEADER_RE.match(line)
            if m:
                current = m["path"]
                continue
            n = re.match(r"^(\d+)\t", line)
            if n and current:
                seen.setdefault(current, []).append(int(n.group(1)))
    return seen


def test_small_files_share_a_chunk_and_keep_their_labels():
    chunks = list(pack([src("a.py", "x = 1\ny = 2\n"), src("b.py", "z = 3\n")], 1000))
    assert len(chunks) == 1
    assert chunks[0].sources == [
        {"path": "a.py", "start": 1, "end": 2},
        {"path": "b.py", "start": 1, "end": 1},
    ]
    assert "==> a.py [lines 1-2 of 2] <==\n1\tx = 1\n2\ty = 2\n" in chunks[0].text


def test_no_chunk_exceeds_the_budget_and_no_line_is_lost_or_repeated():
    files = [
        src(f"pkg/m{i}.py", "".join(f"def f{j}():\n    return {j}\n\n" for j in range(i * 40)))
        for i in range(1, 12)
    ]
    budget = 600
    chunks = list(pack(files, budget))
    assert all(c.tokens <= budget for c in chunks)
    seen = lines_seen(chunks)
    for f in files:
        total = f.text.count("\n")
        assert sorted(seen[f.path]) == list(range(1, total + 1)), f.path


def test_large_file_splits_before_top_level_definitions():
    body = "".join(f"def f{j}():\n    a = {j}\n    return a\n\n" for j in range(200))
    chunks = list(pack([src("big.py", body)], 500))
    assert len(chunks) > 3
    for c in chunks[1:]:
        first_line = c.text.split("\n")[1]
        assert re.match(r"^\d+\tdef f\d+", first_line), first_line


def test_overlong_single_line_is_split_into_labelled_parts():
    line = "x" * 50_000
    chunks = list(pack([src("min.js", line + "\n"), src("after.txt", "tail\n")], 2000))
    parts = [c for c in chunks if c.sources[0].get("part")]
    assert len(parts) >= 7
    assert all(c.tokens <= 2000 for c in chunks)
    assert "".join(c.text.split("\n")[1].split("\t", 1)[1] for c in parts) == line
    assert parts[0].text.startswith("==> min.js [line 1, part 1 of ")
    assert chunks[-1].sources == [{"path": "after.txt", "start": 1, "end": 1}]


def test_non_ascii_text_is_budgeted_by_bytes():
    text = "".join(f"ligne {i}: été, naïve, 日本語のテキスト\n" for i in range(2000))
    chunks = list(pack([src("fr.txt", text)], 800))
    assert all(estimate_tokens(c.text) <= 800 for c in chunks)
    assert sum(len(v) for v in lines_seen(chunks).values()) == 2000


def test_chunk_ids_are_sequential():
    chunks = list(pack([src(f"f{i}.txt", "a\n" * 300) for i in range(5)], 300))
    assert [c.id for c in chunks] == [f"c{i:04d}" for i in range(1, len(chunks) + 1)]


def test_split_prefers_a_file_boundary():
    text = render_files([src("a.txt", "alpha\n" * 60), src("b.txt", "beta\n" * 60)])
    first, second = split_text(text)
    assert first + second == text
    assert second.startswith("==> b.txt [lines 1-60 of 60] <==")


def test_split_inside_a_file_relabels_the_second_half():
    text = render_files([src("a.txt", "".join(f"line {i}\n" for i in range(1, 201)))])
    first, second = split_text(text)
    m = re.match(r"==> a\.txt \[continued from line (\d+)\] <==\n(\d+)\t", second)
    assert m and m.group(1) == m.group(2)
    assert lines_seen([type("C", (), {"text": first}), type("C", (), {"text": second})]) == {
        "a.txt": list(range(1, 201))
    }


def test_split_refuses_tiny_text():
    assert split_text("==> a [lines 1-1 of 1] <==\n1\thi\n") is None


def test_per_file_gives_every_file_its_own_chunk():
    chunks = list(
        pack([src("a.txt", "a\n"), src("b.txt", "b\n"), src("c.txt", "c\n")], 1000, per_file=True)
    )
    assert [[s["path"] for s in c.sources] for c in chunks] == [["a.txt"], ["b.txt"], ["c.txt"]]


def test_a_split_file_is_its_numbered_lines_each_piece_filled_greedily():
    # Line lengths vary and numbers cross 9/10, 99/100 and 999/1000 (digit widths change).
    lines = ["y" + "x" * (i * 7 % 23) + "é" * (i % 3) for i in range(1, 1500)]
    chunks = list(pack([src("f.txt", "\n".join(lines) + "\n")], 400))
    budget = int(400 * 3.0)
    head = len("==> f.txt [lines 1499-1499 of 1499] <==\n") + 1  # the widest header
    rendered = [f"{n}\t{line}\n".encode() for n, line in enumerate(lines, 1)]
    for c in chunks:
        [s] = c.sources
        start, end = s["start"], s["end"]
        body = b"".join(rendered[start - 1 : end])
        assert c.data == f"==> f.txt [lines {start}-{end} of 1499] <==\n".encode() + body + b"\n"
        assert len(c.data) <= budget
        if end < len(lines):  # no blank line to break at: each piece is as full as fits
            assert head + len(body) + len(rendered[end]) > budget
    assert [n for c in chunks for n in range(c.sources[0]["start"], c.sources[0]["end"] + 1)] == (
        list(range(1, 1500))
    )


def test_a_line_of_unicode_spaces_is_blank_when_choosing_where_to_split():
    # str.strip() removes NO-BREAK SPACE, IDEOGRAPHIC SPACE and \x1c; so does the split.
    blanks = ["\u00a0", "\u3000 ", "\x1c", "\t"]
    body = "".join(f"def f{j}():\n" + "    x = 1\n" * 6 + blanks[j % 4] + "\n" for j in range(120))
    chunks = list(pack([src("m.py", body)], 300))
    assert len(chunks) > 5
    for c in chunks[1:]:
        assert re.match(r"^\d+\tdef f\d+", c.text.split("\n")[1]), c.text[:80]
