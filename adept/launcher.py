"""Run queue: every run is its own OS process, started by one background worker per store.

The queue lives on disk and in MLflow, never in the app's memory, so a browser refresh or an app
restart loses nothing:

* :func:`enqueue` validates the config, creates the MLflow run with status ``SCHEDULED`` (tags, params,
  ``config.json`` artifact) and writes the config to ``<home>/queue/<run_id>.json``;
* the worker (``python -m adept worker``, :func:`worker_main`) claims the oldest queued runs by renaming
  their file to ``<home>/queue/started/<run_id>.json`` (a rename is atomic, so a run is either claimed
  by the worker or cancelled by :func:`stop_run`, never both) and starts
  ``python -m adept train --config <that file> --run-id <run_id>`` in its own session, output to
  ``<home>/logs/<run_id>.log``, at most ``max_concurrent`` at a time (runs started by hand on this
  machine count too);
* one worker at a time: it holds an exclusive ``flock`` on ``<home>/worker.lock`` (pid inside). The
  kernel drops the lock when the worker dies, so a stale lock file (dead pid) is simply taken over;
* :func:`reconcile` repairs runs left RUNNING by a process that died without reporting (SIGKILL, out of
  memory, power loss): RUNNING runs of this host whose ``adept.pid`` is gone become FAILED.

``<home>`` is :func:`adept.tracking.adept_home` (``ADEPT_HOME``, default ``<repo>/mlruns``).
Concurrency: ``ADEPT_MAX_CONCURRENT`` (default 1: one run uses both cores of a small CPU machine).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from adept import tracking
from adept.tracking import (
    TAG_FAILURE,
    TAG_HOST,
    TAG_LOG,
    TAG_PID,
    TAG_PID_START,
    TAG_STOP,
    TAG_WORKER_PID,
)

CANCELLED_REASON = "cancelled before start"
DIED_REASON = "training process ended without reporting (killed or crashed); see log"


# ----------------------------------------------------------------------------------------------------------
# Places


def _uri(tracking_uri: str | None) -> str:
    return tracking_uri or tracking.tracking_uri()


def queue_dir(tracking_uri: str | None = None) -> Path:
    """``<home>/queue``: one ``<run_id>.json`` config per queued run."""
    return tracking.adept_home(_uri(tracking_uri)) / "queue"


def _started_dir(tracking_uri: str | None = None) -> Path:
    return queue_dir(tracking_uri) / "started"


def logs_dir(tracking_uri: str | None = None) -> Path:
    """``<home>/logs``: ``worker.log`` and one ``<run_id>.log`` per started run."""
    return tracking.adept_home(_uri(tracking_uri)) / "logs"


def lock_path(tracking_uri: str | None = None) -> Path:
    """``<home>/worker.lock``: held (flock) by the live worker, with its pid inside."""
    return tracking.adept_home(_uri(tracking_uri)) / "worker.lock"


def run_log_path(run_id: str, tracking_uri: str | None = None) -> Path:
    """The log file of run ``run_id``'s training process (exists once the worker started it)."""
    return logs_dir(tracking_uri) / f"{run_id}.log"


def _child_env(uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = uri
    env["ADEPT_HOME"] = str(tracking.adept_home(uri))
    env["PYTHONUNBUFFERED"] = "1"
    root = str(tracking.REPO_ROOT)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _default_concurrency() -> int:
    raw = os.environ.get("ADEPT_MAX_CONCURRENT", "1")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"ADEPT_MAX_CONCURRENT={raw!r}: set it to a whole number of runs at once (>= 1).")
    return value


def _write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def _log(message: str) -> None:
    print(time.strftime("%Y-%m-%d %H:%M:%S"), message, flush=True)


# ----------------------------------------------------------------------------------------------------------
# Config


def _validated_config(config: dict) -> dict:
    """The full config (every RunConfig field) after ``RunConfig.from_dict(config).validate()``.

    Relative ``data_file`` / ``data_dir`` paths are made absolute, because the run process starts in the
    repository root, not in the caller's working directory.
    """
    from adept.training import RunConfig

    if not isinstance(config, dict):
        raise ValueError(f"A run config must be a dict of RunConfig fields, got {type(config).__name__}.")
    config = dict(config)
    for key in ("data_file", "data_dir"):
        if config.get(key):
            config[key] = str(Path(config[key]).expanduser().resolve())
    cfg = RunConfig.from_dict(config)
    cfg.method = str(cfg.method).lower()
    cfg.validate()
    return cfg.to_dict()


