#!/usr/bin/env bats
# scripts/rlm-refactor.sh against the fake Messages API.

load helpers

setup_file() {
  setup_fake_api
  make_project "$BATS_FILE_TMPDIR/project"
}

teardown_file() {
  stop_fake_apis
}

setup() {
  cd "$BATS_TEST_TMPDIR"
}

@test "refactor: lists the places a change touches; the change is in the prompt" {
  run --separate-stderr "$SCRIPTS/rlm-refactor.sh" -o out "Rename connect to open_connection FIND:connect" "$BATS_FILE_TMPDIR/project"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  run cat out/answer.md
  assert_output --partial 'connect("db://x")'
  run grep -c "Rename connect to open_connection" out/prompt.md
  assert_output 1
  assert_all_results_ok out/work
}

@test "refactor: paths default to the current directory" {
  cp -r "$BATS_FILE_TMPDIR/project" proj
  cd proj
  run --separate-stderr "$SCRIPTS/rlm-refactor.sh" "Drop the docs folder"
  assert_success
  assert_output --regexp "^$BATS_TEST_TMPDIR/proj/\.rlm/refactor-[0-9]{8}-[0-9]{6}/answer\.md$"
}

@test "refactor: usage errors exit 2 with a message" {
  run "$SCRIPTS/rlm-refactor.sh"
  assert_failure 2
  assert_output --partial "missing CHANGE DESCRIPTION"
  run "$SCRIPTS/rlm-refactor.sh" "" .
  assert_failure 2
  assert_output --partial "empty"
  run "$SCRIPTS/rlm-refactor.sh" "Rename x" "$BATS_TEST_TMPDIR/nope"
  assert_failure 2
  assert_output --partial "no such file or directory"
  run "$SCRIPTS/rlm-refactor.sh" --output
  assert_failure 2
  assert_output --partial "needs a value"
  run "$SCRIPTS/rlm-refactor.sh" --help
  assert_success
  assert_output --partial "Usage: rlm-refactor.sh"
}

@test "refactor: a failing model exits non-zero and writes no answer" {
  run --separate-stderr "$SCRIPTS/rlm-refactor.sh" -o out "FAIL:401 rename" "$BATS_FILE_TMPDIR/project"
  assert_failure
  assert_output ""
  assert [ ! -e out/answer.md ]
}

@test "refactor: rlm-sub missing from PATH is a clear error" {
  RLM_SUB=no-such-rlm-sub run "$SCRIPTS/rlm-refactor.sh" "Rename x" "$BATS_FILE_TMPDIR/project"
  assert_failure 1
  assert_output --partial "cannot find 'no-such-rlm-sub'"
}
