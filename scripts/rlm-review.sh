#!/usr/bin/env bash
# Review a diff of any size: one sub-agent per changed file, findings merged into one report.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
RLM_JOB=review

usage() {
  cat <<EOF
Usage: $RLM_PROG [-o DIR] [RANGE | --diff FILE|-] [-- RLM-SUB-OPTION...]

Review a diff too big to read at once. The diff is split into one patch file per changed
file (DIR/patches/<path>.diff, every line labelled with its line number in the new file),
one sub-agent reviews each file, and the findings are merged into one report that cites
PATH:LINE with new-file line numbers.

What is reviewed:
  (nothing)         the working tree and index against HEAD, plus untracked files
  RANGE             anything 'git diff' accepts: main...HEAD, HEAD~3, v1.2..v1.3, abc123^!
  --diff FILE|-     a unified diff from a file or stdin (git diff, gh pr diff, diff -u)

Options:
  -o, --output DIR  Output directory (default: .rlm/review-<timestamp>); re-using one resumes.
  -h, --help        Show this help.
  -- OPTION...      Passed to 'rlm-sub run', e.g. -- --model NAME --exclude 'tests/'
                    (patch files are named <path>.diff: --include '*.py.diff')

Writes DIR/diff.patch, DIR/patches/, DIR/prompt.md, DIR/work/ (the rlm-sub workspace) and
DIR/answer.md, and prints the path of answer.md on stdout. Exits with rlm-sub's code when
it fails (3: some files failed; re-run with the same -o DIR to retry only those).

Examples:
  $RLM_PROG                       # uncommitted changes
  $RLM_PROG main...HEAD           # this branch
  gh pr diff 123 | $RLM_PROG --diff -
EOF
}

range=""
diff_file=""
while [ $# -gt 0 ]; do
  case $1 in
    --diff) rlm_need_value "$1" $#; diff_file=$2; shift 2 ;;
    --diff=*) diff_file=${1#*=}; shift ;;
    *) rlm_common_arg "$@"; shift "$RLM_SHIFT" ;;
  esac
done
args=(${RLM_ARGS[@]+"${RLM_ARGS[@]}"})

[ ${#args[@]} -le 1 ] || rlm_usage_error "give at most one RANGE (got: ${args[*]})"
range=${args[0]-}
if [ -n "$diff_file" ] && [ -n "$range" ]; then
  rlm_usage_error "give either RANGE or --diff, not both"
fi
if [ -n "$diff_file" ] && [ "$diff_file" != "-" ] && [ ! -f "$diff_file" ]; then
  rlm_usage_error "no such diff file: $diff_file"
fi
if [ -z "$diff_file" ]; then
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    rlm_usage_error "not inside a git work tree: run it in a repository, or pass --diff FILE"
  if [ -n "$range" ]; then
    git diff --quiet "$range" -- 2>/dev/null || [ $? -eq 1 ] ||
      rlm_usage_error "git diff does not accept '$range' as a range: $(git diff --quiet "$range" -- 2>&1 | head -n 1)"
  fi
fi
rlm_require_cli
rlm_make_outdir
if [ -z "$diff_file" ]; then
  cd "$(git rev-parse --show-toplevel)" # diff paths, untracked files: all from the top
fi

# 1. The whole diff, as one file.
diff="$RLM_OUT/diff.patch"
git_diff() {
  git -c core.quotepath=off diff --no-color --no-ext-diff --find-renames --unified=5 "$@"
}
if [ -n "$diff_file" ]; then
  if [ "$diff_file" = "-" ]; then cat >"$diff"; else cat -- "$diff_file" >"$diff"; fi
elif [ -n "$range" ]; then
  git_diff "$range" -- >"$diff"
else
  base=HEAD
  git rev-parse --verify --quiet HEAD >/dev/null || base=$(git hash-object -t tree /dev/null)
  git_diff "$base" -- >"$diff"
  # Untracked (not ignored) files are part of the working tree's change, too; rlm output is not.
  top=$(pwd -P)
  out_physical=$(cd "$RLM_OUT" && pwd -P)
  git ls-files --others --exclude-standard -z | while IFS= read -r -d '' f; do
    case "/$f" in */.rlm/*) continue ;; esac
    case "$top/$f" in "$out_physical"/*) continue ;; esac
    git_diff --no-index -- /dev/null "$f" || [ $? -eq 1 ]
  done >>"$diff"
fi

# 2. One patch file per changed file, every line labelled with its new-file line number:
#    "L12    |+added" (line 12 of the new file), "       |-removed" (not in the new file).
patches="$RLM_OUT/patches"
rm -rf "$patches" "$RLM_OUT/split"
mkdir -p "$patches" "$RLM_OUT/split"
awk -v dir="$RLM_OUT/split" '
  function finish() {
    if (n > 0) {
      if (path == "") path = fallback
      printf "%05d\t%s\t%s\n", n, status, path > (dir "/index.tsv")
      close(out)
    }
  }
  function begin() {
    finish()
    n++
    out = sprintf("%s/%05d.diff", dir, n)
    printf "" > out
    path = ""; fallback = ""; status = "modified"; plus = 0; hunk = 0
  }
  function clean(p) {
    sub(/\t.*$/, "", p)
    if (p ~ /^".*"$/) p = substr(p, 2, length(p) - 2)
    return p
  }
  function count(spec, parts) {
    return (split(spec, parts, ",") > 1) ? parts[2] + 0 : 1
  }
  hunk {
    c = substr($0, 1, 1)
    if (c == "\\") { print "       |" $0 > out; next }
    if (c == " " || $0 == "") { printf "L%-6d|%s\n", newno++, $0 > out; oldrem--; newrem-- }
    else if (c == "+") { printf "L%-6d|%s\n", newno++, $0 > out; newrem-- }
    else if (c == "-") { print "       |" $0 > out; oldrem-- }
    else { hunk = 0 }
    if (hunk) { if (oldrem <= 0 && newrem <= 0) hunk = 0; next }
  }
  /^diff --git / {
    begin(); git = 1
    f = $0; sub(/^diff --git /, "", f)
    i = index(f, " b/"); if (i > 0) fallback = substr(f, i + 3)
    next
  }
  /^--- / {
    if (n == 0 || plus) { begin(); git = 0 }
    old = clean(substr($0, 5))
    if (old != "/dev/null") { if (git) sub(/^a\//, "", old); fallback = old }
    else status = "added"
    next
  }
  /^\+\+\+ / && n > 0 {
    plus = 1
    p = clean(substr($0, 5))
    if (p == "/dev/null") status = "deleted"
    else { if (git) sub(/^b\//, "", p); path = p }
    next
  }
  /^@@ / && n > 0 {
    split($0, h, " ")
    newno = substr(h[3], 2); sub(/,.*/, "", newno); newno += 0
    oldrem = count(substr(h[2], 2)); newrem = count(substr(h[3], 2))
    hunk = (oldrem > 0 || newrem > 0)
    print > out
    next
  }
  n == 0 { next }
  /^new file mode/ { status = "added"; next }
  /^deleted file mode/ { status = "deleted"; next }
  /^rename from / { status = "renamed from " substr($0, 13); next }
  /^rename to / { fallback = substr($0, 11); next }
  /^Binary files / { status = status ", binary: contents not shown"; next }
  /^old mode / || /^new mode / { print > out; next }
  END { finish() }