def reproduce_command(config: dict) -> str:
    """The ``python -m adept train ...`` line that reruns ``config`` (flags for non-default fields)."""
    from adept.training import RunConfig
    from adept.training import reproduce_command as _command

    return _command(RunConfig.from_dict(dict(config)))


def _run_name(config: dict) -> str:
    from adept.training import RunConfig

    return RunConfig.from_dict(dict(config)).display_name()


# ----------------------------------------------------------------------------------------------------------
# Queue operations


def enqueue(config: dict, *, tracking_uri: str | None = None, start_worker: bool = True) -> str:
    """Queue one run; returns its MLflow run id.

    Validates ``config`` (``ValueError`` naming every bad field), creates the run SCHEDULED with the
    ``adept.*`` tags, the config as params and ``config.json``, writes ``<home>/queue/<run_id>.json``,
    then (``start_worker``) makes sure a worker is running (:func:`ensure_worker`).
    """
    from mlflow.entities import Param

    uri = _uri(tracking_uri)
    full = _validated_config(config)
    client = tracking.get_client(uri)
    experiment_id = tracking.ensure_experiment(full.get("experiment") or tracking.DEFAULT_EXPERIMENT, uri=uri)
    task = Path(full["data_file"]).stem if full.get("data_file") else full["task"]
    tags = {
        tracking.TAG_METHOD: full["method"], tracking.TAG_BACKBONE: full["backbone"], tracking.TAG_TASK: task,
        tracking.TAG_SEED: str(full["seed"]), tracking.TAG_SWEEP: full.get("sweep") or "",
        tracking.TAG_COMMAND: reproduce_command(full), TAG_HOST: tracking.hostname(),
        tracking.TAG_PROGRESS: f"0/{full['max_steps']}",
    }
    run = client.create_run(experiment_id, tags=tags, run_name=_run_name(full))
    run_id = run.info.run_id
    try:
        # The same strings training logs (str of each field), so its log_params finds nothing to change.
        params = [Param(k, tracking._truncate(v, tracking.MAX_PARAM_LENGTH)) for k, v in full.items()
                  if k != "extra"]
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i:i + 100])
        client.log_text(run_id, json.dumps(full, indent=2), "config.json")
        client.update_run(run_id, status="SCHEDULED")
        _write_json_atomic(queue_dir(uri) / f"{run_id}.json", full)
    except Exception as exc:
        client.set_tag(run_id, TAG_FAILURE, f"could not queue the run: {type(exc).__name__}: {exc}")
        client.set_terminated(run_id, status="FAILED")
        raise
    if start_worker:
        ensure_worker(tracking_uri=uri)
    return run_id


def queued_run_ids(tracking_uri: str | None = None) -> list[str]:
    """Run ids waiting in the queue (config file present), oldest file first."""
    folder = queue_dir(tracking_uri)
    if not folder.is_dir():
        return []
    files = []
    for f in folder.glob("*.json"):
        try:
            files.append((f.stat().st_mtime, f.stem))
        except FileNotFoundError:
            continue  # claimed or cancelled while listing
    return [rid for _, rid in sorted(files)]


def _cancel(client, run_id: str, reason: str = CANCELLED_REASON) -> None:
    client.set_tag(run_id, TAG_FAILURE, reason)
    client.set_terminated(run_id, status="KILLED")


def _take_out_of_queue(run_id: str, uri: str) -> bool:
    """Remove the run's queue file; True if we removed it (the worker can no longer start it)."""
    try:
        (queue_dir(uri) / f"{run_id}.json").unlink()
        return True
    except FileNotFoundError:
        return False


