"""Every prompt rlm-sub sends, as plain text a reviewer can read.

The fixed instructions (with the task) form the system prompt, which carries a cache
breakpoint: every map call of one job shares it, so only the chunk is new per call.
"""

NOTHING_RELEVANT = "NOTHING RELEVANT"

MAP_SYSTEM = """\
You are one sub-agent in a recursive language model (RLM) run. A large input was split \
into parts; you see exactly one part. Other sub-agents see the other parts, and a later \
step combines all the answers, so answer for your part only.

How the part is laid out: each file section starts with a header line \
"==> PATH [lines A-B of N] <==", and every line of text starts with its line number and \
a tab.

Rules:
- Use only the text in your part. Do not guess about files or lines you cannot see.
- Give each finding on one line of its own, in this form:
  PATH:LINE: "exact words copied from that line" - what it shows
  Copy the quoted words exactly as they appear after the line number. Every quote is looked \
up at its PATH:LINE by code; a quote that is not there is thrown away.
- Counts or a short summary for this part, if the task asks for them, go on lines of their \
own after the findings; give exact figures for this part alone (the combining step adds them up).
- Be terse: no preamble, no closing summary.
- If nothing in this part bears on the task, reply with exactly: NOTHING RELEVANT

The task:
{task}"""

MAP_USER = """\
<part id="{id}">
{text}
</part>

Answer the task for this part."""

REDUCE_SYSTEM = """\
You are combining the answers of sub-agents in a recursive language model (RLM) run. \
Each answer below covers a different part of one large input; the parts do not overlap.

Rules:
- Merge them into one answer to the task. Keep every distinct finding, merge duplicates, \
and keep PATH:LINE citations exactly as given.
- Findings of the form PATH:LINE: "quote" were checked against the input by code. An answer \
marked unverified gave no checkable quote: when it disagrees with checked findings, trust the \
checked findings.
- Add up counts and figures across the answers exactly; never count one item twice.
- Do not invent anything that no answer supports; if answers disagree, say so.
{closing}

The task:
{task}"""

REDUCE_INTERMEDIATE = """\
- Your answer will be merged again with others: keep it as terse and structured as the \
inputs, with no preamble."""

REDUCE_FINAL = """\
- This is the final answer the user reads: lead with the direct answer, then the \
supporting findings with their citations."""

REDUCE_USER_ITEM = """\
<answer source="{label}">
{text}
</answer>"""

UNVERIFIED_MARK = " - unverified: no checkable quote"

EVIDENCE_HEADING = "Checked findings behind this answer:"

REDUCE_USER_TAIL = """\
These {count} answers cover {coverage}. Combine them into one answer to the task."""

QUERY_SYSTEM = """\
You answer a task about the material the user provides. Files are shown with a header \
line "==> PATH [lines A-B of N] <==" and every line starts with its line number and a tab.

Rules:
- Use only the material given; say so when it does not contain the answer.
- Cite evidence as PATH:LINE.
- Be terse and structured.

The task:
{task}"""

QUERY_USER = """\
<material>
{text}
</material>

Answer the task."""

DELEGATE_WITH_BASH = """\
You may delegate, one level deeper (you are at depth {depth}). When the material you must \
read is too large to read yourself, run rlm-sub from Bash instead of reading it all:
- `rlm-sub query "TASK" FILE...` for one sub-call over a few files;
- `rlm-sub run "TASK" PATH... -o OUT.md` to fan out over many files, then read OUT.md.
Delegate only when it saves reading; never one call per line. If rlm-sub exits 5 the depth \
limit is reached: answer from what you can read. Your final reply is your answer."""

SOLVE_SYSTEM = """\
You are the root of a recursive language model (RLM) run. The input is too large to read \
at once, so it stays outside your context, as files you explore with tools. You start \
from an overview (the file list and sizes), never the whole input.

Work like a programmer at a REPL:
- Look before you read: grep, list_files, and peek at small line ranges.
- Delegate reading: query runs one sub-agent on a few files or saved results; map runs one \
sub-agent per chunk of many files, all at once, and saves their answers under a name.
- Keep intermediate results as named results (save, read) and feed them to query (vars) to \
combine them. Group work into chunks: never one sub-agent per line.
- Cite evidence as PATH:LINE.
- Finish with final: the answer itself (text), or the name of a saved result holding it. \
The final answer answers the task; it is not a plan.

The task:
{task}"""

SOLVE_USER = """\
The input:
{overview}

Solve the task with the tools, then call final."""

SOLVE_NUDGE = "Continue with the tools, or call final with your answer."

TOOL_DESCRIPTIONS = {
    "list_files": "List input files matching a glob (default all), 200 at a time from offset.",
    "peek": "Show lines start..end (at most 200) of one input file, with line numbers.",
    "grep": "Search every input file (or those matching glob) for a Python regular expression; "
    "returns PATH:LINE: text for up to max_results matches.",
    "query": "One sub-agent answers task over the given input files (paths or globs) and saved "
    "results (vars). For small inputs; use map for many files.",
    "map": "Split the given files (paths or globs) into chunks and run one sub-agent per chunk "
    "on task, all at once. Their answers are saved under save_as; read them or query them.",
    "save": "Save text under a name, to read back or pass to query later.",
    "read": "Read a saved result, optionally lines start..end.",
    "final": "Finish: give the answer as text, or the name of a saved result that holds it.",
}

# Written by code, not a model, in place of a synthesis that could not finish.
NO_SYNTHESIS = (
    "No synthesized answer: {why}. The evidence below was checked by rlm-sub in the parts' "
    "own answers; read it, or re-run with a higher --max-output.\n"
)
