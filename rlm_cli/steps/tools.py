"""What a solve loop's model may touch: a confined view of the inputs, and named results.

Every path the model names is looked up in an index built once from the given inputs, so
nothing outside them can be read, whatever `..`, absolute paths or symlinks it tries. Named
results live in the loop's workspace under vars/, with names that cannot leave it.
"""

from __future__ import annotations

import fnmatch
import multiprocessing
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlm_cli import prompts
from rlm_cli.errors import RlmError
from rlm_cli.inputs.chunking import HEADER_RE, LINE_NO_RE, estimate_tokens
from rlm_cli.inputs.sources import Filters, Report, SourceFile, iter_sources
from rlm_cli.workspace import atomic_write

PEEK_MAX_LINES = 200
LIST_PAGE = 200
GREP_MAX = 100
RESULT_MAX_CHARS = 20_000  # longer tool results are cut, with a note on how to read the rest
PREVIEW_FILES = 40
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # matched in full: no trailing newline
GREP_SECONDS = 10.0  # a grep's time limit: a backtracking pattern is stopped, not waited for


class ToolError(Exception):
    """A tool call the model got wrong; its message goes back to the model as an error result."""


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 1}
_PATHS = {"type": "array", "items": {"type": "string"}, "description": "paths or globs"}
_VARS = {"type": "array", "items": {"type": "string"}, "description": "names of saved results"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "list_files": _schema({"glob": _STR, "offset": {"type": "integer", "minimum": 0}}, []),
    "peek": _schema({"path": _STR, "start": _INT, "end": _INT}, ["path", "start", "end"]),
    "grep": _schema({"pattern": _STR, "glob": _STR, "max_results": _INT}, ["pattern"]),
    "query": _schema({"task": _STR, "paths": _PATHS, "vars": _VARS}, ["task"]),
    "map": _schema(
        {"task": _STR, "paths": _PATHS, "per_file": {"type": "boolean"}, "save_as": _STR},
        ["task", "paths", "save_as"],
    ),
    "save": _schema({"name": _STR, "text": _STR}, ["name", "text"]),
    "read": _schema({"name": _STR, "start": _INT, "end": _INT}, ["name"]),
    "final": _schema({"text": _STR, "name": _STR}, []),
}


def definitions(names: list[str]) -> list[dict[str, Any]]:
    """Tool definitions for the Messages API, descriptions from prompts.py."""
    return [
        {"name": n, "description": prompts.TOOL_DESCRIPTIONS[n], "input_schema": SCHEMAS[n]}
        for n in names
    ]


def _fits(value: Any, spec: dict[str, Any]) -> bool:
    """Whether one argument has the type (and range) its schema gives."""
    kind = spec["type"]
    if kind == "string":
        return isinstance(value, str) and "\0" not in value
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and spec.get("minimum", -(2**63)) <= value <= 2**31
        )
    return isinstance(value, list) and all(_fits(v, spec["items"]) for v in value)


def check_arguments(name: str, args: Any) -> None:
    """Refuse a tool call whose arguments do not fit the tool's schema (names, types, ranges)."""
    schema = SCHEMAS.get(name)
    if schema is None:
        raise ToolError(f"no tool named {name!r}")
    if not isinstance(args, dict):
        raise ToolError(f"the arguments of {name} must be an object")
    wrong = [
        f"{key} must be {_describe(schema['properties'][key])}"
        for key, value in args.items()
        if key in schema["properties"] and not _fits(value, schema["properties"][key])
    ]
    if wrong:
        raise ToolError(f"bad arguments for {name}: " + "; ".join(wrong))
    unknown = set(args) - set(schema["properties"])
    missing = [k for k in schema["required"] if k not in args]
    if unknown or missing:
        raise ToolError(
            f"bad arguments for {name}: "
            + "; ".join(
                ([f"unknown {sorted(unknown)}"] if unknown else [])
                + ([f"missing {missing}"] if missing else [])
            )
        )


