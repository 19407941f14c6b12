"""Shared fixtures: a fake Messages API on 127.0.0.1, and rlm-sub run in this process or as one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import Config, FakeAPI  # tests/ is on sys.path: pytest puts a conftest's folder there

RLM = [sys.executable, "-m", "rlm_cli"]

# Variables a developer's shell may set that would change what rlm-sub does under test.
_RLM_VARS = [v for v in os.environ if v.startswith("RLM_")] + [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the slow tests first, so no worker is left running one alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys or settings, and none can reach the real API."""
    for name in _RLM_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "ANTHROPIC_BASE_URL", "http://127.0.0.1:9"
    )  # discard port: never the internet


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAPI]:
    """A fresh fake server for one test, with rlm-sub pointed at it and fast retries."""
    api = FakeAPI(Config(seed=1234)).start()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("RLM_RETRY_DELAY", "0.01")
    yield api
    api.stop()


def rlm(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `rlm-sub ARGS` in this process, as the entry point would; text output.

    The real SDK still talks HTTP to the fake server; only the ~2 s `import anthropic` of a
    fresh interpreter is saved. An exception the CLI does not turn into an error message
    fails the test (a subprocess would have printed a traceback). `timeout` is for the
    signature shared with `rlm_process`; use that where the process boundary is the point.
    """
    from click.testing import CliRunner

    from rlm_cli.calls import engine
    from rlm_cli.cli.app import cli

    engine._probe.cache_clear()  # what a fresh process knows: the engine is asked again
    data = stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else stdin
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(
            cli, list(args), input=data or b"", env=env, prog_name="rlm-sub"
        )
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["rlm-sub", *args], result.exit_code, result.stdout, result.stderr
    )


def rlm_process(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `rlm-sub ARGS` as a subprocess in the test's environment; text output."""
    if isinstance(stdin, bytes):
        stdin = stdin.decode("utf-8", "surrogateescape")
    return subprocess.run(
        [*RLM, *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
