"""What an answer does not cover because staging skipped it, said by code in every answer."""

from __future__ import annotations

from typing import Any

NOTE_LIMIT = 50  # skipped files named in the answer itself; --json and manifest.json list all


def skipped_inputs(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """Files the run found but did not read (too large, binary, unreadable, links...).

    Empty files are left out: they hold nothing to cover.
    """
    return [s for s in manifest.get("skipped", []) if s.get("reason") != "empty"]


def skipped_footer(skipped: list[dict[str, str]]) -> str:
    """A note naming the input files no sub-agent read, with the reason for each."""
    lines = [f"- {s['path']}: {s['reason']}" for s in skipped[:NOTE_LIMIT]]
    if len(skipped) > NOTE_LIMIT:
        lines.append(f"- ... and {len(skipped) - NOTE_LIMIT} more (listed in manifest.json)")
    return (
        f"\n\n---\nNote: {len(skipped)} input file(s) were not read, so this answer does not "
        "cover them:\n" + "\n".join(lines) + "\n"
    )
