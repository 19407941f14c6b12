"""Tree synthesis: group answers within the token budget, combine each group, repeat until one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlm_cli import prompts
from rlm_cli.calls.context import Context
from rlm_cli.calls.pricing import add_cost, round_cost
from rlm_cli.calls.runner import Job, Runner, Settings, cached, job_key, tally
from rlm_cli.calls.windows import reduce_budget
from rlm_cli.errors import EXIT_BUDGET, EXIT_PARTIAL, RlmError
from rlm_cli.inputs.chunking import estimate_tokens
from rlm_cli.progress import plural, usage_line
from rlm_cli.steps.coverage import skipped_footer, skipped_inputs
from rlm_cli.steps.cut import SynthesisCut, redo_smaller, was_cut
from rlm_cli.steps.evidence import check_answer, cite, footer, merge
from rlm_cli.steps.jobs import last_map, map_jobs
from rlm_cli.workspace import Workspace, atomic_write, read_json, sha256, write_json

EVIDENCE_SHOWN = 8  # checked findings shown to a synthesis per answer, beyond those in its text


@dataclass
class Item:
    """One answer on its way up the tree: where it came from and what it says."""

    label: str
    text: str
    parts: int = 1  # how many input parts this answer covers
    evidence: list[dict[str, Any]] = field(default_factory=list)  # checked findings behind it
    status: str = "checked"  # or "unverified" (no checkable quote), "empty" (says nothing)
    rejected: int = 0  # quotes dropped from it because they are not in its part


@dataclass
class ReduceSummary:
    """What the synthesis did, level by level."""

    levels: list[dict[str, int]] = field(default_factory=list)
    dropped_irrelevant: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = 0.0  # None: some call's model has no known price
    text: str = ""
    exit_code: int = 0
    answers: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # input files not read
    evidence: list[dict[str, Any]] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data, for --json."""
        return {
            "answers": self.answers,
            "levels": self.levels,
            "calls": sum(level["calls"] for level in self.levels),
            "dropped_irrelevant": self.dropped_irrelevant,
            "not_covered": self.missing,
            "skipped_inputs": self.skipped,
            "evidence": self.evidence,
            "unverified": self.unverified,
            "rejected_quotes": self.rejected,
            "usage": self.usage,
            "cost_usd": round_cost(self.cost),
        }


def render_item(item: Item) -> str:
    """An answer as a synthesis sees it: marked when unverified, with checked findings it lacks."""
    label = item.label + (prompts.UNVERIFIED_MARK if item.status == "unverified" else "")
    text = item.text.strip()
    missing = [f for f in item.evidence if f["quote"] not in text]
    if missing:
        lines = [f"- {cite(f)}" for f in missing[:EVIDENCE_SHOWN]]
        if len(missing) > EVIDENCE_SHOWN:
            lines.append(f"- ... {len(missing) - EVIDENCE_SHOWN} more, kept by rlm-sub")
        text += "\n" + prompts.EVIDENCE_HEADING + "\n" + "\n".join(lines)
    return prompts.REDUCE_USER_ITEM.format(label=label, text=text)


def group_items(items: list[Item], budget: int) -> list[list[Item]]:
    """Greedy consecutive groups whose rendered size stays within budget tokens."""
    groups: list[list[Item]] = []
    current: list[Item] = []
    used = 0
    for item in items:
        size = estimate_tokens(render_item(item)) + 2
        if current and used + size > budget:
            groups.append(current)
            current, used = [], 0
        current.append(item)
        used += size
    if current:
        groups.append(current)
    return groups


def said_nothing(text: str) -> bool:
    """Whether an answer says its part held nothing relevant (code decides, not the model)."""
    return text.strip() == prompts.NOTHING_RELEVANT


def relevant(items: list[Item]) -> tuple[list[Item], int]:
    """Drop answers that say the part held nothing relevant (or nothing at all)."""
    kept = [i for i in items if i.status != "empty" and not said_nothing(i.text)]
    return kept, len(items) - len(kept)


