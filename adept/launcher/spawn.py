"""Starting a detached child process on a store: the worker, a training run, a background analysis.

A child runs ``python -m adept ...`` from the repository root in its own session (so it outlives its
parent and a Ctrl-C in the parent's terminal), on the same store (``MLFLOW_TRACKING_URI``, ``ADEPT_HOME``),
with its output in a log file.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from adept import tracking


def _child_env(uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = uri
    env["ADEPT_HOME"] = str(tracking.adept_home(uri))
    env["PYTHONUNBUFFERED"] = "1"
    root = str(tracking.REPO_ROOT)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_detached(command: list[str], uri: str, log: Path, mode: str = "ab") -> subprocess.Popen:
    """Start ``command`` in its own session from the repository root on store ``uri``, stdin closed,
    stdout and stderr to ``log`` (opened with ``mode``; its folder must exist)."""
    with open(log, mode) as out:
        return subprocess.Popen(command, cwd=str(tracking.REPO_ROOT), env=_child_env(uri),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _reap_in_background(proc: subprocess.Popen) -> None:
    # Nobody else waits for this child: without a wait it would stay a zombie until the caller exits.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()
