"""Commands that look at a workspace (status, trace, report) or install the skill: no model call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rlm_cli.cli.failures import cli_errors
from rlm_cli.cli.options import run_option, workspace_option


@click.command()
@workspace_option(required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@cli_errors
def status(workspace: Path, as_json: bool) -> None:
    """Show a workspace's chunks and results, and what its whole recursion tree spent.

    Calls, tokens and dollars come from the workspace's trace.jsonl, where every process of
    the tree (sub-agents that ran rlm-sub themselves included) books its calls, broken down
    by depth and by model. Works while a run is going (calls in flight) and after it.

    \b
    Examples:
      rlm-sub status -w .rlm/repo
      rlm-sub status -w .rlm/repo --json | jq .calls.cost_usd
    """
    import json

    from rlm_cli.observe.status import gather, render
    from rlm_cli.workspace import Workspace

    info = gather(Workspace(workspace))
    click.echo(json.dumps(info, indent=2) if as_json else render(info))


@click.command(name="trace")
@workspace_option(required=True)
@run_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Siblings shown per node; the rest are summed up in one line per kind.",
)
@click.option(
    "--slowest",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many of the slowest calls to list.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the runs' calls as one JSON object (id, kind, depth, parent, status, ...).",
)
@cli_errors
def trace_command(workspace: Path, run_id: str, limit: int, slowest: int, as_json: bool) -> None:
    """Draw the call tree of a workspace's run, with totals, the slowest and the failed calls.

    Reads trace.jsonl, where every process of the recursion tree booked its model calls.
    Each call sits under the call it was made for (a solve turn, or the sub-agent whose
    rlm-sub made it), with the tools a solve turn ran listed under the turn. Below the tree:
    calls, failures, tokens and dollars per depth, the slowest calls, and every failed call
    with its error. Makes no model call; works during a run too.

    \b
    Examples:
      rlm-sub trace -w .rlm/repo
      rlm-sub trace -w .rlm/repo --run all --limit 5
      rlm-sub trace -w .rlm/repo | less -R
      rlm-sub trace -w .rlm/repo --run all --json | jq '[.runs[].calls[].cost] | add'
    """
    from rlm_cli.observe.trace import load
    from rlm_cli.observe.trace_view import render
    from rlm_cli.workspace import Workspace

    ws = Workspace(workspace)
    runs = load(ws, run_id)
    if as_json:
        import json

        keep = ("call", "id", "kind", "depth", "parent", "model", "start", "end", "status")
        keep += ("attempts", "tokens", "cost", "error")
        listing = [{"run": r.run, "calls": [{k: getattr(c, k) for k in keep} for c in r.calls]}
                   for r in runs]  # fmt: skip
        click.echo(json.dumps({"workspace": str(workspace), "runs": listing}, indent=2))
    else:
        render(runs, limit, slowest)
    hint_other_runs(ws, run_id)


def hint_other_runs(ws: Any, run_id: str) -> None:
    """After showing the latest run only, say on stderr that earlier runs exist."""
    if run_id != "latest":
        return
    from rlm_cli.observe.trace import read_events, run_ids

    runs = run_ids(read_events(ws.trace_path))
    if len(runs) > 1:
        click.echo(
            f"(this is the latest of {len(runs)} runs in {ws.root}, e.g. a map and a reduce "
            "run one by one: --run all shows them all)",
            err=True,
        )


@click.command()
@workspace_option(required=True)
@run_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML file [default: DIR/report.html].",
)
@cli_errors
def report(workspace: Path, run_id: str, output: Path | None) -> None:
    """Write one self-contained HTML file about a run: call tree, timeline, costs, answer.

    The file has everything inline (no network fetch of any kind): the call tree with a
    link from each call to its result file, a timeline with one bar per call (colour by
    status, retried calls marked), tokens and dollars by depth and by model, the failed
    and slowest calls, and final.md. Links are relative to where the report is written,
    so keep it inside the workspace to move both together. Prints the file's path.

    \b
    Examples:
      rlm-sub report -w .rlm/repo                  # .rlm/repo/report.html
      rlm-sub report -w .rlm/repo -o review.html --run all
    """
    from rlm_cli.observe.report import write_report
    from rlm_cli.observe.trace import load
    from rlm_cli.workspace import Workspace

    ws = Workspace(workspace)
    path = output or ws.root / "report.html"
    write_report(ws, load(ws, run_id), path)
    click.echo(str(path))
    hint_other_runs(ws, run_id)


AGENTS = ("claude", "agents", "codex", "gemini", "copilot", "cursor")


@click.command(name="install-skill")
@click.option(
    "--agent",
    type=click.Choice(AGENTS),
    default="claude",
    show_default=True,
    help="Whose skills folder: Claude Code, the shared .agents/skills, Codex, Gemini CLI, "
    "GitHub Copilot or Cursor.",
)
@click.option(
    "--project",
    is_flag=True,
    help="Install into the project's skills folder (e.g. ./.claude/skills/rlm, to commit "
    "with a repo) instead of the user's (~/.claude/skills/rlm).",
)
@click.option(
    "--dir",
    "skills_dir",
    metavar="PATH",
    type=click.Path(file_okay=False, path_type=Path),
    help="Install into PATH/rlm: the skills folder of any other agent.",
)
@click.option("--force", is_flag=True, help="Overwrite files that were edited since installed.")
@cli_errors
def install_skill(agent: str, project: bool, skills_dir: Path | None, force: bool) -> None:
    """Install the rlm Agent Skill so a coding agent can use rlm-sub.

    Copies SKILL.md, its reference files (skill/) and the driver scripts (scripts/) into a
    folder named rlm in a skills folder, and prints the folder's path. Running it again
    updates the skill; files edited since the last install are kept unless --force, and
    only files still as rlm-sub wrote them are ever removed. The drivers run the rlm-sub
    that installed them when none is on PATH.

    \b
    Folders (user scope; with --project, under the current directory):
      claude   ~/.claude/skills     (.claude/skills)
      agents   ~/.agents/skills     (.agents/skills)   the shared folder
      codex    ~/.codex/skills      (.agents/skills)
      gemini   ~/.gemini/skills     (.gemini/skills)
      copilot  ~/.copilot/skills    (.github/skills)
      cursor   ~/.cursor/skills     (.cursor/skills)

    \b
    Examples:
      rlm-sub install-skill                      # ~/.claude/skills/rlm, for every project
      rlm-sub install-skill --project            # ./.claude/skills/rlm, to commit with a repo
      rlm-sub install-skill --agent codex        # ~/.codex/skills/rlm
      rlm-sub install-skill --agent copilot --project   # ./.github/skills/rlm
      rlm-sub install-skill --dir ~/my-agent/skills
    """
    from rlm_cli.cli.install_skill import install_command

    click.echo(install_command(agent, project, skills_dir, force))
