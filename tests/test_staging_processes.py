"""Staging large inputs in several processes gives exactly what one process gives."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import RLM, rlm_process

from rlm_cli.errors import RlmError
from rlm_cli.inputs.forked import in_processes
from rlm_cli.inputs.staging import SEGMENT_BYTES


def _tree(root: Path) -> None:
    """About 2.5 segments of text files of varied sizes, with binary and empty ones between."""
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    total, i = 0, 0
    while total < SEGMENT_BYTES[0] * 2.5:  # under 32 MiB, segments are of the smallest size
        lines = [
            " ".join(rng.choices(words, k=rng.randint(1, 14))) for _ in range(rng.randint(1, 9000))
        ]
        text = "\n".join(lines) + "\n"
        (root / f"d{i % 7}").mkdir(exist_ok=True)
        (root / f"d{i % 7}" / f"f{i:04d}.txt").write_text(text)
        total += len(text)
        if i % 50 == 0:
            (root / f"d{i % 7}" / f"b{i:04d}.bin").write_bytes(b"\0\1" * 100)
            (root / f"d{i % 7}" / f"e{i:04d}.txt").write_text("")
        i += 1


def _staged(ws: Path) -> tuple[dict, dict[str, bytes]]:
    manifest = json.loads((ws / "manifest.json").read_text())
    del manifest["created"]
    files = {p.name: p.read_bytes() for p in (ws / "chunks").iterdir()}
    return manifest, files


@pytest.mark.slow
def test_a_large_input_staged_in_two_processes_equals_one_process(tmp_path: Path):
    if len(os.sched_getaffinity(0)) < 2 or not shutil.which("taskset"):
        pytest.skip("needs 2 CPUs and taskset (util-linux) to compare with one")
    src = tmp_path / "src"
    src.mkdir()
    _tree(src)
    one = subprocess.run(  # one CPU allowed: one process
        ["taskset", "-c", "0", *RLM, "chunk", ".", "-w", str(tmp_path / "one"), "--no-gitignore"],
        cwd=src, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    two = rlm_process("chunk", ".", "-w", str(tmp_path / "two"), "--no-gitignore", cwd=src)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert "processes)" not in one.stderr
    assert "(2 processes)" in two.stderr
    m_one, chunks_one = _staged(tmp_path / "one")
    m_two, chunks_two = _staged(tmp_path / "two")
    assert m_two == m_one
    assert chunks_two == chunks_one
    assert not [n for n in chunks_two if not n.endswith(".txt")]  # no temporary file left
    assert len(m_two["skipped"]) == 2 * len(
        [s for s in m_two["skipped"] if "binary" in s["reason"]]
    )
    # segments end at file boundaries: no file is split between two chunks it would fit in
    assert len(m_two["chunks"]) == len(chunks_two) >= 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork beside pytest's threads
def test_forked_workers_return_every_result_and_raise_a_childs_error():
    results = in_processes(range(5), 2, lambda k: (k * k, os.getpid()))
    assert {k: v[0] for k, v in results.items()} == {k: k * k for k in range(5)}
    assert len({pid for _, pid in results.values()}) == 2  # two processes did the work

    def fail_in_child(k: int) -> int:
        if k == 1:  # job 1 goes to the child
            raise RlmError("disk full while writing c0002", 7)
        return k

    with pytest.raises(RlmError) as raised:
        in_processes(range(3), 2, fail_in_child)
    assert raised.value.message == "disk full while writing c0002"
    assert raised.value.exit_code == 7


def test_segments_are_an_eighth_of_the_input_within_bounds():
    """Segment size follows from the total alone, so any process count sees the same cuts."""
    from rlm_cli.inputs.sources import Entry
    from rlm_cli.inputs.staging import _segments

    def entries(count: int, size: int) -> list[Entry]:
        st = os.stat_result((0o100644, 0, 0, 1, 0, 0, size, 0, 0, 0))
        return [Entry(f"f{i}", f"f{i}", None, st) for i in range(count)]

    low, high = SEGMENT_BYTES
    mib = 1 << 20
    assert [len(s) for s in _segments(entries(32, 2 * mib))] == [4] * 8  # 64 MiB: 8 MiB each
    assert [len(s) for s in _segments(entries(36, mib))] == [5] * 7 + [1]  # 4.5 MiB each
    assert len(_segments(entries(1024, mib))) == 1024 * mib // high  # 1 GiB: the largest size
    assert [len(s) for s in _segments(entries(12, mib // 2))] == [8, 4]  # 6 MiB: the smallest
    assert len(_segments(entries(30, 100_000))) == 1  # 3 MB: not cut (a seam may cost a call)
    assert low == 4 * mib
    assert len(_segments(entries(1, 5000 * mib))) == 1  # a file is never cut between two


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork beside pytest's threads
def test_a_childs_chunk_files_survive_a_workspace_opened_before_the_parent_renames(
    tmp_path: Path,
):
    """A child's temporary chunks carry the parent's pid: another rlm-sub that opens the
    workspace after the child exited, before the parent renamed them, leaves them alone."""
    from rlm_cli.inputs.staging import _temp_files
    from rlm_cli.workspace import Workspace, check_links

    ws = Workspace(tmp_path / "ws")
    ws.chunks_dir.mkdir(parents=True)
    write = _temp_files(ws, "s00001", os.getpid())
    names = in_processes([0, 1], 2, lambda k: write(k, b"chunk %d\n" % k))
    assert names[1] and names[0] != names[1]  # job 1 was written by the child, now gone
    check_links(ws.root)  # what any rlm-sub does when it opens the workspace
    assert sorted(p.name for p in ws.chunks_dir.iterdir()) == sorted(names.values())