async def synthesize(
    runner: Runner,
    ws: Workspace,
    task: str,
    items: list[Item],
    budget: int,
    total_parts: int,
    on_level=None,
) -> tuple[str, ReduceSummary]:
    """Combine items level by level into one answer; a failed group stops with exit 3."""
    summary = ReduceSummary()
    items, summary.dropped_irrelevant = relevant(items)
    if not items:
        return (
            f"No part of the input bears on the task ({total_parts} parts examined, "
            "none with a finding or an answer beyond NOTHING RELEVANT).\n",
            summary,
        )
    settings = runner.settings
    halves_system = prompts.REDUCE_SYSTEM.format(task=task, closing=prompts.REDUCE_INTERMEDIATE)
    level = 0
    while len(items) > 1:
        level += 1
        groups = group_items(items, budget)
        if len(groups) == len(items):
            raise RlmError(
                f"answers are too large to combine within the {budget}-token reduce budget "
                "(each group would hold one answer): raise --reduce-tokens or lower --max-output"
            )
        final = len(groups) == 1
        system = prompts.REDUCE_SYSTEM.format(
            task=task, closing=prompts.REDUCE_FINAL if final else prompts.REDUCE_INTERMEDIATE
        )
        jobs = [
            _group_job(ws, level, n, group, system, settings, total_parts)
            for n, group in enumerate(groups, 1)
        ]
        calls = [j for j in jobs if j is not None and (not (c := cached(j)) or was_cut(c))]
        if on_level:
            on_level(level, len(calls))
        outcomes = {o.job.id: o for o in await runner.run(calls)}
        if runner.stopped:
            raise RlmError(
                f"budget reached at synthesis level {level}: {runner.stopped}. Raise the limit "
                "and re-run; finished work is cached",
                EXIT_BUDGET,
            )
        failed = [o for o in outcomes.values() if o.status == "failed"]
        if failed:
            raise RlmError(
                f"{len(failed)} synthesis call(s) failed at level {level} "
                f"({failed[0].record.get('error')}); re-run to retry them, finished work is cached",
                EXIT_PARTIAL,
            )
        next_items = []
        redone = []
        for n, (job, group) in enumerate(zip(jobs, groups, strict=True), 1):
            if job is None:
                next_items.append(group[0])
                continue
            outcome = outcomes.get(job.id) or cached(job)
            evidence = merge([i.evidence for i in group])
            if was_cut(outcome):
                smaller, ran = await redo_smaller(
                    runner,
                    group,
                    lambda half, tag, n=n, level=level: _tagged(
                        _group_job(ws, level, n, half, halves_system, settings, total_parts), tag
                    ),
                    lambda half, text, level=level: Item(
                        _group_label(level, half),
                        text,
                        _parts(half),
                        merge([i.evidence for i in half]),
                        "synthesis",
                    ),
                )
                next_items += smaller
                redone += ran
                continue
            write_json(
                ws.evidence_dir / f"{job.id}.json",
                {"inputs": job.meta["inputs"], "findings": evidence},
            )
            next_items.append(
                Item(_group_label(level, group), outcome.text, _parts(group), evidence, "synthesis")
            )
        usage, dollars = tally([*outcomes.values(), *redone])
        for k, v in usage.items():
            summary.usage[k] = summary.usage.get(k, 0) + v
        summary.cost = add_cost(summary.cost, dollars)
        summary.levels.append({"level": level, "groups": len(groups), "calls": len(calls)})
        items = next_items
    summary.evidence = items[0].evidence
    return items[0].text, summary


def _parts(group: list[Item]) -> int:
    return sum(i.parts for i in group)


def _tagged(job: Job | None, tag: str) -> Job | None:
    """A half of a cut group's job: its own id and slot beside the group's."""
    if job is not None and job.slot is not None:
        job.id, job.slot = job.id + tag, job.slot.with_name(job.slot.name + tag)
    return job


