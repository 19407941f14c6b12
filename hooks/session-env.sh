#!/bin/sh
# SessionStart hook: hand the plugin's data folder to later Bash commands (bin/rlm-sub reads
# RLM_PLUGIN_DATA), through the file Claude Code names in $CLAUDE_ENV_FILE.
set -eu
[ -n "${CLAUDE_ENV_FILE:-}" ] && [ -n "${CLAUDE_PLUGIN_DATA:-}" ] || exit 0
case $CLAUDE_PLUGIN_DATA in
  *\'*) exit 0 ;; # cannot be quoted for the shell below: the launcher falls back
esac
printf "export RLM_PLUGIN_DATA='%s'\n" "$CLAUDE_PLUGIN_DATA" >>"$CLAUDE_ENV_FILE"
