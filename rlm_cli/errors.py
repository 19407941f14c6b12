"""Exit codes and the error type every command raises for user-facing failures."""

import click

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, configuration, authentication: the message names the fix
EXIT_USAGE = 2  # click's own code for a malformed command line
EXIT_PARTIAL = 3  # some calls failed; every successful result was kept
EXIT_BUDGET = 4  # a call, token or dollar budget stopped new calls; work so far kept
EXIT_DEPTH = 5  # RLM_DEPTH is at RLM_MAX_DEPTH: no further delegation allowed
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
Exit codes:
  0  success
  1  error (bad input, missing API key, rejected request); the message says how to fix it
  2  usage error (unknown option, missing argument)
  3  partial: some calls failed and are recorded as failed; successful results were kept
  4  budget reached: no new calls were started; work so far was kept
  5  depth limit reached: this process may not delegate further
  130 interrupted (Ctrl-C); finished results were kept"""


class RlmError(click.ClickException):
    """A user-facing error with an exit code; click prints it as 'Error: ...'."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code
