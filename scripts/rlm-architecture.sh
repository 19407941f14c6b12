#!/usr/bin/env bash
# Describe a codebase's architecture (components, interfaces, dependencies) as one document.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
RLM_JOB=architecture

usage() {
  cat <<EOF
Usage: $RLM_PROG [-o DIR] [--focus TEXT] [PATH...] [-- RLM-SUB-OPTION...]

Map the architecture of a codebase too big to read at once: one sub-agent per chunk lists
the components, interfaces and dependencies it sees (with PATH:LINE), and the lists are
merged into one document. PATH defaults to the current directory.

Options:
  --focus TEXT      What the reader cares about most (e.g. "the request path", "storage").
  -o, --output DIR  Output directory (default: .rlm/architecture-<timestamp>); re-using one resumes.
  -h, --help        Show this help.
  -- OPTION...      Passed to 'rlm-sub run', e.g. -- --model NAME --exclude 'tests/'

Writes DIR/prompt.md, DIR/work/ (the rlm-sub workspace) and DIR/answer.md, and prints the
path of answer.md on stdout. Exits with rlm-sub's code when it fails (3: some chunks
failed; re-run with the same -o DIR to retry only those).

Examples:
  $RLM_PROG
  $RLM_PROG src/ lib/ --focus "how a request reaches the database"
  $RLM_PROG . -- --exclude 'vendor/' --exclude '*.min.js'
EOF
}

focus=""
paths=()
while [ $# -gt 0 ]; do
  case $1 in
    --focus) rlm_need_value "$1" $#; focus=$2; shift 2 ;;
    --focus=*) focus=${1#*=}; shift ;;
    *) rlm_common_arg "$@"; shift "$RLM_SHIFT" ;;
  esac
done
paths+=(${RLM_ARGS[@]+"${RLM_ARGS[@]}"})
[ ${#paths[@]} -gt 0 ] || paths=(.)
rlm_check_paths "${paths[@]}"
rlm_require_cli
rlm_make_outdir

focus_line=""
if [ -n "$focus" ]; then
  focus_line="The reader cares most about: $focus. Give it the most detail."
fi

rlm_prompt_file <<EOF
Describe the architecture of this codebase: its components, their interfaces, and the
dependencies between them. $focus_line

Cover, with a PATH:LINE citation for every item:
- Components: each module, package or service; its responsibility in one line.
- Interfaces: what each component offers others (public functions and classes, CLI
  commands, HTTP/RPC endpoints, events, file formats), with their PATH:LINE.
- Dependencies: which component uses which (write "A -> B: what for"), and the external
  libraries, services, databases, files and environment variables each relies on.
- Entry points and the main flows of control or data through the components.
- Notable design decisions, layering violations or cycles, if the code shows them.

Write it as one document with these sections: Overview (a short paragraph), Components
(a table: component | responsibility | key files), Interfaces, Dependencies (internal
"A -> B" lines, then external), Entry points and flows, Observations. Facts only: no
speculation about code you have not seen.
EOF

rlm_run -- "${paths[@]}"
