#!/usr/bin/env bash
# Run the rlm-sub benchmarks: sets up .venv (the package and files-to-prompt), then runs
# bench/bench.py, which starts and stops its own fake API server on 127.0.0.1 and prints
# a markdown table. Generated data goes to bench/out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]' files-to-prompt
exec .venv/bin/python bench/bench.py "$@"
