"""The command that reproduces a run, as shown on the Runs page: rebuilt from the run's ``config.json`` with
:func:`adept.config.reproduce_command` (so runs logged before a field existed still get a complete line), run
with the interpreter that serves this dashboard, from the repository root."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys


def python_for_display() -> str:
    """The interpreter of this app, relative to the repository root when it lives inside it."""
    from adept.tracking import REPO_ROOT

    exe = sys.executable
    try:
        rel = os.path.relpath(exe, REPO_ROOT)
    except ValueError:
        return exe
    return rel if not rel.startswith("..") else exe


def reproduce(run_id: str, tag_command: str | None = None) -> str | None:
    """``cd <repo> && <python> -m adept train --method ... `` for ``run_id``; None when neither its
    config.json nor the ``adept.command`` tag exists."""
    from adept import tracking
    from adept.config import RunConfig, reproduce_command

    cfg = tracking.load_json_artifact(run_id, "config.json")
    line = None
    if isinstance(cfg, dict):
        known = {f.name for f in dataclasses.fields(RunConfig)}
        try:
            line = reproduce_command(RunConfig.from_dict({k: v for k, v in cfg.items() if k in known}))
        except (TypeError, ValueError):
            line = None
    line = line or tag_command
    if not line:
        return None
    parts = shlex.split(line)
    if parts[:1] == ["python"]:
        parts[0] = python_for_display()
    return f"cd {shlex.quote(str(tracking.REPO_ROOT))} && {shlex.join(parts)}"