' "$diff"

# Move each patch to patches/<path>.diff (directories mirrored), headed by what it is.
count=0
files_list=""
if [ -f "$RLM_OUT/split/index.tsv" ]; then
  while IFS=$'\t' read -r id status path; do
    safe=${path#/}
    safe=${safe//..\//__/}
    [ -n "$safe" ] || safe="unnamed-$id"
    dest="$patches/$safe.diff"
    k=2
    while [ -e "$dest" ]; do dest="$patches/$safe.$k.diff"; k=$((k + 1)); done
    mkdir -p "$(dirname "$dest")"
    {
      printf 'Changes to %s (%s)\n' "$path" "$status"
      cat "$RLM_OUT/split/$id.diff"
    } >"$dest"
    count=$((count + 1))
    if [ "$count" -le 300 ]; then files_list+="- $path ($status)"$'\n'; fi
  done <"$RLM_OUT/split/index.tsv"
fi
rm -rf "$RLM_OUT/split"
if [ "$count" -gt 300 ]; then files_list+="- ... and $((count - 300)) more files"$'\n'; fi

if [ "$count" -eq 0 ]; then
  printf 'No changes to review: the diff is empty.\n' >"$RLM_OUT/answer.md"
  rlm_info "the diff is empty; nothing to review"
  printf '%s\n' "$RLM_OUT/answer.md"
  exit 0
fi
rlm_info "$count changed file(s) split into $patches"

# 3. The review.
rlm_prompt_file <<EOF
Review this code change as a senior engineer would before merging it.

The input is a diff, one file per section. Each diff line is prefixed with "L<N> |" where
N is its line number in the NEW version of the file, or with "       |" for a removed line
(which has no new line number). The number before the tab is only a position in the patch:
never cite it. Cite findings as PATH:N using the file path named in the "Changes to PATH"
line and N from the "L<N>" label (for removed code, cite the nearest L<N> and say so).

Look for, in this order of importance:
1. bugs: wrong logic, off-by-one, unhandled None/null/error cases, races, resource leaks
2. security: injection, secrets in code, missing authorization or validation
3. broken contracts: changed signatures, behaviour or formats that callers depend on
4. missing or wrong tests for the changed behaviour
5. clarity problems that will cause bugs later (misleading names, dead code)
Skip pure style and formatting. Only report problems the changed lines cause or expose.

Format each finding as one bullet:
- [high|medium|low] PATH:N — the problem; why it matters; the fix in one sentence.
Order findings by severity, most severe first. If a file has no real problem, say nothing
about it.

Files changed in this diff (for context; other sub-agents review the other files):
$files_list
EOF

rlm_run --in "$patches" --no-gitignore --per-file -- .
