#!/usr/bin/env bats
# scripts/rlm-review.sh against the fake Messages API, in throwaway git repositories.

load helpers

setup_file() {
  setup_fake_api
}

teardown_file() {
  stop_fake_apis
}

setup() {
  REPO=$BATS_TEST_TMPDIR/repo
  make_git_repo "$REPO"
  cd "$REPO"
}

@test "review: working tree vs HEAD, one patch per file with new-file line numbers" {
  printf 'one\nTWO\nthree\nfour: committed change\nfive FIND:needle\n' >src/app.py
  git rm -q README.md
  printf 'brand new needle\n' >NEW.md # untracked: part of the working tree's change
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out"
  assert_success
  out=$BATS_TEST_TMPDIR/out
  assert_output "$out/answer.md"
  assert [ -f "$out/diff.patch" ]
  assert [ -f "$out/patches/src/app.py.diff" ]
  assert [ -f "$out/patches/README.md.diff" ]
  assert [ -f "$out/patches/NEW.md.diff" ]
  run cat "$out/patches/src/app.py.diff"
  assert_line --index 0 "Changes to src/app.py (modified)"
  assert_line "L2     |+TWO"
  assert_line "       |-two"
  assert_line "L5     |+five FIND:needle"
  run head -n 1 "$out/patches/README.md.diff"
  assert_output "Changes to README.md (deleted)"
  run head -n 1 "$out/patches/NEW.md.diff"
  assert_output "Changes to NEW.md (added)"
  # One sub-agent per file: three chunks.
  run "$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["chunks"]))' "$out/work/manifest.json"
  assert_output 3
  assert_all_results_ok "$out/work"
  # The fake answered FIND:needle from the patch text, so the answer quotes the labelled line.
  run cat "$out/answer.md"
  assert_output --partial "L5     |+five"
  run grep -c "src/app.py (modified)" "$out/prompt.md"
  assert_output 1
}

@test "review: a commit range" {
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out" HEAD~1..HEAD
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  run cat "$BATS_TEST_TMPDIR/out/patches/src/app.py.diff"
  assert_line "L4     |+four: committed change"
  run cat "$BATS_TEST_TMPDIR/out/answer.md"
  assert_output --partial "fake answer:"
}

@test "review: --diff FILE and --diff - read a unified diff" {
  git diff HEAD~1 HEAD >"$BATS_TEST_TMPDIR/change.patch"
  cd "$BATS_TEST_TMPDIR" # --diff needs no repository
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o out1 --diff change.patch
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out1/answer.md"
  assert [ -f out1/patches/src/app.py.diff ]
  run --separate-stderr bash -c '"$1" -o out2 --diff - <change.patch' _ "$SCRIPTS/rlm-review.sh"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out2/answer.md"
  run diff out1/patches/src/app.py.diff out2/patches/src/app.py.diff
  assert_success
}

@test "review: plain diff -u output, with lines that look like headers inside a hunk" {
  printf -- '-- old comment\nkeep\n' >"$BATS_TEST_TMPDIR/a.sql"
  printf 'keep\n++ new\n' >"$BATS_TEST_TMPDIR/b.sql"
  (cd "$BATS_TEST_TMPDIR" && diff -u a.sql b.sql >plain.diff) || true
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out" --diff "$BATS_TEST_TMPDIR/plain.diff"
  assert_success
  run cat "$BATS_TEST_TMPDIR/out/patches/b.sql.diff"
  assert_line "       |--- old comment"
  assert_line "L1     | keep"
  assert_line "L2     |+++ new"
}

@test "review: running from a subdirectory still sees every change" {
  printf 'changed\n' >README.md
  mkdir -p deep/er
  cd deep/er
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out"
  assert_success
  assert [ -f "$BATS_TEST_TMPDIR/out/patches/README.md.diff" ]
}

@test "review: an empty diff writes an answer saying so, without calling the model" {
  before=$(fake_requests "$ANTHROPIC_BASE_URL")
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  run cat "$BATS_TEST_TMPDIR/out/answer.md"
  assert_output --partial "No changes to review"
  assert_equal "$(fake_requests "$ANTHROPIC_BASE_URL")" "$before"
}

@test "review: default output directory is .rlm/review-<timestamp>" {
  printf 'x\n' >>src/app.py
  run --separate-stderr "$SCRIPTS/rlm-review.sh"
  assert_success
  assert_output --regexp "^$REPO/\.rlm/review-[0-9]{8}-[0-9]{6}/answer\.md$"
  run git status --porcelain --untracked-files=all
  refute_output --partial ".rlm"
}

@test "review: usage errors exit 2 with a message" {
  run "$SCRIPTS/rlm-review.sh" HEAD~1 HEAD
  assert_failure 2
  assert_output --partial "at most one RANGE"
  run "$SCRIPTS/rlm-review.sh" HEAD~1 --diff x.patch
  assert_failure 2
  assert_output --partial "either RANGE or --diff"
  run "$SCRIPTS/rlm-review.sh" --diff "$BATS_TEST_TMPDIR/missing.patch"
  assert_failure 2
  assert_output --partial "no such diff file"
  run "$SCRIPTS/rlm-review.sh" no-such-branch...HEAD
  assert_failure 2
  assert_output --partial "does not accept"
  run "$SCRIPTS/rlm-review.sh" --frobnicate
  assert_failure 2
  assert_output --partial "unknown option"
  run "$SCRIPTS/rlm-review.sh" --diff
  assert_failure 2
  assert_output --partial "needs a value"
  cd "$BATS_TEST_TMPDIR" && mkdir plain && cd plain
  run "$SCRIPTS/rlm-review.sh"
  assert_failure 2
  assert_output --partial "not inside a git work tree"
  run "$SCRIPTS/rlm-review.sh" --help
  assert_success
  assert_output --partial "Usage: rlm-review.sh"
}

@test "review: a failing model call exits non-zero and writes no answer" {
  printf 'FAIL:500 in the patch\n' >>src/app.py
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o "$BATS_TEST_TMPDIR/out"
  assert_failure 3
  assert_output ""
  assert [ ! -e "$BATS_TEST_TMPDIR/out/answer.md" ]
  assert [ -f "$BATS_TEST_TMPDIR/out/patches/src/app.py.diff" ]
}
