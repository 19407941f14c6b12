#!/usr/bin/env bash
# Find the likely causes of an error across a whole tree, ranked, with evidence.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
RLM_JOB=debug
MAX_ERROR_BYTES=65536

usage() {
  cat <<EOF
Usage: $RLM_PROG [-o DIR] ERROR-TEXT [PATH...] [-- RLM-SUB-OPTION...]
       $RLM_PROG [-o DIR] --error-file FILE|- [PATH...] [-- RLM-SUB-OPTION...]

Hunt for the causes of an error (message, stack trace, failing test output) across a tree
too big to read at once: one sub-agent per chunk reports the code that could produce it,
and the candidates are merged into one ranked list with evidence. PATH defaults to the
current directory.

Options:
  --error-file FILE  Read the error from FILE ('-': stdin) instead of the first argument.
                     At most $MAX_ERROR_BYTES bytes: pass a long log as a PATH instead, with a
                     short ERROR-TEXT.
  -o, --output DIR   Output directory (default: .rlm/debug-<timestamp>); re-using one resumes.
  -h, --help         Show this help.
  -- OPTION...       Passed to 'rlm-sub run', e.g. -- --model NAME --include '*.py'

Writes DIR/error.txt, DIR/prompt.md, DIR/work/ (the rlm-sub workspace) and DIR/answer.md,
and prints the path of answer.md on stdout. Exits with rlm-sub's code when it fails (3: some
chunks failed; re-run with the same -o DIR to retry only those).

Examples:
  $RLM_PROG "KeyError: 'user_id' in session middleware" src/
  pytest -x 2>&1 | tail -n 60 | $RLM_PROG --error-file - src/ tests/
  $RLM_PROG "502 from /api/orders after deploy" src/ logs/app.log
EOF
}

error_file=""
while [ $# -gt 0 ]; do
  case $1 in
    --error-file) rlm_need_value "$1" $#; error_file=$2; shift 2 ;;
    --error-file=*) error_file=${1#*=}; shift ;;
    *) rlm_common_arg "$@"; shift "$RLM_SHIFT" ;;
  esac
done
args=(${RLM_ARGS[@]+"${RLM_ARGS[@]}"})

if [ -n "$error_file" ]; then
  if [ "$error_file" = "-" ]; then
    error=$(cat)
  else
    [ -f "$error_file" ] || rlm_usage_error "no such error file: $error_file"
    error=$(cat -- "$error_file")
  fi
  paths=(${args[@]+"${args[@]}"})
else
  [ ${#args[@]} -gt 0 ] || rlm_usage_error "missing ERROR-TEXT (or --error-file FILE)"
  error=${args[0]}
  paths=("${args[@]:1}")
fi
[ -n "${error//[[:space:]]/}" ] || rlm_usage_error "the error text is empty"
if [ "${#error}" -gt "$MAX_ERROR_BYTES" ]; then
  rlm_usage_error "the error text is ${#error} characters, over $MAX_ERROR_BYTES: pass the log as a PATH and a short ERROR-TEXT"
fi
[ ${#paths[@]} -gt 0 ] || paths=(.)
rlm_check_paths "${paths[@]}"
if [ "$error_file" = "-" ]; then
  for p in "${paths[@]}"; do
    [ "$p" != "-" ] || rlm_usage_error "stdin cannot be both the error file and an input"
  done
fi
rlm_require_cli
rlm_make_outdir
printf '%s\n' "$error" >"$RLM_OUT/error.txt"

rlm_prompt_file <<EOF
Find the likely causes of this error:

<error>
$error
</error>

Look for: code that raises, logs or returns this error or message; code paths that lead
there (callers, inputs, configuration, state); recent-looking or fragile logic (unchecked
values, wrong assumptions, races, missing cases) that would produce exactly this symptom;
log lines that show it happening.

For each candidate cause give:
- [high|medium|low] likelihood, then PATH:LINE — the mechanism: how this code produces
  this exact error.
- Evidence: the lines that support it (quote them briefly), and what would rule it out.
- How to confirm: one concrete check (a command, a test, a log line, a value to inspect).

Rank candidates from most to least likely; merge duplicates; keep every citation.
EOF

rlm_run -- "${paths[@]}"
