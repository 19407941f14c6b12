#!/usr/bin/env bash
# The one test command: installs every dependency, then runs ruff, shellcheck, bats and pytest.
# Usage: bash tests/run-all.sh [PYTEST-ARGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
# npm's install (bats, Claude Code) runs beside pip's; both must succeed.
(cd tests && npm ci --no-audit --no-fund --loglevel=error) &
npm_pid=$!
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
wait "$npm_pid" || {
  echo "npm ci in tests/ failed (see above): the bats and Claude Code tests need it" >&2
  exit 1
}
# The report tests render HTML in headless Chromium (Debian's package; CI runs as root).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (for tests/test_report.py)"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  log=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "could not install chromium; the report tests will fail until /usr/bin/chromium exists" >&2
  fi
  rm -f "$log"
fi
export PATH="$PWD/.venv/bin:$PWD/tests/node_modules/bats/bin:$PATH"
export BATS_LIB_PATH="$PWD/tests/node_modules"

echo "== ruff"
ruff check .
ruff format --check .
echo "== shellcheck"
shellcheck scripts/*.sh tests/*.sh tests/engine/*.sh tools/*.sh action/*.sh bin/rlm-sub hooks/*.sh
# bats runs beside pytest (each is mostly one busy process, and this machine has two cores);
# its report is printed after pytest's, and either failing fails the run.
bats_log=$(mktemp)
trap 'rm -f "$bats_log"' EXIT
bats tests/bats >"$bats_log" 2>&1 &
bats_pid=$!
echo "== pytest"
# Workers per core (pytest-xdist); the slowest tests start first (tests/conftest.py).
# Pass -n 0 to run them in this process, in order.
pytest_rc=0
pytest -q -n auto --dist worksteal "$@" || pytest_rc=$?
bats_rc=0
wait "$bats_pid" || bats_rc=$?
echo "== bats"
cat "$bats_log"
if [ "$pytest_rc" -ne 0 ] || [ "$bats_rc" -ne 0 ]; then
  echo "FAILED: pytest exit $pytest_rc, bats exit $bats_rc" >&2
  exit 1
fi
