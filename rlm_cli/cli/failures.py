"""The core's plain errors turned into click's error output: the one translation at the edge."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from rlm_cli.errors import RlmError
from rlm_cli.redact import scrub


class CliError(click.ClickException):
    """An RlmError as click shows it: 'Error: MESSAGE' on stderr, and its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def cli_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the core's plain errors, and OS errors on the workspace, into click's error output."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except RlmError as e:
            raise CliError(e.message, e.exit_code) from e
        except OSError as e:
            raise CliError(scrub(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")), 1) from e

    return wrapper
