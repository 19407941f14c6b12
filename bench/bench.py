"""rlm-sub benchmarks: map scheduling, CLI start-up latency, chunking throughput.

Run through bench/run.sh, which installs what this needs. Generated data goes to bench/out/.
Prints a markdown table: measured value, target, pass/fail. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent  # the venv's bin: python, rlm-sub, files-to-prompt
RLM = str(BIN / "rlm-sub")

MAP_CHUNKS = 500  # chunks to generate for the map benchmark
MAP_CHUNK_TOKENS = 1000  # --chunk-tokens for them (about 3 KB of text each)
MAP_CONCURRENCY = 32
LATENCY = 1.0  # seconds the fake server waits before every answer
MAP_RUNS = 3  # map runs; the median is reported
CLI_RUNS = 11  # runs per start-up measurement; the median is reported
CHUNK_RUNS = 3  # runs per chunking measurement; the median is reported

WORDS = ["queue", "retry", "cache", "token", "chunk", "model", "error", "socket", "client"]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command, failing loudly (with its stderr) if it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd[:4])} ...\n{p.stderr[-2000:]}")
    return p


def timed(cmd: list[str], **kw) -> float:
    """Wall-clock seconds of one run of cmd."""
    t = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t


def median_time(cmd: list[str], runs: int, fresh: Path | None = None, **kw) -> float:
    """Median wall time of runs of cmd; `fresh` (a file or directory) is deleted before each."""
    times = []
    for _ in range(runs):
        if fresh is not None and fresh.is_dir():
            shutil.rmtree(fresh)
        elif fresh is not None:
            fresh.unlink(missing_ok=True)
        times.append(timed(cmd, **kw))
    return statistics.median(times)


# -- 1. map scheduling -------------------------------------------------------------------


@contextmanager
def fake_server(latency: float):
    """The repository's fake Messages API on 127.0.0.1, stopped (and killed if need be) after."""
    port_file = OUT / "fake.port"
    port_file.unlink(missing_ok=True)
    cmd = [sys.executable, str(ROOT / "tests" / "fake_api.py"), "--port", "0"]
    cmd += ["--port-file", str(port_file), "--latency", str(latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("the fake API server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def make_log(path: Path, chunks: int, chunk_tokens: int) -> None:
    """Log-like text that packs into about `chunks` chunks (the packer uses 3 bytes/token)."""
    rng = random.Random(42)
    lines, size, target = [], 0, int(chunks * chunk_tokens * 3 * 0.93)
    while size < target:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))
        line = f"worker-{rng.randint(1, 64)} {words} took {rng.randint(1, 999)} ms"
        lines.append(line)
        size += len(line) + 4  # and the line number and tab the chunk adds
    path.write_text("\n".join(lines) + "\n")


def map_once(ws: Path, run_no: int) -> dict:
    """One `rlm-sub map` over every chunk (no cached answers), timed by the fake's log."""
    for stale in ("results", "reduce"):
        shutil.rmtree(ws / stale, ignore_errors=True)
    (ws / "trace.jsonl").unlink(missing_ok=True)
    with fake_server(LATENCY) as url:
        env = {**os.environ, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "dummy"}
        cmd = [RLM, "map", "Summarise this part of the log", "-w", str(ws)]
        wall = timed([*cmd, "-j", str(MAP_CONCURRENCY), "-q"], env=env)
        requests = fetch(url + "/_fake/requests")
        stats = fetch(url + "/_fake/stats")
    for r in requests:  # keep the timing, drop the prompts
        del r["system"], r["user"]
    (OUT / f"map-requests-{run_no}.json").write_text(json.dumps(requests, indent=1))
    calls = len(requests)
    span = max(r["end"] for r in requests) - min(r["start"] for r in requests)
    ideal = math.ceil(calls / MAP_CONCURRENCY) * LATENCY
    return {
        "calls": calls,
        "ok": sum(r["status"] == 200 for r in requests),
        "max_in_flight": stats["max_in_flight"],
        "span": span,
        "ideal": ideal,
        "efficiency": ideal / span,
        "wall": wall,
    }


def bench_map() -> dict:
    """Stage ~500 chunks, map them MAP_RUNS times; the run with the median efficiency."""
    ws, src = OUT / "map-ws", OUT / "map-input"
    src.mkdir()
    make_log(src / "app.log", MAP_CHUNKS, MAP_CHUNK_TOKENS)
    # bench/out/ is git-ignored, so the input is staged with --no-gitignore.
    chunk = [RLM, "chunk", str(src), "-w", str(ws), "--no-gitignore", "-q"]
    run([*chunk, "--chunk-tokens", str(MAP_CHUNK_TOKENS)])
    chunks = len(json.loads((ws / "manifest.json").read_text())["chunks"])
    runs = sorted((map_once(ws, i) for i in range(MAP_RUNS)), key=lambda m: m["efficiency"])
    return {**runs[len(runs) // 2], "chunks": chunks, "all": [m["efficiency"] for m in runs]}


# -- 2. CLI latency ----------------------------------------------------------------------


def imports_anthropic(args: list[str], cwd: Path | None = None) -> bool:
    """Whether running the console script with args imports the anthropic SDK."""
    p = run([str(BIN / "python"), "-X", "importtime", RLM, *args], cwd=cwd)
    return any(line.split("|")[-1].strip() == "anthropic" for line in p.stderr.splitlines())


def bench_cli() -> dict:
    small = OUT / "small-input"
    small.mkdir()
    (small / "a.py").write_text("def f():\n    return 1\n")
    return {
        "python": median_time([str(BIN / "python"), "-c", "pass"], CLI_RUNS),
        "version": median_time([RLM, "--version"], CLI_RUNS),
        "help": median_time([RLM, "--help"], CLI_RUNS),
        "anthropic": {
            "--version": imports_anthropic(["--version"]),
            "--help": imports_anthropic(["--help"]),
            "chunk --help": imports_anthropic(["chunk", "--help"]),
            "chunk": imports_anthropic(
                ["chunk", str(small), "-w", str(OUT / "small-ws"), "--no-gitignore", "-q"]
            ),
        },
    }


# -- 3. chunking throughput --------------------------------------------------------------


def bench_chunk() -> dict:
    """rlm-sub chunk over site-packages, and files-to-prompt over the files rlm-sub read.

    Every run writes into a fresh workspace or output file, as a first staging does.
    """
    tree = Path(sysconfig.get_paths()["purelib"])
    ws, ws_list, f2p_out = OUT / "chunk-ws", OUT / "chunk-list-ws", OUT / "files-to-prompt.txt"
    # The venv is git-ignored, so the walk must not honour .gitignore to see anything.
    walk = [RLM, "chunk", ".", "-w", str(ws), "--no-gitignore", "-q"]
    t_walk = median_time(walk, CHUNK_RUNS, fresh=ws, cwd=tree)
    manifest = json.loads((ws / "manifest.json").read_text())
    files = [f["path"] for f in manifest["files"]]
    size = sum(f["bytes"] for f in manifest["files"])
    # The same files, named one by one, to both tools (no walk, no binary sniffing of skips).
    listed = [RLM, "chunk", *files, "-w", str(ws_list), "--no-gitignore", "-q"]
    t_list = median_time(listed, CHUNK_RUNS, fresh=ws_list, cwd=tree)
    f2p = [str(BIN / "files-to-prompt"), "--null", "-n", "-o", str(f2p_out)]
    t_f2p = median_time(f2p, CHUNK_RUNS, fresh=f2p_out, cwd=tree, input="\0".join(files))
    return {
        "tree": tree,
        "files": len(files),
        "skipped": len(manifest["skipped"]),
        "chunks": len(manifest["chunks"]),
        "mb": size / 1e6,
        "out_rlm_mb": sum(p.stat().st_size for p in (ws / "chunks").iterdir()) / 1e6,
        "out_f2p_mb": f2p_out.stat().st_size / 1e6,
        "walk": t_walk,
        "list": t_list,
        "f2p": t_f2p,
    }


# -- report ------------------------------------------------------------------------------


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    print(f"running: map scheduling ({MAP_RUNS} runs of about 20 s) ...", file=sys.stderr)
    m = bench_map()
    print("running: CLI latency ...", file=sys.stderr)
    c = bench_cli()
    print("running: chunking throughput ...", file=sys.stderr)
    k = bench_chunk()

    leaks = [cmd for cmd, imported in c["anthropic"].items() if imported]
    rows = [
        (
            f"map scheduling efficiency: ideal / span ({m['calls']} calls, -j {MAP_CONCURRENCY}, "
            f"{LATENCY:g} s latency)",
            f"{m['efficiency']:.3f} ({m['ideal']:.0f} s / {m['span']:.2f} s; "
            f"runs: {', '.join(f'{e:.3f}' for e in m['all'])})",
            ">= 0.95",
            m["efficiency"] >= 0.95,
        ),
        (
            "`rlm-sub --version`, median wall time",
            f"{c['version']:.3f} s",
            "< 0.2 s",
            c["version"] < 0.2,
        ),
        (
            "`rlm-sub --help`, median wall time",
            f"{c['help']:.3f} s",
            "< 0.2 s",
            c["help"] < 0.2,
        ),
        ("`python -c pass` (scale)", f"{c['python']:.3f} s", "-", None),
        (
            "no-call commands that import `anthropic` (--version, --help, chunk --help, chunk)",
            ", ".join(leaks) or "none",
            "none",
            not leaks,
        ),
        (
            f"`rlm-sub chunk` site-packages (walk + chunk, {k['mb']:.1f} MB in {k['files']} files)",
            f"{k['mb'] / k['walk']:.1f} MB/s ({k['walk']:.2f} s)",
            "-",
            None,
        ),
        (
            "`rlm-sub chunk` the same files named one by one",
            f"{k['mb'] / k['list']:.1f} MB/s ({k['list']:.2f} s)",
            "-",
            None,
        ),
        (
            "`files-to-prompt -n -o FILE` the same files (list on stdin)",
            f"{k['mb'] / k['f2p']:.1f} MB/s ({k['f2p']:.2f} s)",
            "-",
            None,
        ),
    ]
    print("| benchmark | measured | target | result |")
    print("| --- | --- | --- | --- |")
    for name, value, target, ok in rows:
        verdict = "info" if ok is None else ("pass" if ok else "**FAIL**")
        print(f"| {name} | {value} | {target} | {verdict} |")
    print()
    print(
        f"map: {m['chunks']} chunks, {m['calls']} requests ({m['ok']} answered 200), "
        f"max in flight {m['max_in_flight']}; span = first request start to last answer end "
        f"in the fake server's log; ideal = ceil({m['calls']}/{MAP_CONCURRENCY}) x "
        f"{LATENCY:g} s; median of {MAP_RUNS} runs; that run's whole `rlm-sub map` process "
        f"took {m['wall']:.2f} s (start-up and SDK import included)."
    )
    print(
        f"chunk: tree {k['tree']}; rlm-sub read {k['files']} text files and skipped "
        f"{k['skipped']} (binary/empty) on the walk; {k['chunks']} chunks, "
        f"{k['out_rlm_mb']:.1f} MB of chunk files; files-to-prompt wrote {k['out_f2p_mb']:.1f} MB "
        f"to one file. MB/s = text bytes read / median wall time of {CHUNK_RUNS} runs, "
        "process start-up included."
    )
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
