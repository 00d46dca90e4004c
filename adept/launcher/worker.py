"""The local executor: one background worker per store starts each queued run as its own OS process.

* The worker (``python -m adept worker``, :func:`worker_main`) claims the oldest queued runs by renaming
  their file to ``<home>/queue/started/<run_id>.json`` (a rename is atomic, so a run is either claimed by
  the worker or cancelled by :func:`adept.launcher.stop_run`, never both) and starts
  ``python -m adept train --config <that file> --run-id <run_id>`` in its own session, output to
  ``<home>/logs/<run_id>.log``, at most ``max_concurrent`` at a time (runs started by hand on this machine
  count too).
* One worker at a time: it holds an exclusive ``flock`` on ``<home>/worker.lock`` (pid inside). The kernel
  drops the lock when the worker dies, so a stale lock file (dead pid) is simply taken over.
* :func:`ensure_worker` starts a worker unless one is alive; the queue operations call it after queueing.

Concurrency: ``ADEPT_MAX_CONCURRENT`` (default 1: one run uses both cores of a small CPU machine).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from adept import tracking
from adept.launcher.paths import _started_dir, _uri, lock_path, logs_dir, queue_dir, run_log_path
from adept.launcher.queue import _take_out_of_queue, queued_run_ids
from adept.launcher.repair import _live_local_runs, _mark_dead
from adept.launcher.spawn import _reap_in_background, start_detached
from adept.tracking import TAG_FAILURE, TAG_HOST, TAG_LOG, TAG_PID, TAG_PID_START, TAG_WORKER_PID
from adept.tracking.run_logs import upload_run_log


def _default_concurrency() -> int:
    """``ADEPT_MAX_CONCURRENT`` (default 1), checked."""
    from adept.env import positive_int_env

    return positive_int_env("ADEPT_MAX_CONCURRENT", 1, "runs at once")


def _log(message: str) -> None:
    print(time.strftime("%Y-%m-%d %H:%M:%S"), message, flush=True)


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if a live process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release_lock(fd: int | None) -> None:
    if fd is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def worker_status(*, tracking_uri: str | None = None) -> dict:
    """``{"running", "pid", "max_concurrent", "started", "queued"}`` of this store's worker."""
    uri = _uri(tracking_uri)
    path = lock_path(uri)
    info: dict = {}
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    fd = _try_lock(path) if path.exists() else None
    running = path.exists() and fd is None
    _release_lock(fd)
    return {"running": running, "pid": info.get("pid") if running else None,
            "max_concurrent": info.get("max_concurrent") if running else None,
            "started": info.get("started") if running else None, "queued": len(queued_run_ids(uri))}


def last_worker_concurrency(uri: str | None = None) -> int | None:
    """The ``max_concurrent`` the store's last worker ran with (from its lock file), or None."""
    try:
        value = json.loads(lock_path(_uri(uri)).read_text() or "{}").get("max_concurrent")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) and value >= 1 else None


def _worker_command(max_concurrent: int) -> list[str]:
    return [sys.executable, "-m", "adept", "worker", "--max-concurrent", str(max_concurrent)]


def _train_command(config_path: Path, run_id: str) -> list[str]:
    return [sys.executable, "-m", "adept", "train", "--config", str(config_path), "--run-id", run_id]


def ensure_worker(max_concurrent: int | None = None, *, tracking_uri: str | None = None) -> int | None:
    """Start ``python -m adept worker --max-concurrent N`` detached unless a live worker holds the lock.

    Returns the new worker's pid, or None when one is already running. ``N``: ``max_concurrent``, else
    ``ADEPT_MAX_CONCURRENT``, else 1. Output goes to ``<home>/logs/worker.log``.
    """
    uri = _uri(tracking_uri)
    n = max_concurrent if max_concurrent is not None else _default_concurrency()
    if n < 1:
        raise ValueError(f"max_concurrent={n}: run at least 1 at a time.")
    fd = _try_lock(lock_path(uri))
    if fd is None:
        return None  # a live worker holds it; it will see the new queue file
    _release_lock(fd)  # the worker takes the lock itself; two racing starts -> one exits at once
    logs = logs_dir(uri)
    logs.mkdir(parents=True, exist_ok=True)
    proc = start_detached(_worker_command(n), uri, logs / "worker.log")
    _reap_in_background(proc)
    return proc.pid


def _set_tags(client, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


@dataclass
class _Child:
    run_id: str
    proc: subprocess.Popen
    config_path: Path
    log_path: Path


def _start_run(client, uri: str, run_id: str, children: dict[str, _Child]) -> bool:
    """Claim ``run_id``'s queue file and start its training process. False if it was cancelled first."""
    src = queue_dir(uri) / f"{run_id}.json"
    dst = _started_dir(uri) / f"{run_id}.json"
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)  # atomic: from here on stop_run cannot cancel it, only SIGTERM it
    except FileNotFoundError:
        return False
    log_path = run_log_path(run_id, uri)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    # RUNNING before the child exists, so the child's own final status can never be overwritten. Until
    # the child's pid is known the run carries the worker's pid: reconcile then fails it if we die here.
    try:
        _set_tags(client, run_id, {TAG_PID: str(me), TAG_WORKER_PID: str(me), TAG_HOST: tracking.hostname(),
                                   TAG_PID_START: tracking.process_start_ticks(me) or "",
                                   TAG_LOG: str(log_path)})
        client.update_run(run_id, status="RUNNING")
    except Exception:
        os.rename(dst, src)  # back in the queue: the next loop tries again
        raise
    try:
        proc = start_detached(_train_command(dst, run_id), uri, log_path)
    except OSError as exc:
        client.set_tag(run_id, TAG_FAILURE, f"could not start the training process: {exc}")
        client.set_terminated(run_id, status="FAILED")
        dst.unlink(missing_ok=True)
        return False
    _set_tags(client, run_id,
              {TAG_PID: str(proc.pid), TAG_PID_START: tracking.process_start_ticks(proc.pid) or ""})
    children[run_id] = _Child(run_id, proc, dst, log_path)
    _log(f"started run {run_id} (pid {proc.pid}), log {log_path}")
    return True


