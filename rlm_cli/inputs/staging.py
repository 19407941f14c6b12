"""Staging: walk inputs, pack them into chunks, write chunk files and manifest.json."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from rlm_cli.errors import RlmError
from rlm_cli.inputs.chunking import MIN_CHUNK_TOKENS, pack
from rlm_cli.inputs.sources import Filters, Report, SourceFile, iter_sources, release
from rlm_cli.progress import plural
from rlm_cli.workspace import MANIFEST_VERSION, Workspace, atomic_write, sha256

WRITERS = 4  # threads writing chunk files
READ_AHEAD = 16  # files read ahead of the packer (each at most 4 MiB held whole)
MAX_PENDING_WRITES = 32


@dataclass
class StageSummary:
    """Figures for the one-line summary printed after staging."""

    files: int
    bytes: int
    tokens: int
    chunks: int
    skipped: int
    excluded: int
    seconds: float


def stage(
    workspace: Workspace,
    paths: list[str],
    filters: Filters,
    chunk_tokens: int,
    per_file: bool = False,
) -> tuple[dict[str, Any], StageSummary]:
    """Stage inputs into the workspace; returns the manifest written and a summary."""
    if chunk_tokens < MIN_CHUNK_TOKENS:
        raise RlmError(f"--chunk-tokens must be at least {MIN_CHUNK_TOKENS} (got {chunk_tokens})")
    started = time.monotonic()
    report = Report()
    filters.skip_paths.add(workspace.root.resolve())
    filters.spool_dir = workspace.root
    settings = {
        "chunk_tokens": chunk_tokens,
        "per_file": per_file,
        "include": filters.include,
        "exclude": filters.exclude,
        "gitignore": filters.gitignore,
        "max_file_bytes": filters.max_file_bytes,
    }
    sources = _read_ahead(_unique(iter_sources(paths, filters, report)))
    manifest = stage_sources(workspace, sources, paths, settings, report)
    files, chunks = manifest["files"], manifest["chunks"]
    summary = StageSummary(
        files=len(files),
        bytes=sum(f["bytes"] for f in files),
        tokens=sum(c["tokens"] for c in chunks),
        chunks=len(chunks),
        skipped=len(report.skipped),
        excluded=sum(report.excluded.values()),
        seconds=time.monotonic() - started,
    )
    return manifest, summary


def stage_sources(
    workspace: Workspace,
    sources: Iterable[SourceFile],
    inputs: list[str],
    settings: dict[str, Any],
    report: Report,
) -> dict[str, Any]:
    """Pack sources into chunk files and write the manifest; settings hold the chunk budget."""
    files: list[dict[str, Any]] = []

    def recorded(sources: Iterable[SourceFile]) -> Iterator[SourceFile]:
        for s in sources:
            entry: dict[str, Any] = {"path": s.path, "bytes": s.size}
            if s.raw:
                entry["raw_path_hex"] = s.raw
            try:
                yield s  # packed (a streamed file read through) before the loop resumes
            finally:
                release(s)
            if s.note:
                entry["note"] = s.note
            files.append(entry)

    workspace.chunks_dir.mkdir(parents=True, exist_ok=True)
    chunks = []
    pending: deque[tuple[dict[str, Any], Future[str]]] = deque()
    with ThreadPoolExecutor(WRITERS) as pool:  # file creation waits; the packer does not
        for chunk in pack(recorded(sources), settings["chunk_tokens"], settings["per_file"]):
            entry = {"id": chunk.id, "tokens": chunk.tokens, "hash": "", "sources": chunk.sources}
            chunks.append(entry)
            pending.append((entry, pool.submit(_write, workspace.chunk_path(chunk.id), chunk.data)))
            while len(pending) > MAX_PENDING_WRITES:  # at most this many chunks held in memory
                done, future = pending.popleft()
                done["hash"] = future.result()
        for done, future in pending:
            done["hash"] = future.result()
    if not chunks:
        raise RlmError(_nothing_found(inputs, report))
    keep = {f"{c['id']}.txt" for c in chunks}
    for stale in workspace.chunks_dir.glob("*.txt"):
        if stale.name not in keep:
            stale.unlink()
    manifest = {
        "version": MANIFEST_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": inputs,
        "settings": settings,
        "files": files,
        "skipped": report.skipped,
        "excluded": dict(report.excluded),
        "chunks": chunks,
    }
    # Compact JSON: the C encoder, so a manifest of 100,000 chunks is written in a blink.
    atomic_write(workspace.manifest_path, json.dumps(manifest, ensure_ascii=False) + "\n")
    return manifest


def _write(path: Path, data: bytes) -> str:
    """Write one chunk file (no fsync: chunks are cheap to restage) and return its hash."""
    atomic_write(path, data, durable=False)
    return sha256(data)


def _read_ahead(sources: Iterator[SourceFile]) -> Iterator[SourceFile]:
    """The sources, read by a thread up to READ_AHEAD files ahead of the packer.

    Opening and reading files waits on the system, and the packer works meanwhile. Skips
    and exclusions are still recorded in the walk's own order, by that one thread. If
    the packer stops early (an error, Ctrl-C), it does not wait for the reader, which may
    be blocked on a pipe: the reader stops after its current file, and whichever side
    takes a file left in the queue deletes its spool copy.
    """
    queue: Queue[tuple[SourceFile | None, BaseException | None]] = Queue(READ_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for source in sources:
                if stop.is_set():
                    release(source)
                    return
                queue.put((source, None))
                if stop.is_set():  # the packer left while this was being put
                    _drop(queue)
                    return
            queue.put((None, None))
        except BaseException as e:  # handed to the packer's thread, which raises it
            queue.put((None, e))

    threading.Thread(target=produce, name="rlm-read-ahead", daemon=True).start()
    try:
        while True:
            source, error = queue.get()
            if error is not None:
                raise error
            if source is None:
                return
            yield source
    finally:
        stop.set()
        _drop(queue)


def _drop(queue: Queue[tuple[SourceFile | None, BaseException | None]]) -> None:
    """Empty the queue without waiting, deleting the spool copies of unread pipes."""
    while True:
        try:
            source, _ = queue.get_nowait()
        except Empty:
            return
        if source is not None:
            release(source)


def _unique(sources):
    """Drop a file named twice (say, a directory and a file inside it)."""
    seen: set[str] = set()
    for s in sources:
        if s.path not in seen:
            seen.add(s.path)
            yield s


def _nothing_found(paths: list[str], report: Report) -> str:
    """An error message that explains why no input text was found."""
    parts = [f"no input text found in {', '.join(paths)}"]
    if report.skipped:
        reasons: dict[str, int] = {}
        for s in report.skipped:
            key = s["reason"].split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
        parts.append("skipped: " + ", ".join(f"{n} {r}" for r, n in reasons.items()))
    if report.excluded:
        parts.append(
            "excluded: "
            + ", ".join(f"{plural(n, 'file')} ({r})" for r, n in report.excluded.items())
        )
    if report.excluded.get(".gitignore"):
        parts.append("use --no-gitignore to include ignored files")
    return "; ".join(parts)
