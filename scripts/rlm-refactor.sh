#!/usr/bin/env bash
# List every place a change must touch across a tree, grouped, before making it.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
RLM_JOB=refactor

usage() {
  cat <<EOF
Usage: $RLM_PROG [-o DIR] "CHANGE DESCRIPTION" [PATH...] [-- RLM-SUB-OPTION...]

Plan a change across a codebase too big to read at once: one sub-agent per chunk lists
every place in it that the change must touch (definitions, call sites, imports, tests,
docs, configuration, strings), and the lists are merged into one, grouped. PATH defaults
to the current directory. Nothing is edited.

Options:
  -o, --output DIR  Output directory (default: .rlm/refactor-<timestamp>); re-using one resumes.
  -h, --help        Show this help.
  -- OPTION...      Passed to 'rlm-sub run', e.g. -- --model NAME --exclude 'vendor/'

Writes DIR/prompt.md, DIR/work/ (the rlm-sub workspace) and DIR/answer.md, and prints the
path of answer.md on stdout. Exits with rlm-sub's code when it fails (3: some chunks
failed; re-run with the same -o DIR to retry only those).

Examples:
  $RLM_PROG "Rename User.email to User.primary_email" src/ tests/ docs/
  $RLM_PROG "Replace the requests library with httpx" .
EOF
}

while [ $# -gt 0 ]; do
  rlm_common_arg "$@"
  shift "$RLM_SHIFT"
done
args=(${RLM_ARGS[@]+"${RLM_ARGS[@]}"})

[ ${#args[@]} -gt 0 ] || rlm_usage_error "missing CHANGE DESCRIPTION"
change=${args[0]}
paths=("${args[@]:1}")
[ -n "${change//[[:space:]]/}" ] || rlm_usage_error "the CHANGE DESCRIPTION is empty"
[ ${#paths[@]} -gt 0 ] || paths=(.)
rlm_check_paths "${paths[@]}"
rlm_require_cli
rlm_make_outdir

rlm_prompt_file <<EOF
Plan this change. Do not make it; find every place it must touch:

<change>
$change
</change>

List each place with its PATH:LINE and what must change there, in one line. Include
definitions, every call site and import, subclasses and implementations, tests and
fixtures, documentation and comments, configuration, serialized names (JSON keys, database
columns, URLs, environment variables) and string references in any file type. Mark places
where the change is risky or needs a decision with "RISK:" and say why.

Group the places under these headings, leaving out empty ones: Definitions, Call sites
and uses, Tests, Documentation, Configuration and data, Other. Within a group, order by
path. End with the order in which to make the edits so the code keeps working between
steps, if the order matters.
EOF

rlm_run -- "${paths[@]}"
