"""Repairing runs whose training process died without reporting (SIGKILL, out of memory, power loss), and a
queue whose worker died.

Such a run stays RUNNING in MLflow. A run of this host (tag ``adept.host``) whose process (``adept.pid``,
``adept.pid_start``) is gone ends FAILED with a reason, or KILLED if a stop was asked for, and an artifact
folder its process was replacing is put back whole. The worker does this on every loop, and for its own
children as soon as they exit (with their exit code); every reader (``python -m adept runs`` / ``report``,
the dashboard, the queue operations) calls :func:`reconcile` first, which also restarts a lost worker when
runs are waiting in the queue.
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
    tracking.repair_run_artifacts(run_id, client=client)  # a checkpoint swap the process left half done
    tail = _log_tail(log)
    detail = (f"; log {log}" if log else "") + (f"; last log line: {tail}" if tail else "")
    if tags.get(TAG_STOP) or returncode == -signal.SIGTERM:
        client.set_tag(run_id, TAG_FAILURE, f"stopped before the training process could save{how}{detail}")
        client.set_terminated(run_id, status="KILLED")
    else:
        client.set_tag(run_id, TAG_FAILURE, f"{DIED_REASON}{how}{detail}")
        client.set_terminated(run_id, status="FAILED")
    if log and tags.get(TAG_HOST) == tracking.hostname():
        tracking.upload_run_log(client, run_id, log)
    return True


def _process_alive(tags: dict, host: str) -> bool | None:
    """Whether the process a RUNNING run records is alive; None for another host's run or no pid recorded
    (not ours to judge)."""
    pid = _int(tags.get(TAG_PID))
    if tags.get(TAG_HOST) != host or not pid:
        return None
    return tracking.pid_alive(pid, tags.get(TAG_PID_START))


def _live_local_runs(runs: list) -> tuple[list, list]:
    """Split RUNNING runs of this host into (alive, dead) by their recorded pid; others are skipped."""
    host = tracking.hostname()
    alive, dead = [], []
    for run in runs:
        state = _process_alive(run.data.tags, host)
        if state is not None:
            (alive if state else dead).append(run)
    return alive, dead


def _running_rows(uri: str) -> list[tuple[str, dict]]:
    """``(run_id, tags)`` of every RUNNING run. A sqlite store is read with one SQL query (no MLflow import:
    readers call this before every listing); any other store, or an error there, via search_runs."""
    import os

    from adept.tracking.sqlite_fast import _running_runs_from_sqlite
    from adept.tracking.store import _sqlite_path

    rows = None
    db = _sqlite_path(uri)
    if db is not None and os.environ.get("ADEPT_FAST_READ", "1") != "0":
        try:
            rows = _running_runs_from_sqlite(db)
        except Exception:  # noqa: BLE001 - locked or another schema: the portable path still works
            rows = None
    if rows is None:
        rows = [(r.info.run_id, r.data.tags) for r in tracking.search_runs("attributes.status = 'RUNNING'", uri=uri)]
    return rows


def _dead_run_ids(uri: str, rows: list[tuple[str, dict]] | None = None) -> list[str]:
    """RUNNING runs of this host whose process is gone."""
    host = tracking.hostname()
    rows = _running_rows(uri) if rows is None else rows
    return [run_id for run_id, tags in rows if _process_alive(tags, host) is False]


def _restart_lost_worker(uri: str) -> int | None:
    """Start a worker when runs wait in the queue and none is alive (the last one was killed), with the
    concurrency the last worker had; its pid, or None when nothing needed starting."""
    from adept import launcher  # the package's names, so that a test replacing ensure_worker applies here
    from adept.launcher.worker import last_worker_concurrency

    if not launcher.queued_run_ids(uri) or launcher.worker_status(tracking_uri=uri)["running"]:
        return None
    return launcher.ensure_worker(last_worker_concurrency(uri), tracking_uri=uri)


def _drop_stale_claims(uri: str) -> None:
    """Remove ``queue/started/<id>.json`` of runs that ended: the worker that claimed them died before it
    could (their processes outlive it), and no later worker owns them."""
    from adept.launcher.paths import _started_dir
    from adept.tracking.sqlite_fast import _statuses_from_sqlite
    from adept.tracking.store import _sqlite_path

    claims = {p.stem: p for p in _started_dir(uri).glob("*.json")} if _started_dir(uri).is_dir() else {}
    if not claims:
        return
    db = _sqlite_path(uri)
    try:
        statuses = _statuses_from_sqlite(db, list(claims)) if db is not None else {
            rid: tracking.get_client(uri).get_run(rid).info.status for rid in claims}
    except Exception:  # noqa: BLE001 - try again at the next reconcile
        return
    for run_id, path in claims.items():
        if statuses.get(run_id) in tracking.TERMINAL_STATUSES:
            path.unlink(missing_ok=True)


def reconcile(*, tracking_uri: str | None = None, start_worker: bool = True) -> list[str]:
    """Mark RUNNING runs of this host whose training process is gone as FAILED; returns their ids.
    With ``start_worker``, also restart the queue's worker if it died while runs wait.

    A process counts as gone when ``os.kill(pid, 0)`` fails, when it is a zombie, or when the pid now
    belongs to a newer process (start time differs from tag ``adept.pid_start``). Runs of other hosts
    (tag ``adept.host``) and runs with no recorded pid are left alone. A run whose stop was requested
    ends KILLED instead. Reason (tag ``adept.failure``): "training process ended without reporting
    (killed or crashed); see log ...".
    """
    from adept.launcher.sweep_runs import close_finished_sweeps
    from adept.tracking.schema import ROLE_SWEEP, TAG_ROLE

    uri = _uri(tracking_uri)
    rows = _running_rows(uri)
    dead = _dead_run_ids(uri, rows)
    client = tracking.get_client(uri) if dead else None
    fixed = [run_id for run_id in dead if _mark_dead(client, run_id)]
    try:  # a sweep's parent run ends once every run under it has ended
        close_finished_sweeps([rid for rid, tags in rows if tags.get(TAG_ROLE) == ROLE_SWEEP], uri)
    except Exception:  # noqa: BLE001 - try again at the next reconcile
        pass
    _drop_stale_claims(uri)
    if start_worker:
        _restart_lost_worker(uri)
    return fixed
