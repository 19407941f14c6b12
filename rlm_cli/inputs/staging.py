"""Staging: list inputs, pack them into chunks, write chunk files and manifest.json.

Large inputs are packed in segments, several at once in forked processes. Segments end at
file boundaries and their size follows from the inputs' total size alone (an eighth of it,
within SEGMENT_BYTES), so the same inputs always give the same chunks, whatever the number
of processes, and up to 4 processes get even shares. Inputs under 4 MiB are one segment.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli.errors import RlmError
from rlm_cli.inputs.chunking import MIN_CHUNK_TOKENS, pack
from rlm_cli.inputs.forked import in_processes, process_count
from rlm_cli.inputs.sources import (
    Entry,
    Filters,
    Report,
    SourceFile,
    iter_entries,
    read_entry,
    release,
)
from rlm_cli.progress import plural
from rlm_cli.workspace import MANIFEST_VERSION, Workspace, atomic_write, sha256, write_temp

# A segment's smallest and largest target size. Each seam between segments can leave one
# partly filled chunk (one more call to pay for), so small inputs are not cut at all.
SEGMENT_BYTES = (4 << 20, 8 << 20)
SEGMENTS = 8  # inputs of 32 MiB to 64 MiB are cut into about this many segments


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
    processes: int = 1


@dataclass
class Packed:
    """One segment packed: its files' manifest entries, its chunks, and what it skipped."""

    files: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


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
    segments = _segments(list(_unique(iter_entries(paths, filters, report))))
    # stdin and pipes are read once, in order, by this process
    streams = any(not e.regular for segment in segments for e in segment)
    processes = 1 if streams else min(process_count(), len(segments))
    workspace.chunks_dir.mkdir(parents=True, exist_ok=True)
    if processes == 1:
        chunks: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        for k, segment in enumerate(segments):
            write = _final_files(workspace, len(chunks))
            packed = _pack_entries(segment, settings, write, filters.spool_dir)
            segments[k] = []  # its entries are not needed again
            files += packed.files
            chunks += packed.chunks
            report.skipped += packed.skipped
    else:
        files, chunks = _stage_in_processes(workspace, segments, settings, report, processes)
    manifest = write_manifest(workspace, paths, settings, report, files, chunks)
    summary = StageSummary(
        files=len(files),
        bytes=sum(f["bytes"] for f in files),
        tokens=sum(c["tokens"] for c in chunks),
        chunks=len(chunks),
        skipped=len(report.skipped),
        excluded=sum(report.excluded.values()),
        seconds=time.monotonic() - started,
        processes=processes,
    )
    return manifest, summary


def _segments(entries: list[Entry]) -> list[list[Entry]]:
    """The entries in runs of about an eighth of their size, each ending at a file boundary."""
    low, high = SEGMENT_BYTES
    target = min(max(sum(e.size for e in entries) // SEGMENTS, low), high)
    segments: list[list[Entry]] = [[]]
    size = 0
    for entry in entries:
        if size >= target:
            segments.append([])
            size = 0
        segments[-1].append(entry)
        size += entry.size
    return segments


def _stage_in_processes(
    workspace: Workspace,
    segments: list[list[Entry]],
    settings: dict[str, Any],
    report: Report,
    processes: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pack segments in parallel into temporary chunk files, then number them in order."""
    owner = os.getpid()  # renames the children's files after they have exited

    def work(k: int) -> Packed:
        write = _temp_files(workspace, f"s{k:05d}", owner)
        return _pack_entries(segments[k], settings, write, None)

    done = in_processes(range(len(segments)), processes, work)
    files: list[dict[str, Any]] = []
    chunks: list[dict[str, Any]] = []
    folder = os.fspath(workspace.chunks_dir)  # names made here: no Path objects per chunk
    for k in range(len(segments)):
        packed = done.pop(k)
        for chunk in packed.chunks:
            chunk_id = _chunk_id(len(chunks))
            os.replace(f"{folder}/{chunk['id']}", f"{folder}/{chunk_id}.txt")
            chunks.append({**chunk, "id": chunk_id})
        files += packed.files
        report.skipped += packed.skipped
    return files, chunks


def _chunk_id(index: int) -> str:
    return f"c{index + 1:04d}"


def _final_files(workspace: Workspace, first: int = 0) -> Callable[[int, bytes], str]:
    """A chunk writer: each chunk under its final name, numbered on from index first."""

    def write(index: int, data: bytes) -> str:
        chunk_id = _chunk_id(first + index)
        atomic_write(workspace.chunk_path(chunk_id), data, durable=False)
        return chunk_id

    return write


def _temp_files(workspace: Workspace, prefix: str, owner: int) -> Callable[[int, bytes], str]:
    """A chunk writer for a parallel segment: temporary files, renamed once all are numbered.

    They carry the pid of owner (the parent, which renames them), not of the child that
    wrote them: another rlm-sub opening the workspace once the child has exited would
    otherwise delete them as a dead writer's leftovers before the parent renames them.
    """
    return lambda index, data: (
        write_temp(workspace.chunks_dir / f"{prefix}-{index}", data, False, owner).name
    )


def _pack_entries(
    entries: list[Entry],
    settings: dict[str, Any],
    write: Callable[[int, bytes], str],
    spool_dir: Path | None,
) -> Packed:
    """Read and pack one segment's entries, each chunk stored by write (see pack_sources)."""
    report = Report()
    sources = (s for e in entries if (s := read_entry(e, report, spool_dir)) is not None)
    packed = pack_sources(sources, settings, write)
    packed.skipped = report.skipped
    return packed


def pack_sources(
    sources: Iterable[SourceFile], settings: dict[str, Any], write: Callable[[int, bytes], str]
) -> Packed:
    """Pack sources into chunks, each stored by write(index, data), which returns its id.

    Chunk files are written without fsync: they are cheap to stage again.
    """
    packed = Packed()

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
            packed.files.append(entry)

    chunks = pack(recorded(sources), settings["chunk_tokens"], settings["per_file"])
    for index, chunk in enumerate(chunks):
        chunk_id = write(index, chunk.data)
        packed.chunks.append(
            {"id": chunk_id, "tokens": chunk.tokens, "hash": sha256(chunk.data),
             "sources": chunk.sources}
        )  # fmt: skip
    return packed


def stage_sources(
    workspace: Workspace,
    sources: Iterable[SourceFile],
    inputs: list[str],
    settings: dict[str, Any],
    report: Report,
) -> dict[str, Any]:
    """Pack sources already read into chunk files and write the manifest."""
    workspace.chunks_dir.mkdir(parents=True, exist_ok=True)
    packed = pack_sources(sources, settings, _final_files(workspace))
    return write_manifest(workspace, inputs, settings, report, packed.files, packed.chunks)


def write_manifest(
    workspace: Workspace,
    inputs: list[str],
    settings: dict[str, Any],
    report: Report,
    files: list[dict[str, Any]],
    chunks: list[dict[str, Any]],
) -> dict[str, Any]:
    """Remove chunk files of an earlier staging and write manifest.json (refused if empty)."""
    if not chunks:
        raise RlmError(_nothing_found(inputs, report))
    keep = {f"{c['id']}.txt" for c in chunks}
    for name in os.listdir(workspace.chunks_dir):
        if name.endswith(".txt") and name not in keep:
            (workspace.chunks_dir / name).unlink()
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


def _unique(entries: Iterable[Entry]) -> Iterator[Entry]:
    """Drop a file named twice (say, a directory and a file inside it)."""
    seen: set[str] = set()
    for e in entries:
        if e.name not in seen:
            seen.add(e.name)
            yield e


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
