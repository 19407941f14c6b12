"""Build hook: ship the rlm Agent Skill (SKILL.md, skill/, scripts/) inside the package.

Everything else about the package is in pyproject.toml. `rlm-sub install-skill` finds the
copied files in rlm_cli/skill_files/; an editable install reads them from the checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SKILL_FILE = "SKILL.md"
SKILL_DIRS = ("skill", "scripts")


class BuildPyWithSkill(build_py):
    """build_py that also copies the skill into rlm_cli/skill_files/ of the build."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        missing = [p for p in (SKILL_FILE, *SKILL_DIRS) if not (ROOT / p).exists()]
        if missing:
            raise RuntimeError(
                f"cannot build rlm-sub without its skill files: {', '.join(missing)} missing "
                f"from {ROOT} (an sdist needs them listed in MANIFEST.in)"
            )
        target = Path(self.build_lib) / "rlm_cli" / "skill_files"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy2(ROOT / SKILL_FILE, target / SKILL_FILE)
        for name in SKILL_DIRS:
            shutil.copytree(
                ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__", ".*")
            )


setup(cmdclass={"build_py": BuildPyWithSkill})
