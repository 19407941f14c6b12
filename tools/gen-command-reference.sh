#!/usr/bin/env bash
# Regenerate skill/commands.md from `rlm-sub --help` and `rlm-sub COMMAND --help`.
# Usage: tools/gen-command-reference.sh [OUTPUT]   (default: skill/commands.md; '-' = stdout)
# Uses $RLM_SUB, else rlm-sub on PATH. tests/test_skill_layout.py fails when the file is stale.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/skill/commands.md}
rlm=${RLM_SUB:-rlm-sub}
if ! command -v "$rlm" >/dev/null 2>&1; then
  echo "gen-command-reference.sh: cannot find '$rlm' (set RLM_SUB or put it on PATH)" >&2
  exit 1
fi

# A fixed width, so the text does not depend on the terminal that runs this.
export COLUMNS=100
help() { "$rlm" "$@" --help; }

render() {
  local commands cmd
  commands=$(help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } on { exit }')
  [ -n "$commands" ] || { echo "gen-command-reference.sh: no commands found in --help" >&2; exit 1; }
  cat <<'EOF'
# rlm-sub command reference

Generated from `rlm-sub --help` by `tools/gen-command-reference.sh`; do not edit by hand.
Read it when you need an option that SKILL.md does not show.

## Contents

EOF
  local tick='`' fence='```'
  for cmd in $commands; do printf -- '- %srlm-sub %s%s\n' "$tick" "$cmd" "$tick"; done
  printf '\n## rlm-sub\n\n%stext\n%s\n%s\n' "$fence" "$(help)" "$fence"
  for cmd in $commands; do
    printf '\n## rlm-sub %s\n\n%stext\n%s\n%s\n' "$cmd" "$fence" "$(help "$cmd")" "$fence"
  done
}

if [ "$out" = "-" ]; then
  render
else
  tmp=$(mktemp "$out.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  render >"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$out"
  trap - EXIT
  echo "wrote $out" >&2
fi
