"""action.yml: the composite action's shape, and no expression spliced into a shell script."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACTION = (ROOT / "action.yml").read_text()


def run_scripts() -> list[str]:
    """The text of every `run:` of the action (one line, or an indented block)."""
    scripts, lines = [], ACTION.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:- )?run: ?(.*)$", line)
        if not m:
            continue
        body = [m.group(2)]
        indent = len(m.group(1))
        for more in lines[i + 1 :]:
            if more.strip() and len(more) - len(more.lstrip()) <= indent:
                break
            body.append(more)
        scripts.append("\n".join(body))
    return scripts


def test_no_expression_is_spliced_into_a_script():
    # Inputs and event fields reach scripts through env: only, never as ${{ }} in the code
    # (a branch name is attacker-chosen text in a pull request).
    scripts = run_scripts()
    assert len(scripts) == 3, scripts
    assert not [s for s in scripts if "${{" in s]


def test_the_review_step_runs_the_tested_script_with_a_cost_cap_and_uploads_the_workspace():
    assert "using: composite" in ACTION
    assert '"$GITHUB_ACTION_PATH/action/review.sh"' in ACTION
    assert (ROOT / "action" / "review.sh").stat().st_mode & 0o111
    assert "RLM_MAX_COST: ${{ inputs.max-cost }}" in ACTION
    assert 'pipx install --force "$GITHUB_ACTION_PATH"' in ACTION  # from the action itself
    assert "actions/upload-artifact@v4" in ACTION and "if: always()" in ACTION
    assert "RLM_REVIEW_OUT: ${{ runner.temp }}/rlm-review" in ACTION  # outside the checkout
