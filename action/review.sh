#!/usr/bin/env bash
# The review step of the rlm-sub GitHub Action (action.yml): review RANGE with the review
# driver, write the answer to the job summary, and say what the exit code means.
#
# Environment:
#   RLM_REVIEW_RANGE   the commits to review, e.g. origin/main...HEAD (required)
#   RLM_REVIEW_OUT     output folder (answer.md, diff.patch, work/); must not exist yet
#                      or be one this script made (required)
#   RLM_REVIEW_ARGS    more rlm-sub options, split on spaces (e.g. "--model claude-sonnet-5-5")
#   RLM_MAX_COST       dollars for the whole review (rlm-sub reads it)
#   ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN  the credentials; with neither (a pull request
#                      from a fork gets no secrets) the review is skipped with a notice
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT  set by GitHub Actions; outputs: answer, exit-code
# Exit status: 0 reviewed (also partly, or stopped by the cost cap: a warning says so),
# else rlm-sub's code (1 error, 2 usage, 5 depth limit, 130 interrupted).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
range=${RLM_REVIEW_RANGE:?set RLM_REVIEW_RANGE, e.g. origin/main...HEAD}
out=${RLM_REVIEW_OUT:?set RLM_REVIEW_OUT to a folder outside the checkout}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
outputs=${GITHUB_OUTPUT:-/dev/null}

note() { printf '%s\n' "$*" >>"$summary"; }
output() { printf '%s=%s\n' "$1" "$2" >>"$outputs"; }

if [ -z "${ANTHROPIC_API_KEY:-}${ANTHROPIC_AUTH_TOKEN:-}" ]; then
  echo "::notice::rlm review skipped: no ANTHROPIC_API_KEY (pull requests from forks get no secrets)"
  note "rlm review skipped: no ANTHROPIC_API_KEY in this job (pull requests from forks get no secrets)."
  output exit-code 0
  exit 0
fi

read -r -a extra <<<"${RLM_REVIEW_ARGS:-}"
answer=$("$here/scripts/rlm-review.sh" -o "$out" "$range" -- --partial "${extra[@]}")
code=$?
output exit-code "$code"
case $code in
  0 | 3 | 4)
    if [ "$code" = 3 ]; then
      echo "::warning::rlm review: some files were not reviewed (the answer lists them)"
    elif [ "$code" = 4 ]; then
      echo "::warning::rlm review: the cost cap (RLM_MAX_COST=${RLM_MAX_COST:-none}) stopped the review; raise it to review everything"
    fi
    note "## rlm review of $range"
    if [ -n "$answer" ] && [ -f "$answer" ]; then
      output answer "$answer"
      cat "$answer" >>"$summary"
    else
      note "No answer was written (exit $code); the workspace is in the uploaded artifact."
    fi
    exit 0
    ;;
  *)
    echo "::error::rlm review failed with exit $code (see the log above)"
    note "rlm review of $range failed with exit $code."
    exit "$code"
    ;;
esac
