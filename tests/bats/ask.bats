#!/usr/bin/env bats
# scripts/rlm-ask.sh against the fake Messages API.

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

@test "ask: writes the answer file, prints only its path, and the answer holds the fake's reply" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "FIND:needle" "$BATS_FILE_TMPDIR/project"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  assert [ -s out/answer.md ]
  run cat out/answer.md
  assert_output --partial "the needle is here"
  assert [ -f out/prompt.md ]
  assert [ -f out/work/manifest.json ]
  assert [ -f out/work/final.md ]
  assert_all_results_ok out/work
  run grep -c "FIND:needle" out/prompt.md
  assert_output 1
}

@test "ask: without -o the output goes to .rlm/ask-<timestamp>" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" "What connects?" "$BATS_FILE_TMPDIR/project/src"
  assert_success
  assert_output --regexp "^$BATS_TEST_TMPDIR/\.rlm/ask-[0-9]{8}-[0-9]{6}/answer\.md$"
  run cat "$output"
  assert_output --partial "fake answer:"
}

@test "ask: reads stdin with -" {
  run --separate-stderr bash -c 'printf "alpha\nneedle in stdin\nomega\n" | "$1" -o out "FIND:needle" -' _ "$SCRIPTS/rlm-ask.sh"
  assert_success
  run cat out/answer.md
  assert_output --partial "needle in stdin"
}

@test "ask: options after -- reach rlm-sub" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "What?" "$BATS_FILE_TMPDIR/project" -- --per-file --chunk-tokens 500
  assert_success
  run "$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["chunks"]))' out/work/manifest.json
  assert_output 3
}

@test "ask: re-running with the same -o reuses finished answers (no new model calls)" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "Anything?" "$BATS_FILE_TMPDIR/project"
  assert_success
  before=$(fake_requests "$ANTHROPIC_BASE_URL")
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "Anything?" "$BATS_FILE_TMPDIR/project"
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  assert_equal "$(fake_requests "$ANTHROPIC_BASE_URL")" "$before"
}

@test "ask: --help" {
  run "$SCRIPTS/rlm-ask.sh" --help
  assert_success
  assert_output --partial "Usage: rlm-ask.sh"
}

@test "ask: usage errors exit 2 with a message" {
  run "$SCRIPTS/rlm-ask.sh"
  assert_failure 2
  assert_output --partial "missing QUESTION"
  run "$SCRIPTS/rlm-ask.sh" "Only a question?"
  assert_failure 2
  assert_output --partial "missing PATH"
  run "$SCRIPTS/rlm-ask.sh" "Q" "$BATS_TEST_TMPDIR/does-not-exist"
  assert_failure 2
  assert_output --partial "no such file or directory"
  run "$SCRIPTS/rlm-ask.sh" --bogus "Q" .
  assert_failure 2
  assert_output --partial "unknown option: --bogus"
  run "$SCRIPTS/rlm-ask.sh" "   " .
  assert_failure 2
  assert_output --partial "empty"
  run "$SCRIPTS/rlm-ask.sh" "Q" . -o
  assert_failure 2
  assert_output --partial "needs a value"
  assert [ ! -e .rlm ]
}

@test "ask: a bad rlm-sub option after -- fails with rlm-sub's exit code and no answer" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "Q" "$BATS_FILE_TMPDIR/project" -- --no-such-option
  assert_failure 2
  assert_output ""
  assert [ ! -e out/answer.md ]
}

@test "ask: a failing model call exits non-zero and writes no answer" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "FAIL:500 where?" "$BATS_FILE_TMPDIR/project"
  assert_failure 3
  assert_output ""
  assert [ ! -e out/answer.md ]
  [[ $stderr == *"rlm-sub failed (exit 3)"* ]] || fail "stderr: $stderr"
  run grep -l '"status": *"failed"' out/work/results/*.json
  assert_success
}

@test "ask: with -- --partial, failed chunks give exit 3 and an answer that names them" {
  cp -r "$BATS_FILE_TMPDIR/project" part
  printf 'FAIL:500\n' >part/broken.txt
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "What?" part -- --per-file --partial
  assert_failure 3
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  [[ $stderr == *"PARTIAL"* ]] || fail "stderr: $stderr"
  run grep -c "broken.txt" out/answer.md
  assert_success
}

@test "ask: a server that always fails exits non-zero and writes no answer" {
  url=$(start_fake_api "$BATS_FILE_TMPDIR/faulty" --fault-rate 1 --fault-kinds 500,529)
  ANTHROPIC_BASE_URL=$url run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "Q" "$BATS_FILE_TMPDIR/project"
  stop_fake_api "$BATS_FILE_TMPDIR/faulty"
  assert_failure 3
  assert_output ""
  assert [ ! -e out/answer.md ]
}

@test "ask: a missing API key is reported, not hidden" {
  ANTHROPIC_API_KEY='' run --separate-stderr env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN "$SCRIPTS/rlm-ask.sh" -o out "Q" "$BATS_FILE_TMPDIR/project"
  assert_failure 1
  assert [ ! -e out/answer.md ]
  [[ $stderr == *"API"* ]] || fail "stderr: $stderr"
}

@test "ask: an rlm-sub usage error gives no advice to resume" {
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "Q" "$BATS_FILE_TMPDIR/project" -- --no-such-option
  assert_failure 2
  [[ $stderr == *"No such option"* ]] || fail "stderr: $stderr"
  [[ $stderr != *"resume"* ]] || fail "stderr: $stderr"
}

@test "ask: says on stderr when input files were skipped, and not when none were" {
  make_project project
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o clean "What?" project
  assert_success
  [[ $stderr != *"were not read"* ]] || fail "a skipped-files line with nothing skipped: $stderr"
  printf 'MZ\0\0binary\n' >project/src/app/blob.bin
  run --separate-stderr "$SCRIPTS/rlm-ask.sh" -o out "What?" project
  assert_success
  assert_output "$BATS_TEST_TMPDIR/out/answer.md"
  [[ $stderr == *"some input files were not read (too large, binary, unreadable): the answer names them at its end"* ]] ||
    fail "no skipped-files line on stderr: $stderr"
  run grep -c '^Note: 1 input file(s) were not read' out/answer.md
  assert_output 1
  run grep -c 'project/src/app/blob.bin: binary' out/answer.md
  assert_output 1
}
