"""Exit codes and the plain error type the core raises for user-facing failures."""

from rlm_cli.redact import scrub

EXIT_OK = 0
EXIT_ERROR = 1  # bad input, configuration, authentication: the message names the fix
EXIT_USAGE = 2  # click's own code for a malformed command line
EXIT_PARTIAL = 3  # some calls failed; every successful result was kept
EXIT_BUDGET = 4  # a call, token or dollar budget stopped new calls; work so far kept
EXIT_DEPTH = 5  # RLM_DEPTH is at RLM_MAX_DEPTH: no further delegation allowed
EXIT_UNREACHABLE = 6  # the model's endpoint never answered (refused, DNS, TLS, no route)
EXIT_INTERRUPTED = 130

EXIT_MEANINGS = {
    EXIT_OK: "success",
    EXIT_ERROR: "error (bad input, missing API key, rejected request); the message says how to fix it",
    EXIT_USAGE: "usage error (unknown option, missing argument)",
    EXIT_PARTIAL: "partial: some calls failed and are recorded as failed; successful results were kept",
    EXIT_BUDGET: "budget reached: no new calls were started; work so far was kept",
    EXIT_DEPTH: "depth limit reached: this process may not delegate further",
    EXIT_UNREACHABLE: "could not reach the model: its endpoint never answered; nothing was spent",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); finished results were kept",
}

EXIT_CODES_HELP = "Exit codes:\n" + "\n".join(f"  {c:<3} {m}" for c, m in EXIT_MEANINGS.items())


class RlmError(Exception):
    """A user-facing error with an exit code; the command line prints it as 'Error: ...'."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        message = scrub(message)  # printed, and sometimes stored: no secret, no terminal escape
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __reduce__(self) -> tuple[type, tuple[str, int]]:
        """Pickled whole (message and exit code): a staging process hands its error back."""
        return type(self), (self.message, self.exit_code)