def stop_run(run_id: str, *, tracking_uri: str | None = None, wait_s: float = 5.0) -> str:
    """Stop one run; returns a sentence saying what was done.

    SCHEDULED: taken out of the queue and marked KILLED ("cancelled before start").
    RUNNING: SIGTERM to its training process (``adept.pid``); training saves a checkpoint and ends
    KILLED (if it dies before it can, the worker or :func:`reconcile` marks it KILLED). A run whose process
    is already gone is marked KILLED at once. Raises ValueError for an unknown run or one on another host.
    """
    from mlflow.exceptions import MlflowException

    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ValueError(f"No run {run_id!r} in {uri}: pick a run from the Runs table.") from exc
    status = run.info.status
    if status == "SCHEDULED":
        if _take_out_of_queue(run_id, uri) or not (_started_dir(uri) / f"{run_id}.json").exists():
            _cancel(client, run_id)
            return f"Cancelled queued run {run_id}: it never started."
        # The worker claimed it a moment ago: wait until it is RUNNING, then stop it like any running run.
        deadline = time.monotonic() + wait_s
        while status == "SCHEDULED" and time.monotonic() < deadline:
            time.sleep(0.1)
            run = client.get_run(run_id)
            status = run.info.status
    if status != "RUNNING":
        if status == "SCHEDULED":
            _cancel(client, run_id, "cancelled while its process was starting")
            return f"Cancelled run {run_id} while it was starting."
        return f"Run {run_id} is already {status}: nothing to stop."
    tags = run.data.tags
    host = tags.get(TAG_HOST)
    if host and host != tracking.hostname():
        raise ValueError(f"Run {run_id} is training on host {host!r}: stop it from that machine.")
    client.set_tag(run_id, TAG_STOP, "1")
    deadline = time.monotonic() + wait_s
    while tags.get(TAG_PID) and tags.get(TAG_PID) == tags.get(TAG_WORKER_PID) and time.monotonic() < deadline:
        time.sleep(0.1)  # the worker records its own pid until the child exists
        tags = client.get_run(run_id).data.tags
    pid = _int(tags.get(TAG_PID))
    if pid and pid == _int(tags.get(TAG_WORKER_PID)):  # never signal the worker itself
        return f"Run {run_id} is still starting: press Stop again in a moment."
    if pid and tracking.pid_alive(pid, tags.get(TAG_PID_START)):
        try:
            os.kill(pid, signal.SIGTERM)
            return (f"Sent SIGTERM to run {run_id} (pid {pid}): it saves a checkpoint and ends KILLED "
                    "within a training step.")
        except ProcessLookupError:
            pass
    current = client.get_run(run_id).info.status
    if current != "RUNNING":
        return f"Run {run_id} ended ({current}) before it could be stopped."
    _cancel(client, run_id, "stopped by user; its training process was already gone")
    return f"Run {run_id} had no live training process: marked KILLED."


def stop_queue(*, tracking_uri: str | None = None) -> int:
    """Cancel every queued (SCHEDULED) run; running ones continue. Returns how many were cancelled."""
    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    count = 0
    for run_id in queued_run_ids(uri):
        if _take_out_of_queue(run_id, uri):
            try:
                if client.get_run(run_id).info.status == "SCHEDULED":
                    _cancel(client, run_id)
                    count += 1
            except Exception:  # noqa: BLE001 - a queue file whose run is gone: removing it was enough
                continue
    # SCHEDULED runs without a queue file (store copied from elsewhere, queue folder deleted) never start.
    for run in tracking.search_runs("attributes.status = 'SCHEDULED'", uri=uri):
        rid = run.info.run_id
        if not (queue_dir(uri) / f"{rid}.json").exists() and not (_started_dir(uri) / f"{rid}.json").exists():
            _cancel(client, rid)
            count += 1
    return count


def rerun(run_id: str, *, tracking_uri: str | None = None, start_worker: bool = True) -> str:
    """Queue a new run with ``run_id``'s ``config.json`` (from scratch: ``resume_from`` dropped)."""
    uri = _uri(tracking_uri)
    config = tracking.load_json_artifact(run_id, "config.json", uri=uri)
    if not isinstance(config, dict):
        raise ValueError(f"Run {run_id} has no config.json artifact, so it cannot be re-run: "
                         "launch it from the form.")
    config.pop("resume_from", None)
    return enqueue(config, tracking_uri=uri, start_worker=start_worker)


