#!/usr/bin/env bash
# Ask any question over inputs too big to read at once; answer written to a file.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
RLM_JOB=ask

usage() {
  cat <<EOF
Usage: $RLM_PROG [-o DIR] "QUESTION" PATH... [-- RLM-SUB-OPTION...]

Ask one question over files, directories or stdin (-) of any size: rlm-sub splits them
into chunks, one sub-agent answers per chunk, and the answers are combined into one.
Sub-agents cite PATH:LINE and answer NOTHING RELEVANT for chunks that do not bear on it.

Options:
  -o, --output DIR  Output directory (default: .rlm/ask-<timestamp>); re-using one resumes.
  -h, --help        Show this help.
  -- OPTION...      Passed to 'rlm-sub run', e.g. -- --model NAME --include '*.py' --partial

Writes DIR/prompt.md, DIR/work/ (the rlm-sub workspace) and DIR/answer.md, and prints the
path of answer.md on stdout. Exits with rlm-sub's code when it fails (3: some chunks
failed; re-run with the same -o DIR to retry only those).

Examples:
  $RLM_PROG "Where is the retry policy decided? Cite PATH:LINE." src/
  $RLM_PROG "Which requests fail with status 502, and when?" logs/ -- --include '*.log'
EOF
}

while [ $# -gt 0 ]; do
  rlm_common_arg "$@"
  shift "$RLM_SHIFT"
done
args=(${RLM_ARGS[@]+"${RLM_ARGS[@]}"})

[ ${#args[@]} -gt 0 ] || rlm_usage_error "missing QUESTION and PATH"
question=${args[0]}
paths=("${args[@]:1}")
[ -n "${question//[[:space:]]/}" ] || rlm_usage_error "the QUESTION is empty"
[ ${#paths[@]} -gt 0 ] || rlm_usage_error "missing PATH: name the files or directories to ask about ('-' for stdin)"
rlm_check_paths "${paths[@]}"
rlm_require_cli
rlm_make_outdir

rlm_prompt_file <<EOF
Answer this question about the input:

$question

Answer from the input only. Back every fact with its PATH:LINE citation and quote short
snippets when the exact wording matters.
EOF

rlm_run -- "${paths[@]}"
