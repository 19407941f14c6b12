"""`rlm-sub chunk` end to end, as a real subprocess: filters, skips, errors, manifest."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RLM = [sys.executable, "-m", "rlm_cli"]


def rlm(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*RLM, *args], cwd=cwd, input=stdin, capture_output=True, timeout=120)


def write_all(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).write_text(text)


def manifest(ws: Path) -> dict:
    return json.loads((ws / "manifest.json").read_text())


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / "src" / "gen").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('app')\n")
    (root / "src" / "gen" / "out.py").write_text("generated\n")
    (root / "src" / "gen" / "keep.py").write_text("kept by negation\n")
    (root / "src" / ".gitignore").write_text("gen/*\n!gen/keep.py\n")
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_text("noise\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0IHDR")
    (root / "latin1.txt").write_bytes(b"caf\xe9 cr\xe8me\n")
    (root / "empty.txt").write_text("")
    return root


def test_gitignore_binary_and_invalid_utf8_are_handled_and_recorded(tree: Path, tmp_path: Path):
    ws = tmp_path / "ws"
    r = rlm("chunk", ".", "-w", str(ws), cwd=tree)
    assert r.returncode == 0, r.stderr
    m = manifest(ws)
    paths = [f["path"] for f in m["files"]]
    assert paths == [".gitignore", "latin1.txt", "src/.gitignore", "src/app.py", "src/gen/keep.py"]
    skipped = {s["path"]: s["reason"] for s in m["skipped"]}
    assert skipped["logo.png"].startswith("binary")
    assert skipped["empty.txt"] == "empty"
    assert m["excluded"][".gitignore"] == 2  # debug.log and src/gen/out.py
    latin = next(f for f in m["files"] if f["path"] == "latin1.txt")
    assert "invalid UTF-8" in latin["note"]
    assert "caf\ufffd" in (ws / "chunks" / "c0001.txt").read_text()
    assert b"latin1.txt: invalid UTF-8" in r.stderr
    assert r.stdout == b""  # results only on stdout; chunk has none


def test_no_gitignore_include_and_exclude(tree: Path, tmp_path: Path):
    ws = tmp_path / "ws"
    r = rlm(
        "chunk",
        ".",
        "-w",
        str(ws),
        "--no-gitignore",
        "--include",
        "*.py",
        "--exclude",
        "keep.py",
        cwd=tree,
    )
    assert r.returncode == 0, r.stderr
    assert [f["path"] for f in manifest(ws)["files"]] == ["src/app.py", "src/gen/out.py"]


def test_gitignore_of_an_enclosing_directory_applies_to_a_subdirectory(tree: Path, tmp_path: Path):
    (tree / "src" / "trace.log").write_text("ignored by the top .gitignore\n")
    ws = tmp_path / "ws"
    r = rlm("chunk", "src", "-w", str(ws), cwd=tree)
    assert r.returncode == 0, r.stderr
    assert [f["path"] for f in manifest(ws)["files"]] == [
        "src/.gitignore",
        "src/app.py",
        "src/gen/keep.py",
    ]


def test_stdin_is_a_source(tmp_path: Path):
    ws = tmp_path / "ws"
    r = rlm("chunk", "-", "-w", str(ws), cwd=tmp_path, stdin=b"diff --git a/x b/x\n+new line\n")
    assert r.returncode == 0, r.stderr
    assert manifest(ws)["chunks"][0]["sources"] == [{"path": "<stdin>", "start": 1, "end": 2}]


def test_multi_megabyte_single_line_file(tmp_path: Path):
    (tmp_path / "bundle.min.js").write_text("var a=1;" * 400_000)  # 3.2 MB, no newline
    ws = tmp_path / "ws"
    r = rlm("chunk", "bundle.min.js", "-w", str(ws), "--chunk-tokens", "50000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = manifest(ws)
    assert len(m["chunks"]) >= 18
    assert all(c["tokens"] <= 50000 for c in m["chunks"])
    text = "".join(
        (ws / "chunks" / f"{c['id']}.txt").read_text().split("\n")[1].split("\t", 1)[1]
        for c in m["chunks"]
    )
    assert text == "var a=1;" * 400_000


def test_file_over_the_size_limit_is_skipped_with_the_fix(tmp_path: Path):
    (tmp_path / "small.txt").write_text("ok\n")
    (tmp_path / "big.txt").write_text("x" * 5000)
    ws = tmp_path / "ws"
    r = rlm("chunk", ".", "-w", str(ws), "--max-file-bytes", "1000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [skip] = manifest(ws)["skipped"]
    assert skip["path"] == "big.txt" and "--max-file-bytes" in skip["reason"]


def test_rechunking_removes_stale_chunk_files(tmp_path: Path):
    for i in range(6):
        (tmp_path / f"f{i}.txt").write_text("word\n" * 400)
    ws = tmp_path / "ws"
    assert rlm("chunk", ".", "-w", str(ws), "--chunk-tokens", "700", cwd=tmp_path).returncode == 0
    many = len(list((ws / "chunks").glob("*.txt")))
    assert rlm("chunk", ".", "-w", str(ws), "--chunk-tokens", "20000", cwd=tmp_path).returncode == 0
    assert many > 1 and len(list((ws / "chunks").glob("*.txt"))) == 1


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda d: None, ["missing-dir"], "path not found: missing-dir"),
        (lambda d: (d / "empty").mkdir(), ["empty"], "no input text found in empty"),
        (
            lambda d: write_all(d, {"only.log": "x\n", ".gitignore": "*.log\n.gitignore\n"}),
            ["."],
            "use --no-gitignore",
        ),
    ],
)
def test_bad_input_gets_a_clear_error_not_a_traceback(tmp_path: Path, setup, args, message):
    setup(tmp_path)
    r = rlm("chunk", *args, "-w", str(tmp_path / "ws"), cwd=tmp_path)
    assert r.returncode == 1
    assert message in r.stderr.decode()
    assert b"Traceback" not in r.stderr


def test_special_files_are_recorded_not_read(tmp_path: Path):
    (tmp_path / "ok.txt").write_text("fine\n")
    os.mkfifo(tmp_path / "pipe")
    r = rlm("chunk", ".", "-w", str(tmp_path / "ws"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert manifest(tmp_path / "ws")["skipped"] == [
        {"path": "pipe", "reason": "not a regular file"}
    ]
