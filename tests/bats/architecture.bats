#!/usr/bin/env bats
# scripts/rlm-architecture.sh against the fake Messages API.

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

@test "architecture: maps the current directory by default into .rlm/architecture-<timestamp>" {
  cp -r "$BATS_FILE_TMPDIR/project" proj
  cd proj
  run --separate-stderr "$SCRIPTS/rlm-architecture.sh"
  assert_success
  assert_output --regexp "^$BATS_TEST_TMPDIR/proj/\.rlm/architecture-[0-9]{8}-[0-9]{6}/answer\.md$"
  answer=$output
  run cat "$answer"
  assert_output --partial "fake answer:"
  out=$(dirname "$answer")
  assert_all_results_ok "$out/work"
  run grep -c "Components" "$out/prompt.md"
  assert_success
  # The sub-agents saw the project's files, not the output folder.
  run grep -l "src/app/main.py" "$out"/work/chunks/*.txt
  assert_success
  run grep -rl "answer.md" "$out"/work/chunks/
  assert_failure
}

@test "architecture: several paths, --focus in the prompt, -o" {
  run --separate-stderr "$SCRIPTS/rlm-architecture.sh" -o out --focus "the database path" \
    "$BATS_FILE_TMPDIR/project/src" "$BATS_FILE_TMPDIR/project/docs"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  run grep -c "the database path" out/prompt.md
  assert_output 1
  run grep -l "docs/README.md" out/work/chunks/*.txt
  assert_success
}

@test "architecture: usage errors exit 2 with a message" {
  run "$SCRIPTS/rlm-architecture.sh" "$BATS_TEST_TMPDIR/nope"
  assert_failure 2
  assert_output --partial "no such file or directory"
  run "$SCRIPTS/rlm-architecture.sh" --focus
  assert_failure 2
  assert_output --partial "needs a value"
  run "$SCRIPTS/rlm-architecture.sh" -x
  assert_failure 2
  assert_output --partial "unknown option"
  run "$SCRIPTS/rlm-architecture.sh" -h
  assert_success
  assert_output --partial "Usage: rlm-architecture.sh"
}

@test "architecture: a failing model exits non-zero and writes no answer" {
  url=$(start_fake_api "$BATS_FILE_TMPDIR/faulty" --fault-rate 1 --fault-kinds 500)
  ANTHROPIC_BASE_URL=$url run --separate-stderr "$SCRIPTS/rlm-architecture.sh" -o out "$BATS_FILE_TMPDIR/project"
  stop_fake_api "$BATS_FILE_TMPDIR/faulty"
  assert_failure 3
  assert_output ""
  assert [ ! -e out/answer.md ]
  [[ $stderr == *"re-run with -o"* ]] || fail "stderr: $stderr"
}
