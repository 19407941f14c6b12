# shellcheck shell=bash
# Shared helpers for the rlm-* drivers. Sourced (never run) by each driver, relative to the
# driver's own directory, so the drivers work from a checkout and from an installed skill.
#
# A driver sets RLM_JOB (e.g. "review"), defines usage(), parses its own arguments with the
# helpers below, writes its prompt with rlm_prompt_file, and calls rlm_run.
# Globals it may read afterwards: RLM_OUT (absolute output dir), RLM_EXTRA (args after --),
# RLM_ARGS (its positional arguments).

RLM_PROG=$(basename "$0")
RLM_OUT=""
RLM_EXTRA=()

# Usage error: message, a pointer to --help, exit 2.
rlm_usage_error() {
  printf '%s: %s\nTry "%s --help".\n' "$RLM_PROG" "$1" "$RLM_PROG" >&2
  exit 2
}

# Runtime error: message, exit with the given code (default 1).
rlm_die() {
  printf '%s: %s\n' "$RLM_PROG" "$1" >&2
  exit "${2:-1}"
}

rlm_info() {
  printf '%s: %s\n' "$RLM_PROG" "$*" >&2
}

# rlm_need_value OPTION NEXT-ARG-COUNT: an option that takes a value must have one.
rlm_need_value() {
  if [ "$2" -lt 2 ]; then
    rlm_usage_error "option $1 needs a value"
  fi
}

# rlm_common_arg "$@": take the argument(s) at the front that every driver understands:
# -h/--help, -o/--output DIR, -- (the rest goes to rlm-sub), an unknown option (a usage
# error), or a positional argument (appended to RLM_ARGS). Sets RLM_SHIFT to how many were
# used, for the caller's `shift "$RLM_SHIFT"`. A driver handles its own options before it.
RLM_ARGS=()
# shellcheck disable=SC2034  # RLM_SHIFT is read by the driver that sources this file
rlm_common_arg() {
  RLM_SHIFT=1
  case $1 in
    -h | --help) usage; exit 0 ;;
    -o | --output) rlm_need_value "$1" $#; RLM_OUT=$2; RLM_SHIFT=2 ;;
    --output=*) RLM_OUT=${1#*=} ;;
    --) shift; RLM_EXTRA=("$@"); RLM_SHIFT=$(($# + 1)) ;;
    -?*) rlm_usage_error "unknown option: $1 (options for rlm-sub go after --)" ;;
    *) RLM_ARGS+=("$1") ;;
  esac
}

# Every input path must exist ('-' is stdin).
rlm_check_paths() {
  local p
  for p in "$@"; do
    if [ "$p" != "-" ] && [ ! -e "$p" ]; then
      rlm_usage_error "no such file or directory: $p"
    fi
  done
}

# The rlm-sub command: $RLM_SUB if set, else rlm-sub on PATH, else the one that installed
# this skill (recorded as "cli" in the skill folder's .rlm-install.json).
rlm_require_cli() {
  local record recorded
  record="$(dirname "${BASH_SOURCE[0]}")/../.rlm-install.json"
  if [ -z "${RLM_SUB:-}" ] && ! command -v rlm-sub >/dev/null 2>&1 && [ -f "$record" ]; then
    recorded=$(sed -n 's/^ *"cli": "\([^"\\]*\)",\{0,1\}$/\1/p' "$record")
    if [ -n "$recorded" ] && [ -x "$recorded" ]; then RLM_SUB=$recorded; fi
  fi
  RLM_SUB=${RLM_SUB:-rlm-sub}
  if ! command -v "$RLM_SUB" >/dev/null 2>&1; then
    rlm_die "cannot find '$RLM_SUB': install it with 'pipx install CHECKOUT-OR-GIT-URL' or 'uv tool install CHECKOUT-OR-GIT-URL' (the README's Install section), or set RLM_SUB to its path"
  fi
}