def _describe(spec: dict[str, Any]) -> str:
    if spec["type"] == "integer":
        return f"a whole number >= {spec.get('minimum', 0)}"
    if spec["type"] == "array":
        return "a list of strings"
    return {"string": "a string", "boolean": "true or false"}[spec["type"]]


def clip(text: str, hint: str) -> str:
    """Text cut to what a tool result may hold, saying how to see the rest."""
    if len(text) <= RESULT_MAX_CHARS:
        return text
    return text[:RESULT_MAX_CHARS] + f"\n[... cut at {RESULT_MAX_CHARS:,} characters; {hint}]"


@dataclass
class Index:
    """The readable text files of the inputs, by the path the model sees."""

    files: dict[str, SourceFile] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    staged: bool = False  # files are staged chunks: grep cites the sources' PATH:LINE

    @classmethod
    def build(
        cls, paths: list[str], filters: Filters | None = None, exclude: Path | None = None
    ) -> Index:
        """The inputs under paths; files inside exclude (the run's workspace) never count."""
        report = Report()
        index = cls()
        hidden = exclude.resolve() if exclude is not None else None
        for source in iter_sources(paths, filters or Filters(), report):
            if hidden is not None and Path(source.path).resolve().is_relative_to(hidden):
                continue
            index.files.setdefault(source.path, source)
        index.skipped = report.skipped
        if not index.files:
            raise RlmError(f"no input text found in {', '.join(paths)}")
        return index

    def lines(self, path: str) -> list[str]:
        source = self.files.get(path)
        if source is None:
            raise ToolError(
                f"{path!r} is not among the inputs: use a path exactly as list_files shows it"
            )
        return source.text.splitlines()

    def select(self, patterns: list[str]) -> list[SourceFile]:
        """Files named exactly or matched by globs, in index order; each pattern must match."""
        chosen: dict[str, SourceFile] = {}
        for pattern in patterns:
            hits = [p for p in self.files if p == pattern or fnmatch.fnmatchcase(p, pattern)]
            if not hits:
                raise ToolError(f"{pattern!r} matches no input file: see list_files")
            chosen.update((p, self.files[p]) for p in hits)
        return [self.files[p] for p in self.files if p in chosen]

    def overview(self) -> str:
        """What the model sees first: totals, every file with its size, a few previews."""
        total = sum(s.size for s in self.files.values())
        tokens = sum(estimate_tokens(s.text) for s in self.files.values())
        head = [
            f"{len(self.files)} files, {total:,} bytes, ~{tokens:,} tokens"
            + (f" ({len(self.skipped)} binary or unreadable files skipped)" if self.skipped else "")
        ]
        return "\n".join(head + self.listing(list(self.files), 0, previews=True))

    def listing(self, paths: list[str], offset: int, previews: bool = False) -> list[str]:
        """One row per file from offset: path, size, lines, and optionally its first line."""
        rows = []
        for n, path in enumerate(paths[offset : offset + LIST_PAGE]):
            source = self.files[path]
            row = f"{path}  {source.size:,} bytes  {source.text.count(chr(10)) + 1:,} lines"
            if previews and n < PREVIEW_FILES:
                first = next((ln.strip() for ln in source.text.splitlines() if ln.strip()), "")
                row += f"  | {first[:80]}"
            rows.append(row)
        if len(paths) > offset + LIST_PAGE:
            rows.append(
                f"... {len(paths) - offset - LIST_PAGE} more: list_files offset={offset + LIST_PAGE}"
            )
        return rows


