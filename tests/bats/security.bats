#!/usr/bin/env bats
# The drivers never write through a symbolic link a pull request commits into the output folder.

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
  VICTIM=$BATS_TEST_TMPDIR/victim.txt
  printf 'precious\n' >"$VICTIM"
}

# commit_link PATH: a pull request that commits PATH as a symbolic link to the victim file.
commit_link() {
  mkdir -p "$(dirname "$1")"
  ln -s "$VICTIM" "$1"
  git add "$1"
  git commit -q -m "add $1"
}

@test "security: review refuses an output folder holding links a PR committed (diff, prompt, trace)" {
  for entry in review/diff.patch review/prompt.md review/work/trace.jsonl; do
    rm -rf review
    git rm -rq --cached review 2>/dev/null || true
    commit_link "$entry"
    printf 'changed FIND:needle\n' >>src/app.py
    run --separate-stderr "$SCRIPTS/rlm-review.sh" -o review HEAD~1..HEAD
    assert_failure 1
    [[ $stderr == *"refused"*"symbolic link"* ]]
    run cat "$VICTIM"
    assert_output "precious"
    git checkout -q -- src/app.py
  done
}

@test "security: review refuses an output folder that is itself a link, or under one" {
  mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
  ln -s "$BATS_TEST_TMPDIR/elsewhere" review
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o review
  assert_failure 1
  [[ $stderr == *"review is a symbolic link"* ]]
  run --separate-stderr "$SCRIPTS/rlm-review.sh" -o review/sub
  assert_failure 1
  [[ $stderr == *"review is a symbolic link"* ]]
  run ls -A "$BATS_TEST_TMPDIR/elsewhere"
  assert_output ""
}

@test "security: every driver refuses a linked output folder before writing" {
  mkdir out
  ln -s "$VICTIM" out/prompt.md
  for driver in rlm-ask.sh rlm-architecture.sh rlm-debug.sh rlm-refactor.sh; do
    case $driver in
      rlm-ask.sh) args=("What is here?" src) ;;
      rlm-debug.sh) args=("It crashes" src) ;;
      rlm-refactor.sh) args=("Rename app" src) ;;
      *) args=(src) ;;
    esac
    run --separate-stderr "$SCRIPTS/$driver" -o out "${args[@]}"
    assert_failure 1
    [[ $stderr == *"holds a symbolic link"* ]]
  done
  run cat "$VICTIM"
  assert_output "precious"
}