def _reap(client, children: dict[str, _Child]) -> None:
    """Collect exited children; a run still RUNNING after its process exited gets the exit code as reason."""
    for run_id, child in list(children.items()):
        code = child.proc.poll()
        if code is None:
            continue
        del children[run_id]
        child.config_path.unlink(missing_ok=True)
        changed = _mark_dead(client, run_id, returncode=code)
        upload_run_log(client, run_id, child.log_path)  # the Runs page shows it from any host
        status = client.get_run(run_id).info.status
        _log(f"run {run_id}: process exited with code {code}; run {status}"
             + (" (marked by the worker: the process did not report)" if changed else ""))


def _pending_runs(client, uri: str) -> list:
    """Queued runs that can start, oldest first; queue files of runs that cannot start are removed."""
    from mlflow.exceptions import MlflowException

    ids = queued_run_ids(uri)
    if not ids:
        return []
    scheduled = {r.info.run_id: r for r in tracking.search_runs("attributes.status = 'SCHEDULED'", uri=uri)}
    ready = []
    for run_id in ids:
        run = scheduled.get(run_id)
        if run is None:
            try:
                run = client.get_run(run_id)
            except MlflowException:
                run = None
            if run is None or run.info.status != "SCHEDULED" or run.info.lifecycle_stage != "active":
                why = "not in the store" if run is None else f"{run.info.status}, {run.info.lifecycle_stage}"
                _log(f"dropping queue file of run {run_id} ({why})")
                _take_out_of_queue(run_id, uri)
                continue
        ready.append(run)
    return sorted(ready, key=lambda r: (r.info.start_time or 0, r.info.run_id))


def worker_main(max_concurrent: int = 1, poll_s: float | None = None, idle_exit_s: float | None = None, *,
                tracking_uri: str | None = None) -> bool:
    """The queue worker: start queued runs oldest-first, at most ``max_concurrent`` at once.

    Loop every ``poll_s``: collect exited children, repair dead runs (as :func:`adept.launcher.reconcile`),
    count live runs on this host (the worker's children plus runs started by hand), start the oldest
    queued runs up to the limit.
    Exits when nothing is queued and none of its runs is alive for ``idle_exit_s``. Returns False at
    once (doing nothing) when another live worker holds the lock, True after it worked and went idle.
    Children run in their own sessions: they survive the worker (and Ctrl-C in its terminal).
    Defaults: ``poll_s`` = ``ADEPT_WORKER_POLL_S`` or 1.0, ``idle_exit_s`` = ``ADEPT_WORKER_IDLE_S`` or 5.0.
    """
    poll_s = float(os.environ.get("ADEPT_WORKER_POLL_S", 1.0)) if poll_s is None else poll_s
    idle_exit_s = float(os.environ.get("ADEPT_WORKER_IDLE_S", 5.0)) if idle_exit_s is None else idle_exit_s
    if max_concurrent < 1:
        raise ValueError(f"max_concurrent={max_concurrent}: run at least 1 at a time.")
    uri = _uri(tracking_uri)
    path = lock_path(uri)
    fd = _try_lock(path)
    if fd is None:
        _log(f"another worker holds {path}; exiting")
        return False

    def write_lock_info() -> None:
        info = {"pid": os.getpid(), "host": tracking.hostname(), "max_concurrent": max_concurrent,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "tracking_uri": uri}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)

    write_lock_info()
    client = tracking.get_client(uri)
    children: dict[str, _Child] = {}
    idle_since: float | None = None
    _log(f"worker {os.getpid()} started: max {max_concurrent} at once, store {uri}")
    try:
        while True:
            try:
                _reap(client, children)
                running = tracking.search_runs("attributes.status = 'RUNNING'", uri=uri)
                alive, dead = _live_local_runs(running)
                for run in dead:
                    if run.info.run_id not in children and _mark_dead(client, run.info.run_id):
                        _log(f"reconciled run {run.info.run_id}: process gone")
                active = len({r.info.run_id for r in alive} | set(children))
                if active < max_concurrent:
                    # A run resumed while its previous process is still exiting waits for that process.
                    ready = [r for r in _pending_runs(client, uri) if r.info.run_id not in children]
                    for run in ready[: max_concurrent - active]:
                        _start_run(client, uri, run.info.run_id, children)
            except Exception as exc:  # noqa: BLE001 - a busy or vanished store must not kill the queue
                _log(f"worker loop error (retrying): {type(exc).__name__}: {exc}")
            if children or queued_run_ids(uri):
                idle_since = None
            else:
                idle_since = idle_since if idle_since is not None else time.monotonic()
                if time.monotonic() - idle_since >= idle_exit_s:
                    # Let go of the lock, then look once more: a run queued just before we let go was
                    # seen by its ensure_worker as "worker alive", so it is ours to start.
                    _release_lock(fd)
                    fd = None
                    if not queued_run_ids(uri):
                        _log("queue empty; worker exits")
                        return True
                    fd = _try_lock(path)
                    if fd is None:
                        _log("a new worker took over the queue; exiting")
                        return True
                    write_lock_info()
                    idle_since = None
            time.sleep(poll_s)
    finally:
        _release_lock(fd)
        if children:
            _log(f"worker exits while {len(children)} run(s) still train: {', '.join(children)}")