def _group_label(level: int, group: list[Item]) -> str:
    return f"L{level}: {group[0].label.split(' ')[0]}..{group[-1].label.split(' ')[0]}"


def _group_job(
    ws: Workspace,
    level: int,
    n: int,
    group: list[Item],
    system: str,
    settings: Settings,
    total: int,
) -> Job | None:
    """A synthesis job for a group; None for a group of one, which passes up unchanged.

    Its request text is rendered when the job runs (and once here, for its key), so a
    level's jobs never hold a second copy of every answer.
    """
    if len(group) == 1:
        return None
    covered = sum(i.parts for i in group)
    coverage = (
        "all parts of the input"
        if covered >= total
        else f"{covered} of the {total} parts of the input"
    )
    tail = prompts.REDUCE_USER_TAIL.format(count=len(group), coverage=coverage)

    def material() -> str:
        return "\n\n".join(render_item(i) for i in group) + "\n\n" + tail

    gid = f"L{level}-g{n:04d}"
    return Job(
        id=gid,
        kind="reduce",
        system=system,
        material=material,
        render=lambda text: text,
        slot=ws.reduce_dir / f"L{level}" / f"g{n:04d}",
        key=job_key(settings, "reduce", system, sha256(material())),
        meta={"inputs": [i.label for i in group]},
    )


def synthesis_budget(task: str, settings: Settings, given: int | None) -> int:
    """The token budget of one synthesis request (see calls/windows.py); refuses one that
    cannot combine answers, before any call is paid for."""
    overhead = estimate_tokens(
        prompts.REDUCE_SYSTEM.format(task=task, closing=prompts.REDUCE_FINAL)
        + prompts.REDUCE_USER_TAIL
    )
    return reduce_budget(settings.model, settings.max_tokens, given, overhead)


def missing_footer(missing: list[dict[str, Any]]) -> str:
    """A note written by code (not the model) naming the parts that have no answer."""
    lines = [f"- {m['id']} ({m['sources']}): {m['why']}" for m in missing]
    return (
        f"\n\n---\nNote: {len(missing)} part(s) of the input are not covered by this answer "
        "because they have no result:\n" + "\n".join(lines) + "\n"
    )


def collect_answers(
    ws: Workspace, manifest: dict[str, Any]
) -> tuple[list[Item], list[dict[str, Any]]]:
    """Map answers that belong to the current chunks and last map task, and the parts without one."""
    last = last_map(ws)
    if last is None:
        raise RlmError(f"no map results in {ws.root}: run `rlm-sub map PROMPT -w {ws.root}` first")
    settings = Settings(model=last["model"], max_tokens=last["max_tokens"])
    agentic = last.get("agentic", False)
    items, missing = [], []
    for job in map_jobs(ws, manifest, last["task"], settings, agentic):
        outcome = cached(job)
        if outcome:
            label = f"{job.id} ({job.meta['sources']})"
            checked = check_answer(
                outcome.text or "", ws.read_chunk(job.id), label, last["task"], not agentic
            )
            # recomputed by every reduce, so not worth an fsync per part
            write_json(
                ws.evidence_dir / f"{job.id}.json", {"key": job.key, **checked.to_dict()}, False
            )
            rejected = len(checked.rejected)
            items.append(Item(label, checked.text, 1, checked.findings, checked.status, rejected))
            continue
        record = read_json(job.slot.with_suffix(".json")) if job.slot else None
        why = "not answered yet"
        if record and record.get("key") == job.key and record.get("status") in ("failed", "budget"):
            why = f"{record['status']}: {record.get('error')}"
            if record.get("cut_answer"):
                items += _cut_evidence(ws, job, record["cut_answer"], last["task"], agentic)
        missing.append({"id": job.id, "sources": job.meta["sources"], "why": why})
    return items, missing


