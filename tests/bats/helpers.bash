# shellcheck shell=bash
# Shared setup for the driver tests: a fake Messages API server, fixtures, small assertions.
# Load with `load helpers` at the top of a .bats file, then call setup_fake_api from
# setup_file and stop_fake_apis from teardown_file.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SCRIPTS=$REPO_ROOT/scripts
if [ -x "$REPO_ROOT/.venv/bin/python" ]; then
  PYTHON=${PYTHON:-$REPO_ROOT/.venv/bin/python}
else
  PYTHON=${PYTHON:-python3}
fi
# rlm-sub lives next to the Python that has the package installed.
PATH="$(cd "$(dirname "$PYTHON")" && pwd):$PATH"
export PATH PYTHON REPO_ROOT SCRIPTS

# start_fake_api DIR [FAKE-API-OPTION...]: start tests/fake_api.py in the background on a free
# port; prints its base URL. DIR receives the port file, the pid and the server's log.
start_fake_api() {
  local dir=$1 i content
  shift
  mkdir -p "$dir"
  rm -f "$dir/port"
  "$PYTHON" "$REPO_ROOT/tests/fake_api.py" --port 0 --port-file "$dir/port" "$@" \
    >"$dir/stdout" 2>"$dir/stderr" &
  echo $! >"$dir/pid"
  for i in $(seq 1 200); do
    content=$(cat "$dir/port" 2>/dev/null || true)
    if [ -n "$content" ]; then
      case $content in
        http*) printf '%s\n' "$content" ;;
        *) printf 'http://127.0.0.1:%s\n' "$content" ;;
      esac
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "fake API server did not start (after $i tries); its stderr:" >&2
  cat "$dir/stderr" >&2
  return 1
}

# stop_fake_api DIR: stop the server started with that DIR (by its own pid only).
stop_fake_api() {
  local pidfile=$1/pid
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    wait "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

# In setup_file: one well-behaved server for the whole file, and fast, bounded retries.
setup_fake_api() {
  ANTHROPIC_BASE_URL=$(start_fake_api "$BATS_FILE_TMPDIR/fake")
  export ANTHROPIC_BASE_URL
  export ANTHROPIC_API_KEY=test-key
  export RLM_RETRY_DELAY=0.01 RLM_RETRIES=2 RLM_TIMEOUT=30
  unset RLM_WORKSPACE RLM_MODEL RLM_SUB
}

stop_fake_apis() {
  stop_fake_api "$BATS_FILE_TMPDIR/fake"
  stop_fake_api "$BATS_FILE_TMPDIR/faulty"
}

# Number of requests the fake server at URL has answered.
fake_requests() {
  "$PYTHON" -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/_fake/stats"))["requests"])' "$1"
}

# make_project DIR: a small source tree; one file mentions "needle".
make_project() {
  local dir=$1
  mkdir -p "$dir/src/app" "$dir/docs"
  printf 'def connect(url):\n    return open_socket(url)\n' >"$dir/src/app/net.py"
  printf 'from app.net import connect\n\n\ndef main():\n    # the needle is here\n    connect("db://x")\n' >"$dir/src/app/main.py"
  printf '# Docs\n\nNothing to see.\n' >"$dir/docs/README.md"
}

# make_git_repo DIR: a repository with two commits, the second changing src/app.py.
make_git_repo() {
  local dir=$1
  mkdir -p "$dir/src"
  git -C "$dir" init -q
  git -C "$dir" config user.email test@example.com
  git -C "$dir" config user.name test
  git -C "$dir" config commit.gpgsign false
  printf 'one\ntwo\nthree\n' >"$dir/src/app.py"
  printf 'keep me\n' >"$dir/README.md"
  git -C "$dir" add -A
  git -C "$dir" commit -q -m "first"
  printf 'one\ntwo\nthree\nfour: committed change\n' >"$dir/src/app.py"
  git -C "$dir" commit -q -am "second"
}

# The workspace's result records: every one must say status ok.
assert_all_results_ok() {
  local ws=$1 f
  compgen -G "$ws/results/*.json" >/dev/null || fail "no results in $ws"
  for f in "$ws"/results/*.json; do
    grep -q '"status": *"ok"' "$f" || fail "not ok: $f: $(cat "$f")"
  done
}
