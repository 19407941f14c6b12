#!/usr/bin/env bats
# scripts/rlm-debug.sh against the fake Messages API.

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

@test "debug: error text as an argument; the error is kept in error.txt and the prompt" {
  run --separate-stderr "$SCRIPTS/rlm-debug.sh" -o out "ConnectionError in connect FIND:needle" "$BATS_FILE_TMPDIR/project"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  run cat out/answer.md
  assert_output --partial "the needle is here"
  run cat out/error.txt
  assert_output "ConnectionError in connect FIND:needle"
  run grep -c "ConnectionError in connect" out/prompt.md
  assert_output 1
  assert_all_results_ok out/work
}

@test "debug: --error-file FILE and --error-file - (stdin), paths default to ." {
  printf 'Traceback (most recent call last):\n  File "main.py", line 6\nValueError: bad url\n' >err.txt
  cp -r "$BATS_FILE_TMPDIR/project" proj
  cd proj
  run --separate-stderr "$SCRIPTS/rlm-debug.sh" -o ../out1 --error-file ../err.txt
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out1/answer.md"
  run grep -c "ValueError: bad url" ../out1/prompt.md
  assert_output 1
  run --separate-stderr bash -c '"$1" -o ../out2 --error-file - src <../err.txt' _ "$SCRIPTS/rlm-debug.sh"
  assert_success
  run diff ../out1/error.txt ../out2/error.txt
  assert_success
}

@test "debug: usage errors exit 2 with a message" {
  run "$SCRIPTS/rlm-debug.sh"
  assert_failure 2
  assert_output --partial "missing ERROR-TEXT"
  run "$SCRIPTS/rlm-debug.sh" "  " .
  assert_failure 2
  assert_output --partial "empty"
  run "$SCRIPTS/rlm-debug.sh" --error-file "$BATS_TEST_TMPDIR/none.txt"
  assert_failure 2
  assert_output --partial "no such error file"
  run bash -c 'echo boom | "$1" --error-file - -' _ "$SCRIPTS/rlm-debug.sh"
  assert_failure 2
  assert_output --partial "stdin cannot be both"
  head -c 70000 /dev/zero | tr '\0' x >big.txt
  run "$SCRIPTS/rlm-debug.sh" --error-file big.txt .
  assert_failure 2
  assert_output --partial "pass the log as a PATH"
  run "$SCRIPTS/rlm-debug.sh" "boom" "$BATS_TEST_TMPDIR/nope"
  assert_failure 2
  assert_output --partial "no such file or directory"
  run "$SCRIPTS/rlm-debug.sh" --help
  assert_success
  assert_output --partial "Usage: rlm-debug.sh"
}

@test "debug: a failing model exits non-zero and writes no answer" {
  run --separate-stderr "$SCRIPTS/rlm-debug.sh" -o out "FAIL:500 boom" "$BATS_FILE_TMPDIR/project"
  assert_failure 3
  assert_output ""
  assert [ ! -e out/answer.md ]
  assert [ -f out/error.txt ]
}
