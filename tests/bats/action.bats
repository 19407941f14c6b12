#!/usr/bin/env bats
# action/review.sh, the review step of action.yml, against the fake Messages API: the job
# summary, the step outputs, and what each exit code of the review becomes.

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
  git -C "$REPO" branch -q base HEAD~1
  cd "$REPO"
  export RLM_REVIEW_RANGE=base...HEAD RLM_REVIEW_OUT=$BATS_TEST_TMPDIR/review
  export GITHUB_STEP_SUMMARY=$BATS_TEST_TMPDIR/summary.md GITHUB_OUTPUT=$BATS_TEST_TMPDIR/outputs
  unset RLM_REVIEW_ARGS RLM_MAX_COST
}

@test "action: the review goes to the job summary and the answer path to the outputs" {
  before=$(fake_requests "$ANTHROPIC_BASE_URL")
  run --separate-stderr "$REPO_ROOT/action/review.sh"
  assert_success
  run cat "$GITHUB_STEP_SUMMARY"
  assert_line --index 0 "## rlm review of base...HEAD"
  assert_output --partial "fake answer:"
  run cat "$GITHUB_OUTPUT"
  assert_line "exit-code=0"
  assert_line "answer=$RLM_REVIEW_OUT/answer.md"
  assert [ -f "$RLM_REVIEW_OUT/work/manifest.json" ]
  assert [ "$(fake_requests "$ANTHROPIC_BASE_URL")" -gt "$before" ]
}

@test "action: no key (a pull request from a fork) skips with a notice and calls nothing" {
  before=$(fake_requests "$ANTHROPIC_BASE_URL")
  ANTHROPIC_API_KEY='' run --separate-stderr env -u ANTHROPIC_AUTH_TOKEN "$REPO_ROOT/action/review.sh"
  assert_success
  assert_output --partial "::notice::rlm review skipped"
  run cat "$GITHUB_STEP_SUMMARY"
  assert_output --partial "forks get no secrets"
  run cat "$GITHUB_OUTPUT"
  assert_line "exit-code=0"
  assert [ ! -e "$RLM_REVIEW_OUT" ]
  assert_equal "$(fake_requests "$ANTHROPIC_BASE_URL")" "$before"
}

@test "action: a cost cap that stops the review is a warning, not a failure" {
  RLM_MAX_COST=0.0000001 run --separate-stderr "$REPO_ROOT/action/review.sh"
  assert_success
  assert_output --partial "::warning::rlm review: the cost cap (RLM_MAX_COST=0.0000001)"
  run cat "$GITHUB_OUTPUT"
  assert_line "exit-code=4"
}

@test "action: extra rlm-sub options pass through" {
  RLM_REVIEW_ARGS="--model claude-sonnet-5-5 --max-output 500" run --separate-stderr "$REPO_ROOT/action/review.sh"
  assert_success
  run grep -h '"model"' "$RLM_REVIEW_OUT"/work/results/*.json
  assert_output --partial "claude-sonnet-5-5"
}

@test "action: a review that fails fails the step with rlm-sub's exit code" {
  RLM_REVIEW_RANGE=no-such-ref...HEAD run --separate-stderr "$REPO_ROOT/action/review.sh"
  assert_failure
  assert_output --partial "::error::rlm review failed with exit $status"
  run cat "$GITHUB_OUTPUT"
  assert_line --partial "exit-code="
}