def _cut_evidence(ws: Workspace, job: Job, text: str, task: str, agentic: bool) -> list[Item]:
    """The verified quotes in an answer cut twice at --max-output, as an answer of their own.

    The part still counts as not covered (exit 3); only what code checked in the cut text is
    carried, marked as coming from a cut answer, never the cut text itself.
    """
    label = f"{job.id} ({job.meta['sources']}) [cut answer]"
    checked = check_answer(text, ws.read_chunk(job.id), label, task, not agentic)
    for f in checked.findings:
        f["cut"] = True
    write_json(
        ws.evidence_dir / f"{job.id}.json", {"key": job.key, "cut": True, **checked.to_dict()}
    )
    if not checked.findings:
        return []
    cited = "\n".join(cite(f) for f in checked.findings)
    return [Item(label, cited, 1, checked.findings, "checked", len(checked.rejected))]


async def reduce_step(
    ws: Workspace, task: str, ctx: Context, reduce_tokens: int | None, partial: bool
) -> ReduceSummary:
    """Synthesize the map answers into final.md; the summary holds the answer and exit code."""
    reporter = ctx.reporter
    manifest = ws.load_manifest()
    items, missing = collect_answers(ws, manifest)
    if missing and not partial:
        first = missing[0]
        raise RlmError(
            f"{len(missing)} of {len(manifest['chunks'])} chunks have no answer "
            f"(first: {first['id']} {first['sources']}: {first['why']}). Re-run `rlm-sub map` to "
            "retry them (finished answers are reused), or pass --partial to synthesize without them",
            EXIT_PARTIAL,
        )
    if not items:
        raise RlmError("no chunk has an answer to synthesize: every map call failed", EXIT_PARTIAL)
    group_tokens = synthesis_budget(task, ctx.settings, reduce_tokens)
    runner = ctx.runner(ws)

    def on_level(level: int, calls: int) -> None:
        if calls:
            ctx.check_credentials()

    try:
        text, summary = await synthesize(
            runner, ws, task, items, group_tokens, len(manifest["chunks"]), on_level
        )
    except SynthesisCut as e:  # no answer to print, but what code verified is not lost
        reporter.warn(e.message)
        summary = ReduceSummary(exit_code=EXIT_PARTIAL, evidence=merge([i.evidence for i in items]))
        text = prompts.NO_SYNTHESIS.format(why=e.message)
    summary.unverified = [i.label for i in items if i.status == "unverified"]
    summary.rejected = sum(i.rejected for i in items)
    text = (
        text.rstrip() + "\n" + footer(summary.evidence, summary.unverified, summary.rejected, task)
    )
    write_json(
        ws.root / "final.evidence.json",
        {"findings": summary.evidence, "unverified": summary.unverified,
         "rejected_quotes": summary.rejected},
    )  # fmt: skip
    if missing:
        text = text.rstrip() + missing_footer(missing)
    skipped = skipped_inputs(manifest)
    if skipped:
        text = text.rstrip() + skipped_footer(skipped)
        reporter.warn(f"{len(skipped)} input file(s) not read (named at the end of the answer)")
    atomic_write(ws.final_path, text if text.endswith("\n") else text + "\n")
    calls = sum(level["calls"] for level in summary.levels)
    reporter.info(
        f"reduce: {plural(len(items), 'answer')} -> 1 in {plural(len(summary.levels), 'level')}, "
        f"{plural(calls, 'call')}"
        f"{f', {summary.dropped_irrelevant} with nothing relevant dropped' if summary.dropped_irrelevant else ''}; "
        f"{usage_line(summary.usage, summary.cost)}; answer in {ws.final_path}"
    )
    summary.text, summary.answers, summary.missing = text, len(items), missing
    summary.skipped = skipped
    if missing:
        reporter.warn(f"{len(missing)} part(s) not covered (listed at the end of {ws.final_path})")
        summary.exit_code = EXIT_PARTIAL
    return summary
