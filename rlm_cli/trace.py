"""The call log: one JSON line per model call, appended safely by concurrent processes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def append_trace(path: Path, record: dict[str, Any]) -> None:
    """Append one line with a single O_APPEND write, so concurrent writers never interleave."""
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Every complete record in the trace; a torn last line (from a kill) is ignored."""
    records = []
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        return []
    return records