def resume(run_id: str, *, tracking_uri: str | None = None, start_worker: bool = True) -> str:
    """Queue a stopped (KILLED / FAILED) run again to continue from its ``checkpoint/`` artifact.

    The same run id goes back to SCHEDULED; training is started with ``resume_from = run_id``.
    """
    from mlflow.exceptions import MlflowException

    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ValueError(f"No run {run_id!r} in {uri}.") from exc
    if run.info.status not in ("KILLED", "FAILED"):
        raise ValueError(f"Run {run_id} is {run.info.status}: only a KILLED or FAILED run can be resumed.")
    tags = run.data.tags
    pid = _int(tags.get(TAG_PID))
    if pid and tags.get(TAG_HOST) == tracking.hostname() and tracking.pid_alive(pid, tags.get(TAG_PID_START)):
        raise ValueError(f"Run {run_id}'s process (pid {pid}) is still saving and exiting: "
                         "resume it in a moment.")
    config = tracking.load_json_artifact(run_id, "config.json", uri=uri)
    if not isinstance(config, dict):
        raise ValueError(f"Run {run_id} has no config.json artifact: it cannot be resumed.")
    try:
        tracking.download_artifacts(run_id, "checkpoint/state.json", uri=uri)
    except ValueError as exc:
        raise ValueError(f"Run {run_id} saved no checkpoint: Re-run it from scratch instead.") from exc
    config["resume_from"] = run_id
    full = _validated_config(config)
    for stale in (TAG_FAILURE, TAG_STOP):
        if stale in run.data.tags:
            client.delete_tag(run_id, stale)
    client.update_run(run_id, status="SCHEDULED")
    _write_json_atomic(queue_dir(uri) / f"{run_id}.json", full)
    if start_worker:
        ensure_worker(tracking_uri=uri)
    return run_id


def wait_for(run_ids: list[str], *, timeout_s: float | None = None, poll_s: float = 2.0,
             tracking_uri: str | None = None) -> dict[str, str]:
    """Block until every run in ``run_ids`` is FINISHED/FAILED/KILLED (or ``timeout_s``); their statuses."""
    client = tracking.get_client(_uri(tracking_uri))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        statuses = {rid: client.get_run(rid).info.status for rid in run_ids}
        if all(s in tracking.TERMINAL_STATUSES for s in statuses.values()):
            return statuses
        if deadline is not None and time.monotonic() >= deadline:
            return statuses
        time.sleep(poll_s)


# ----------------------------------------------------------------------------------------------------------
# Liveness and repair


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


# ----------------------------------------------------------------------------------------------------------
# The worker


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


def _worker_command(max_concurrent: int) -> list[str]:
    return [sys.executable, "-m", "adept", "worker", "--max-concurrent", str(max_concurrent)]


def _train_command(config_path: Path, run_id: str) -> list[str]:
    return [sys.executable, "-m", "adept", "train", "--config", str(config_path), "--run-id", run_id]


def _reap_in_background(proc: subprocess.Popen) -> None:
    # Nobody else waits for this child: without a wait it would stay a zombie until the caller exits.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()


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
    with open(logs / "worker.log", "ab") as out:
        proc = subprocess.Popen(_worker_command(n), cwd=str(tracking.REPO_ROOT), env=_child_env(uri),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _reap_in_background(proc)
    return proc.pid


def analysis_log_path(run_id: str, tracking_uri: str | None = None) -> Path:
    """The log of run ``run_id``'s background analysis (:func:`start_analysis`): ``<home>/logs/analyze-<id>.log``."""
    return logs_dir(tracking_uri) / f"analyze-{run_id}.log"


def start_analysis(run_id: str, tracking_uri: str | None = None) -> Path:
    """Start ``python -m adept analyze RUN_ID`` detached (own session, like a run) on the same store; output to
    :func:`analysis_log_path`, which is returned. The results land in the run's ``analysis/`` artifacts
    (``adept.analysis.load_analysis``); the caller never waits for it."""
    uri = _uri(tracking_uri)
    log = analysis_log_path(run_id, uri)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "adept", "analyze", run_id], cwd=str(tracking.REPO_ROOT),
                                env=_child_env(uri), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _reap_in_background(proc)
    return log


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
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(_train_command(dst, run_id), cwd=str(tracking.REPO_ROOT),
                                    env=_child_env(uri), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
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

    Loop every ``poll_s``: collect exited children, :func:`reconcile`, count live runs on this host
    (the worker's children plus runs started by hand), start the oldest queued runs up to the limit.
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
