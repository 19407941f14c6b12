"""Scrub text before it is stored, printed or rendered: secrets redacted, control characters escaped.

An endpoint (a proxy, a misconfigured gateway) may echo request headers in its error body,
and an error message is stored in results/*.json and trace.jsonl, printed on stderr and
rendered in report.html. So every error message passes through `scrub`: the values of the
credential variables in the environment are replaced, and so is anything shaped like a key
or a token. File names and model text may hold terminal escapes; `printable` shows them as
\\x.. escapes instead of sending them to a terminal.
"""

from __future__ import annotations

import os
import re

REDACTED = "[REDACTED]"
# Variables whose values are secrets wherever they appear.
SECRET_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
MIN_SECRET = 8  # shorter values (a test's "x") would redact ordinary words
SHAPES = re.compile(
    "|".join(
        [
            r"sk-ant-[A-Za-z0-9_\-]{8,}",  # Anthropic keys and OAuth tokens
            r"\bsk-[A-Za-z0-9_\-]{20,}",  # other providers' keys
            r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{20,}",
            r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key ids
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWTs
            r"(?<=[Bb]earer )[A-Za-z0-9._~+/=\-]{8,}",
            r"(?<=[Bb]asic )[A-Za-z0-9+/=]{8,}",
        ]
    )
)
# A header or field that names a credential: whatever value follows it is a secret.
NAMED = re.compile(
    r"(?i)((?:x-api-key|api[_-]?key|authorization|auth[_-]?token|access[_-]?token|password|secret)"
    r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?:bearer\s+|basic\s+)?[^\s\"'`,;}]{8,}"
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def secret_values() -> list[str]:
    """The credential values in this process's environment, longest first."""
    values = {os.environ.get(name, "") for name in SECRET_VARS}
    return sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True)


def redact(text: str) -> str:
    """Text with every known credential value and anything shaped like one replaced."""
    for value in secret_values():
        text = text.replace(value, REDACTED)
    text = SHAPES.sub(REDACTED, text)
    return NAMED.sub(lambda m: m.group(1) + REDACTED, text)


def printable(text: str) -> str:
    """Text safe for a terminal: control and bidi characters (but newline and tab) escaped."""
    return CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def scrub(text: str) -> str:
    """An error message as it may be stored, printed or rendered."""
    return printable(redact(text))