class Toolbox:
    """The tools that read the inputs and keep named results; no model calls here."""

    def __init__(self, index: Index, vars_dir: Path, grep_seconds: float = GREP_SECONDS) -> None:
        self.index = index
        self.vars_dir = vars_dir
        self.grep_seconds = grep_seconds

    def list_files(self, glob: str = "*", offset: int = 0) -> str:
        paths = [p for p in self.index.files if fnmatch.fnmatchcase(p, glob)]
        if not paths:
            raise ToolError(f"no input file matches {glob!r}")
        return "\n".join([f"{len(paths)} files match {glob!r}", *self.index.listing(paths, offset)])

    def peek(self, path: str, start: int, end: int) -> str:
        lines = self.index.lines(path)
        if start > len(lines):
            raise ToolError(f"{path} has {len(lines)} lines; start {start} is past its end")
        if end < start:
            raise ToolError(f"end {end} is before start {start}")
        end = min(end, len(lines), start + PEEK_MAX_LINES - 1)
        body = "\n".join(f"{n}\t{lines[n - 1]}" for n in range(start, end + 1))
        return clip(f"==> {path} [lines {start}-{end} of {len(lines)}] <==\n{body}", "peek less")

    def grep(self, pattern: str, glob: str = "*", max_results: int = GREP_MAX) -> str:
        """Matching lines; the match runs in a child process, stopped at the time limit."""
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ToolError(f"bad regular expression {pattern!r}: {e}") from None
        files = [(p, s.text) for p, s in self.index.files.items() if fnmatch.fnmatchcase(p, glob)]
        limit = min(max_results, GREP_MAX)
        found = run_limited(_grep, (regex, files, limit, self.index.staged), self.grep_seconds)
        if found is None:
            raise ToolError(
                f"grep {pattern!r} ran past its time limit of {self.grep_seconds:g}s (a pattern "
                "that backtracks, like (a+)+): use a simpler pattern or a narrower glob"
            )
        hits, total = found
        more = f"\n... {total - len(hits)} more matches" if total > len(hits) else ""
        return clip(f"{total} matches\n" + "\n".join(hits) + more, "narrow the pattern or glob")

    def var_path(self, name: str) -> Path:
        if not NAME_RE.fullmatch(name):
            raise ToolError(f"bad name {name!r}: use letters, digits, '_', '-' or '.' (max 64)")
        return self.vars_dir / f"{name}.md"

    def save(self, name: str, text: str) -> str:
        atomic_write(self.var_path(name), text)
        return f"saved {len(text):,} characters as {name!r}"

    def load(self, name: str) -> str:
        path = self.var_path(name)
        if not path.exists():
            saved = sorted(p.stem for p in self.vars_dir.glob("*.md"))
            raise ToolError(f"no saved result {name!r}; saved so far: {', '.join(saved) or 'none'}")
        return path.read_text(encoding="utf-8")

    def read(self, name: str, start: int = 1, end: int | None = None) -> str:
        lines = self.load(name).splitlines()
        end = min(end or len(lines), len(lines))
        body = "\n".join(lines[start - 1 : end])
        return clip(f"[{name}: lines {start}-{end} of {len(lines)}]\n{body}", "read a range")


def _grep(
    regex: re.Pattern[str], files: list[tuple[str, str]], limit: int, staged: bool = False
) -> tuple[list[str], int]:
    """Matching lines as PATH:LINE: text; in staged chunks, the source's path and line."""
    hits, total = [], 0
    for path, text in files:
        source = path
        for n, line in enumerate(text.splitlines(), 1):
            cite, body = f"{path}:{n}", line
            if staged:
                if head := HEADER_RE.match(line):
                    source = head["path"]
                    continue
                if number := LINE_NO_RE.match(line):
                    cite, body = f"{source}:{number.group(1)}", line[number.end() :]
            if regex.search(body):
                total += 1
                if len(hits) < limit:
                    hits.append(f"{cite}: {body.strip()[:200]}")
    return hits, total


def run_limited(work: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> Any | None:
    """work(*args) in a forked child process; None when it has not finished within seconds.

    Python cannot stop a regular expression match once it runs, so the match runs where it
    can be killed. The child shares the parent's memory (fork), so the inputs are not copied.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_send, args=(send, work, args), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            return None
        return receive.recv()
    except EOFError:
        raise ToolError("grep stopped without an answer (out of memory?)") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def _send(pipe: Any, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
    pipe.send(work(*args))
    pipe.close()
