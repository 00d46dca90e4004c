"""Repairing runs whose training process died without reporting (SIGKILL, out of memory, power loss).

Such a run stays RUNNING in MLflow. A run of this host (tag ``adept.host``) whose process (``adept.pid``,
``adept.pid_start``) is gone ends FAILED with a reason, or KILLED if a stop was asked for. The worker does
this on every loop, and for its own children as soon as they exit (with their exit code).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from adept import tracking
from adept.launcher.paths import _uri
from adept.tracking import TAG_FAILURE, TAG_HOST, TAG_LOG, TAG_PID, TAG_PID_START, TAG_STOP

DIED_REASON = "training process ended without reporting (killed or crashed); see log"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _log_tail(path: str | Path | None, max_chars: int = 300) -> str:
    """The last non-empty line of a log (progress-bar carriage returns count as line ends)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    return lines[-1][-max_chars:] if lines else ""


def _mark_dead(client, run_id: str, returncode: int | None = None) -> bool:
    """End a RUNNING run whose process is gone: KILLED if a stop was requested, else FAILED with a reason.

    Reads the status again first: the process is dead, so nothing can change it after this read, and a
    run that reported FINISHED just before exiting is left alone. Returns whether the run was changed.
    """
    run = client.get_run(run_id)
    if run.info.status != "RUNNING":
        return False
    tags = run.data.tags
    log = tags.get(TAG_LOG) or ""
    how = ""
    if returncode is not None:
        how = f" (exit code {returncode}" + (f", signal {signal.Signals(-returncode).name}" if returncode < 0
                                              and -returncode in signal.valid_signals() else "") + ")"
    tail = _log_tail(log)
    detail = (f"; log {log}" if log else "") + (f"; last log line: {tail}" if tail else "")
    if tags.get(TAG_STOP) or returncode == -signal.SIGTERM:
        client.set_tag(run_id, TAG_FAILURE, f"stopped before the training process could save{how}{detail}")
        client.set_terminated(run_id, status="KILLED")
    else:
        client.set_tag(run_id, TAG_FAILURE, f"{DIED_REASON}{how}{detail}")
        client.set_terminated(run_id, status="FAILED")
    return True


def _live_local_runs(runs: list) -> tuple[list, list]:
    """Split RUNNING runs of this host into (alive, dead) by their recorded pid; others are skipped."""
    host = tracking.hostname()
    alive, dead = [], []
    for run in runs:
        tags = run.data.tags
        pid = _int(tags.get(TAG_PID))
        if tags.get(TAG_HOST) != host or not pid:
            continue  # another machine's run, or no process recorded: not ours to judge
        (alive if tracking.pid_alive(pid, tags.get(TAG_PID_START)) else dead).append(run)
    return alive, dead


def reconcile(*, tracking_uri: str | None = None) -> list[str]:
    """Mark RUNNING runs of this host whose training process is gone as FAILED; returns their ids.

    A process counts as gone when ``os.kill(pid, 0)`` fails, when it is a zombie, or when the pid now
    belongs to a newer process (start time differs from tag ``adept.pid_start``). Runs of other hosts
    (tag ``adept.host``) and runs with no recorded pid are left alone. A run whose stop was requested
    ends KILLED instead. Reason (tag ``adept.failure``): "training process ended without reporting
    (killed or crashed); see log ...".
    """
    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    _, dead = _live_local_runs(tracking.search_runs("attributes.status = 'RUNNING'", uri=uri))
    return [run.info.run_id for run in dead if _mark_dead(client, run.info.run_id)]