# Create the output directory: -o DIR, or .rlm/<job>-<timestamp> (never reusing one).
# Sets RLM_OUT to its absolute path. Re-using a directory with -o resumes: finished
# sub-agent answers in it are reused.
rlm_make_outdir() {
  local dir=$RLM_OUT n=2
  if [ -z "$dir" ]; then
    dir=".rlm/$RLM_JOB-$(date +%Y%m%d-%H%M%S)"
    local base=$dir
    while [ -e "$dir" ]; do
      dir="$base-$n"
      n=$((n + 1))
    done
  fi
  rlm_refuse_links "$dir"
  if [ -e "$dir" ] && [ ! -d "$dir" ]; then
    rlm_usage_error "output path exists and is not a directory: $dir"
  fi
  mkdir -p "$dir" || rlm_die "cannot create output directory $dir"
  if [ -z "$RLM_OUT" ] && [ ! -e .rlm/.gitignore ]; then # keep `git add -A` off the workspaces
    printf '# rlm-sub workspaces: never commit them\n*\n' >.rlm/.gitignore
  fi
  RLM_OUT=$(cd "$dir" && pwd)
}

# rlm_refuse_links DIR: refuse an output folder that is, lies under, or holds a symbolic
# link (a pull request can commit one), so that nothing is ever written through a link.
# For a relative DIR every folder on the way down from here is checked.
rlm_refuse_links() {
  local dir=$1 part path="" found
  if [ "${dir#/}" = "$dir" ]; then
    local IFS=/
    for part in $dir; do
      if [ -z "$part" ] || [ "$part" = "." ]; then continue; fi
      path=${path:+$path/}$part
      if [ -L "$path" ]; then
        rlm_die "refused: $path is a symbolic link; the output folder must be a real folder (choose another -o)"
      fi
    done
  elif [ -L "$dir" ]; then
    rlm_die "refused: $dir is a symbolic link; the output folder must be a real folder (choose another -o)"
  fi
  if [ -d "$dir" ]; then
    found=$(find "$dir" -type l -print 2>/dev/null | head -n 1)
    if [ -n "$found" ]; then
      rlm_die "refused: the output folder $dir holds a symbolic link ($found); nothing is written through one. Remove it, or choose another -o"
    fi
  fi
}

# rlm_prompt_file: write stdin (a heredoc) to $RLM_OUT/prompt.md, the task passed as @file.
rlm_prompt_file() {
  cat >"$RLM_OUT/prompt.md"
}

# rlm_run [--in DIR] [RUN-OPTION...] -- PATH...
# Runs `rlm-sub run @prompt.md PATH...` with the workspace $RLM_OUT/work and the answer
# in $RLM_OUT/answer.md, plus the user's extra options. With --in DIR the paths are
# resolved (and shown to the sub-agents) relative to DIR. On success prints the answer
# path on stdout; on failure explains and exits with rlm-sub's code.
rlm_run() {
  local indir="" opts=()
  while [ $# -gt 0 ]; do
    case $1 in
      --in) indir=$2; shift 2 ;;
      --) shift; break ;;
      *) opts+=("$1"); shift ;;
    esac
  done
  local answer="$RLM_OUT/answer.md" code=0
  rm -f "$answer"
  rlm_info "working in $RLM_OUT"
  (
    if [ -n "$indir" ]; then cd "$indir" || exit 1; fi
    "$RLM_SUB" run "@$RLM_OUT/prompt.md" "$@" -w "$RLM_OUT/work" -o "$answer" \
      ${opts[@]+"${opts[@]}"} ${RLM_EXTRA[@]+"${RLM_EXTRA[@]}"} >/dev/null
  ) || code=$?
  if [ "$code" -eq 0 ] && [ -s "$answer" ]; then
    if grep -q '^Note: [0-9]* input file(s) were not read' "$answer"; then
      rlm_info "some input files were not read (too large, binary, unreadable): the answer names them at its end"
    fi
    rlm_info "answer in $answer"
    printf '%s\n' "$answer"
    return 0
  fi
  if [ "$code" -eq 3 ] && [ -s "$answer" ]; then
    # --partial was passed through: the answer exists and lists the parts it does not cover.
    rlm_info "PARTIAL answer (some parts failed; they are listed at its end): $answer"
    printf '%s\n' "$answer"
    exit 3
  fi
  rm -f "$answer"
  if [ "$code" -eq 0 ]; then code=1; fi
  case $code in
    1 | 2 | 6) # nothing to resume: the message above says what to fix
      rlm_die "rlm-sub failed (exit $code); no answer written" "$code" ;;
    *)
      rlm_die "rlm-sub failed (exit $code); no answer written. Finished sub-agent answers are kept in $RLM_OUT/work: re-run with -o $RLM_OUT to resume" "$code" ;;
  esac
}
