"""Huge and odd inputs: streamed staging matches in-memory staging, named files are always
read, any file name works, and in a git checkout git decides which files a walk sees."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import RLM, rlm, rlm_process

from rlm_cli.inputs import sources
from rlm_cli.inputs.chunking import pack
from rlm_cli.inputs.listing import Filters, Report
from rlm_cli.inputs.sources import SourceFile, iter_sources


def generated_text(seed: int) -> bytes:
    """Lines of every kind: blank, top-level, short, non-ASCII, invalid UTF-8, over-long."""
    rng = random.Random(seed)
    out = []
    for i in range(6000):
        r = rng.random()
        if r < 0.05:
            out.append("")
        elif r < 0.1:
            out.append(f"def f{i}():")
        elif r < 0.104:
            out.append(rng.choice("xé€😀") * rng.randint(100, 60_000))
        else:
            out.append("    " + "é" * (i % 3) + " word" * rng.randint(0, 30))
    data = ("\n".join(out) + ("\n" if seed % 2 else "")).encode()
    return data.replace("é".encode(), b"\xe9", 40)  # some bytes that are not UTF-8


def unnumbered_parts(text: str) -> str:
    """Chunk text with a long line's part label reduced to its number (streamed lines say
    'continues' where text held in memory knows the part count)."""
    return re.sub(r"part (\d+)( of \d+|, continues)", r"part \1", text)


@pytest.mark.parametrize(("seed", "budget"), [(1, 300), (2, 2000), (3, 20_000)])
def test_a_streamed_file_is_chunked_exactly_as_the_same_text_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, budget: int
):
    path = tmp_path / "gen.txt"
    path.write_bytes(generated_text(seed))
    [whole] = iter_sources([str(path)], Filters(), Report())
    assert not whole.streamed
    reference = list(pack([SourceFile("gen.txt", whole.text, whole.size)], budget))
    monkeypatch.setattr(sources, "SLURP_BYTES", 1000)
    monkeypatch.setattr(sources, "BLOCK_BYTES", 4096)  # many blocks, lines cut across them
    [streamed] = iter_sources([str(path)], Filters(), Report())
    assert streamed.streamed
    streamed.path = "gen.txt"
    chunks = list(pack([streamed], budget))
    assert [unnumbered_parts(c.text) for c in chunks] == [
        unnumbered_parts(c.text) for c in reference
    ]
    assert all(c.tokens <= budget for c in chunks)
    assert streamed.note == whole.note and "invalid UTF-8" in streamed.note


def test_stdin_is_streamed_through_a_spool_and_staged_like_a_reference(tmp_path: Path):
    data = generated_text(5) * 3  # past the 4 MiB held in memory: spooled, then streamed
    assert len(data) > sources.SLURP_BYTES
    ws = tmp_path / "ws"
    r = subprocess.run(
        [*RLM, "chunk", "-", "-w", str(ws), "--chunk-tokens", "3000"],
        input=data,
        capture_output=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    text = data.decode("utf-8", "replace")
    reference = list(pack([SourceFile("<stdin>", text, len(data))], 3000))
    manifest = json.loads((ws / "manifest.json").read_text())
    staged = [(ws / "chunks" / f"{c['id']}.txt").read_text() for c in manifest["chunks"]]
    assert [unnumbered_parts(t) for t in staged] == [unnumbered_parts(c.text) for c in reference]
    assert manifest["files"][0]["bytes"] == len(data)
    assert not [p for p in ws.iterdir() if "spool" in p.name]  # the spooled copy is gone


def test_a_named_file_is_read_whatever_its_size_and_a_walked_one_is_not(tmp_path: Path):
    (tmp_path / "logs").mkdir()
    big = tmp_path / "logs" / "big.log"
    big.write_text("an error on this line\n" * 500)
    ws = tmp_path / "ws"
    named = rlm("chunk", "logs/big.log", "-w", str(ws), "--max-file-bytes", "100", cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    manifest = json.loads((ws / "manifest.json").read_text())
    assert manifest["files"] == [{"path": "logs/big.log", "bytes": big.stat().st_size}]
    (tmp_path / "logs" / "small.log").write_text("fine\n")
    walked = rlm("chunk", "logs", "-w", str(ws), "--max-file-bytes", "100", cwd=tmp_path)
    assert walked.returncode == 0, walked.stderr
    manifest = json.loads((ws / "manifest.json").read_text())
    [skip] = manifest["skipped"]
    assert skip["path"] == "logs/big.log" and "name the file" in skip["reason"]


def test_a_named_pipe_is_read_like_stdin(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    ws = tmp_path / "ws"
    writer = subprocess.Popen(["sh", "-c", f"printf 'one\\ntwo\\n' > {fifo}"])
    r = rlm("chunk", str(fifo), "-w", str(ws))
    writer.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "1\tone\n2\ttwo\n" in (ws / "chunks" / "c0001.txt").read_text()


def test_a_large_named_pipe_is_read_whole_streamed_and_staged_like_a_reference(tmp_path: Path):
    """A FIFO past the 4 MiB held in memory: spooled, streamed, and staged like the same text."""
    data = generated_text(7) * 3
    assert len(data) > sources.SLURP_BYTES
    (tmp_path / "data.bin").write_bytes(data)
    os.mkfifo(tmp_path / "pipe")
    # A writer process feeds the pipe (opening it waits until rlm-sub opens the other end).
    writer = subprocess.Popen(["sh", "-c", "cat data.bin > pipe"], cwd=tmp_path)
    try:
        r = rlm_process("chunk", "pipe", "-w", "ws", "--chunk-tokens", "3000", cwd=tmp_path)
    finally:
        writer.wait(timeout=60)
    assert r.returncode == 0, r.stderr
    assert writer.returncode == 0
    ws = tmp_path / "ws"
    manifest = json.loads((ws / "manifest.json").read_text())
    assert manifest["files"][0]["path"] == "pipe"
    assert manifest["files"][0]["bytes"] == len(data)  # read whole, not cut
    text = data.decode("utf-8", "replace")
    reference = list(pack([SourceFile("pipe", text, len(data))], 3000))
    staged = [(ws / "chunks" / f"{c['id']}.txt").read_text() for c in manifest["chunks"]]
    assert [unnumbered_parts(t) for t in staged] == [unnumbered_parts(c.text) for c in reference]
    assert any("continues" in t for t in staged)  # long lines arrived as a stream, in pieces
    assert not [p for p in ws.iterdir() if "spool" in p.name]  # the spooled copy is gone


@pytest.mark.parametrize("in_git", [False, True])
def test_a_file_name_that_is_not_utf8_is_read_recorded_and_shown_escaped(
    tmp_path: Path, in_git: bool
):
    root = tmp_path / "tree"
    root.mkdir()
    name = b"caf\xe9\x1b[31m.txt"  # Latin-1 byte and a terminal escape
    with open(os.path.join(os.fsencode(root), name), "wb") as f:
        f.write(b"hello\n")
    if in_git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    ws = tmp_path / "ws"
    r = rlm("chunk", ".", "-w", str(ws), cwd=root)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    [entry] = json.loads((ws / "manifest.json").read_text())["files"]
    assert entry["path"] == "caf\\xe9\\x1b[31m.txt"
    assert bytes.fromhex(entry["raw_path_hex"]) == name
    assert (
        "==> caf\\xe9\\x1b[31m.txt [lines 1-1 of 1] <=="
        in (ws / "chunks" / "c0001.txt").read_text()
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_in_a_git_checkout_tracked_files_count_even_when_gitignore_matches_them(tmp_path: Path):
    root = tmp_path / "repo"
    (root / "build").mkdir(parents=True)
    (root / "src").mkdir()
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    (root / "kept.log").write_text("tracked although *.log is ignored\n")
    (root / "noise.log").write_text("untracked and ignored\n")
    (root / "build" / "out.txt").write_text("ignored directory\n")
    (root / "src" / "new.py").write_text("untracked, not ignored\n")
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-f", ".gitignore", "kept.log"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    ws = root / ".rlm" / "ws"
    r = rlm("chunk", ".", "-w", str(ws), cwd=root)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((ws / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == [".gitignore", "kept.log", "src/new.py"]
    assert manifest["excluded"][".gitignore"] == 2  # noise.log and build/


def test_every_file_a_run_skipped_is_named_in_the_answer_and_in_json(fake_api, tmp_path: Path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "app.py").write_text("print('needle')\n")
    (root / "huge.log").write_text("needle in a large log\n" * 100)
    (root / "blob.bin").write_bytes(b"\0\1\2needle")
    (root / "empty.txt").write_text("")
    r = rlm("run", "FIND:needle", ".", "-w", str(tmp_path / "ws"), "--max-file-bytes", "1000",
            "--json", cwd=root)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    skipped = {s["path"]: s["reason"] for s in out["reduce"]["skipped_inputs"]}
    assert set(skipped) == {"huge.log", "blob.bin"}  # an empty file holds nothing to miss
    note = out["answer"].split("---")[-1]
    assert "2 input file(s) were not read" in note
    assert "- huge.log: too large" in note and "- blob.bin: binary" in note
    assert "2 input file(s) not read" in r.stderr
