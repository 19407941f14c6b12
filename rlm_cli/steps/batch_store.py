"""batches.json: what a --batch map submitted, saved before any wait so nothing is lost."""

from __future__ import annotations

from typing import Any

from rlm_cli.errors import RlmError
from rlm_cli.workspace import Workspace, check_id, read_json, write_json

VERSION = 1


class Store:
    """batches.json: the batches of one map task, with what each request is for."""

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.root / "batches.json"
        self.data: dict[str, Any] = read_json(self.path) or {}
        if self.data and self.data.get("version") != VERSION:
            raise RlmError(
                f"{self.path} was written by another rlm-sub version: fetch its batches with "
                "that version, or delete the file to abandon them"
            )
        for batch in self.batches:
            for request in batch.get("requests") or []:
                check_id(request.get("id"), self.path)
                check_id(request.get("custom_id"), self.path)

    @property
    def batches(self) -> list[dict[str, Any]]:
        return self.data.get("batches", [])

    def pending(self) -> list[dict[str, Any]]:
        """Batches whose results have not been fetched yet."""
        return [b for b in self.batches if b["status"] != "fetched"]

    def start(self, identity: dict[str, Any]) -> None:
        """Make this file hold batches for identity; refuse while another task's are unfinished."""
        if self.data and {k: self.data.get(k) for k in identity} == identity:
            return
        if self.pending():
            raise RlmError(
                f"{self.path} holds {len(self.pending())} unfinished batch(es) for another task "
                f"or model ({self.data.get('task', '?')[:60]!r}, {self.data.get('model')}): "
                f"finish them with `rlm-sub map --resume-batch -w {self.path.parent}`, or delete "
                "the file to abandon them (they are billed either way)"
            )
        self.data = {"version": VERSION, **identity, "batches": []}

    def save(self) -> None:
        write_json(self.path, self.data)


def saved_task(ws: Workspace, task: str | None) -> tuple[str, str, int]:
    """The task, model and max_tokens of the batches saved in a workspace, for --resume-batch.

    task, when the command line gives one, must be the saved one.
    """
    store = Store(ws)
    if not store.batches:
        raise RlmError(
            f"no saved batches in {ws.root} (no batches.json): submit them with "
            f"`rlm-sub map PROMPT --batch -w {ws.root}`"
        )
    if task is not None and task != store.data["task"]:
        raise RlmError(
            f"the saved batches in {store.path} are for another prompt: leave PROMPT out to "
            "resume them, or use --batch to submit this one"
        )
    return store.data["task"], store.data["model"], store.data["max_tokens"]
