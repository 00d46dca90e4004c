"""Writing a run from the training process: :class:`RunTracker`.

Everything goes through :class:`mlflow.MlflowClient` with explicit run ids; the fluent API's "active
run" is per thread and per process, while here the app reads from threads and each training run is its
own OS process. Writes are retried on sqlite's transient "database is locked" (several processes write
to one store) and are never torn by a SIGTERM (:mod:`adept.tracking.signals`). Per-step metrics are
buffered and sent in batches: a single ``log_metric`` to sqlite costs ~11 ms.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from adept.tracking.mlflow_context import SystemMetrics, log_task_inputs, standard_tags
from adept.tracking.processes import hostname, pid_alive, process_start_ticks
from adept.tracking.schema import (
    DEFAULT_EXPERIMENT,
    MAX_PARAM_LENGTH,
    MAX_TAG_LENGTH,
    TAG_FAILURE,
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    TAG_PREVIOUS_FAILURE,
    TAG_PROGRESS,
    TAG_RESUME_CHECK,
    TAG_STOP,
    TERMINAL_STATUSES,
    _truncate,
)
from adept.tracking.signals import RunKilled, _uninterrupted
from adept.tracking.store import ensure_experiment, get_client, tracking_uri

FLUSH_EVERY_S = 2.0
FLUSH_EVERY_POINTS = 200
_BATCH_LIMIT = 1000  # MLflow accepts at most 1000 metrics per log_batch call


def lock_wait_s() -> float:
    """How long a write waits out sqlite's "database is locked" before it fails: ``ADEPT_DB_LOCK_WAIT_S``
    (default 120 s; another process may hold the store for a while, e.g. a backup or a long migration)."""
    try:
        return max(0.0, float(os.environ.get("ADEPT_DB_LOCK_WAIT_S", "120")))
    except ValueError:
        return 120.0


def _is_lock_error(exc: BaseException) -> bool:
    return "locked" in str(exc).lower()  # sqlite's "database is locked" / "database table is locked"


def _retry(fn, *args, **kwargs):
    """Call ``fn`` (an MLflow read or write) uninterrupted by SIGTERM, retrying on sqlite's transient
    'database is locked' (several processes write to one store) for up to :func:`lock_wait_s`."""
    with _uninterrupted():
        deadline = time.monotonic() + lock_wait_s()
        delay = 0.2
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - narrowed below
                if not _is_lock_error(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(2.0, delay * 1.5)


_live_trackers: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _finish_abandoned_trackers() -> None:
    # A tracker used without `with` whose process exits normally must not stay RUNNING.
    for tracker in list(_live_trackers):
        try:
            tracker.finish("FAILED", reason="process exited without finishing the run")
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def _other_live_process(run, own_pid: int) -> int | None:
    """The pid of another live process on this host that trains ``run`` (RUNNING), else None.

    The launcher's worker (our parent) records its own pid while it starts us: that one is allowed.
    """
    tags = run.data.tags
    if run.info.status != "RUNNING" or tags.get(TAG_HOST) != hostname():
        return None
    try:
        pid = int(tags.get(TAG_PID, "0"))
    except ValueError:
        return None
    if pid in (0, own_pid, os.getppid()) or not pid_alive(pid, tags.get(TAG_PID_START)):
        return None
    return pid


class RunTracker:
    """One MLflow run, written from the training process.

    Continues run ``run_id`` (created SCHEDULED by the launcher, or a KILLED run being resumed: set
    RUNNING, old ``adept.failure`` removed; refused while another live process trains it) or creates a
    new run in ``experiment``. Sets tags ``adept.pid``, ``adept.pid_start``, ``adept.host``.
    Per-step metrics are buffered and sent with one ``log_batch`` every ~2 s or 200 points (a single
    ``log_metric`` to sqlite costs ~11 ms). As a context manager it never leaves the run RUNNING: a
    normal exit ends FINISHED, an exception FAILED with tag ``adept.failure = "<ExcType>: <msg>"``, and
    :class:`RunKilled` or ``KeyboardInterrupt`` KILLED.
    """

    def __init__(self, *, experiment: str = DEFAULT_EXPERIMENT, run_name: str = "",
                 tags: dict[str, str] | None = None, run_id: str | None = None, uri: str | None = None):
        self.uri = uri or tracking_uri()
        self.client = get_client(self.uri)
        pid = os.getpid()
        own = {TAG_PID: str(pid), TAG_HOST: hostname()}
        ticks = process_start_ticks(pid)
        if ticks:
            own[TAG_PID_START] = ticks
        all_tags = standard_tags() | {k: _truncate(v, MAX_TAG_LENGTH) for k, v in (tags or {}).items()} | own
        if run_id:
            from mlflow.exceptions import MlflowException

            try:
                run = _retry(self.client.get_run, run_id)
            except MlflowException as exc:
                raise ValueError(f"run {run_id!r} is not in the store {self.uri}: check --run-id "
                                 "and MLFLOW_TRACKING_URI") from exc
            other = _other_live_process(run, pid)
            if other:
                raise ValueError(f"run {run_id} is being trained by process {other} on this machine: stop it "
                                 "first (launcher.stop_run) or train a new run")
            self.run_id = run_id
            self.experiment_id = run.info.experiment_id
            # A resumed run (KILLED/FAILED before) starts again: its old failure reason no longer applies. It
            # is kept as adept.previous_failure (callers validate a resume before they get here).
            old_reason = run.data.tags.get(TAG_FAILURE)
            if old_reason:
                all_tags[TAG_PREVIOUS_FAILURE] = old_reason
            for stale in (TAG_FAILURE, TAG_STOP):
                if stale in run.data.tags:
                    _retry(self.client.delete_tag, run_id, stale)
            self._logged = self._logged_points(run)
            self._log_tags(all_tags)
            _retry(self.client.update_run, run_id, status="RUNNING", name=run_name or None)
        else:
            self.experiment_id = _retry(ensure_experiment, experiment, uri=self.uri)
            self._logged = {}
            run = _retry(self.client.create_run, self.experiment_id, tags=all_tags, run_name=run_name or None)
            self.run_id = run.info.run_id
        self.artifact_uri = run.info.artifact_uri
        self._buffer: list = []
        self._pending_tags: dict[str, str] = {}
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._finished = False
        self.status = "RUNNING"
        self._system_metrics: SystemMetrics | None = None
        self.recomputed = {"points": 0, "differ": 0, "max_abs_diff": 0.0}
        _live_trackers.add(self)

    def _logged_points(self, run) -> dict[str, dict[int, float]]:
        """``{key: {step: value}}`` of what the run logged before (a resumed run recomputes some of it)."""
        out: dict[str, dict[int, float]] = {}
        for key in run.data.metrics:
            history = _retry(self.client.get_metric_history, run.info.run_id, key)
            out[key] = {int(m.step): float(m.value) for m in history}
        return out

    # -- context manager ---------------------------------------------------------------------------------
    def __enter__(self) -> RunTracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.finish("FINISHED")
        elif issubclass(exc_type, (RunKilled, KeyboardInterrupt)):
            self.finish("KILLED", reason=f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__)
        elif issubclass(exc_type, SystemExit) and exc.code in (0, None):
            self.finish("FINISHED")
        else:
            self.finish("FAILED", reason=f"{exc_type.__name__}: {exc}")
        return False  # re-raise

    # -- logging -----------------------------------------------------------------------------------------
    def start_system_metrics(self, resume: bool = False) -> None:
        """Start MLflow's system-metrics sampler on this run (stopped by :meth:`finish`; see
        :class:`~adept.tracking.mlflow_context.SystemMetrics`). ``resume``: continue its step count."""
        if self._system_metrics is None:
            self._system_metrics = SystemMetrics(self.run_id, self.uri, resume=resume)

    def log_task_inputs(self, task, used: dict[str, list]) -> None:
        """The task's splits as MLflow dataset inputs (:func:`~adept.tracking.mlflow_context.log_task_inputs`)."""
        _retry(log_task_inputs, self.client, self.run_id, task, used)

    def log_params(self, params: dict) -> None:
        """Log a flat dict of params (values ``str()``-ed, cut to 6000 chars; ``None`` values, unset fields, are
        left out rather than logged as the string "None").

        MLflow params cannot change: a key already logged with the same value is skipped; with a different
        value it is skipped too, with a warning on stderr (the first value stays).
        """
        from mlflow.entities import Param

        existing = _retry(self.client.get_run, self.run_id).data.params
        new = []
        for key, value in params.items():
            if value is None:
                continue
            text = _truncate(value, MAX_PARAM_LENGTH)
            if key in existing:
                if existing[key] != text:
                    print(f"adept.tracking: param {key!r} already logged as {existing[key]!r}; "
                          f"not changed to {text!r}", file=sys.stderr)
                continue
            new.append(Param(str(key), text))
        for i in range(0, len(new), 100):  # MLflow accepts at most 100 params per batch
            _retry(self.client.log_batch, self.run_id, params=new[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Buffer ``metrics`` at ``step`` (timestamp = now); flushed every ~2 s or 200 points.

        Non-finite values (nan, inf) are kept: MLflow stores them, and a diverging loss is worth seeing.
        A point the run already holds (a resumed run recomputing the steps after its checkpoint) is not
        logged again; its new value is compared with the stored one (:attr:`recomputed`, tag
        ``adept.resume_check``), timings excepted.
        """
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        with self._lock:
            for key, value in metrics.items():
                old = self._logged.get(str(key), {}).get(int(step))
                if old is not None:
                    if not str(key).startswith("time/"):
                        self._compare(float(value), old)
                    continue
                self._buffer.append(Metric(str(key), float(value), now, int(step)))
            due = (len(self._buffer) >= FLUSH_EVERY_POINTS
                   or time.monotonic() - self._last_flush >= FLUSH_EVERY_S)
        if due:
            self.flush()

    def _compare(self, new: float, old: float) -> None:
        import math

        check = self.recomputed
        check["points"] += 1
        same = new == old or (math.isnan(new) and math.isnan(old))
        if not same:
            check["differ"] += 1
            diff = abs(new - old)
            check["max_abs_diff"] = max(check["max_abs_diff"], diff if math.isfinite(diff) else math.inf)

    def resume_check(self) -> str | None:
        """One line on the recomputed points, or None when nothing was recomputed."""
        c = self.recomputed
        if not c["points"]:
            return None
        if not c["differ"]:
            return f"exact: {c['points']} point(s) logged before the resume were recomputed identical"
        return (f"inexact: {c['differ']} of {c['points']} recomputed point(s) differ from those logged before "
                f"the resume (max |diff| {c['max_abs_diff']:.3g})")

    def set_progress(self, step: int, total: int) -> None:
        """Record tag ``adept.progress = "step/total"``; written with the next flush (no extra write)."""
        with self._lock:
            self._pending_tags[TAG_PROGRESS] = f"{int(step)}/{int(total)}"

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set run tags now (values ``str()``-ed)."""
        self._log_tags(tags)

    def _log_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(str(k), _truncate(v, MAX_TAG_LENGTH)) for k, v in tags.items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, self.run_id, tags=items[i:i + 100])

    def flush(self) -> None:
        """Send buffered metrics (and the pending progress tag) with ``log_batch``, 1000 metrics a call."""
        from mlflow.entities import RunTag

        with self._lock:
            metrics, self._buffer = self._buffer, []
            tags = [RunTag(k, v) for k, v in self._pending_tags.items()]
            self._pending_tags = {}
            self._last_flush = time.monotonic()
        sent = 0
        with _uninterrupted():  # a SIGTERM here is raised after the bookkeeping, never between
            try:
                while sent < len(metrics) or tags:
                    chunk = metrics[sent:sent + _BATCH_LIMIT]
                    _retry(self.client.log_batch, self.run_id, metrics=chunk, tags=tags)
                    sent += len(chunk)
                    tags = []
            except Exception:
                with self._lock:  # keep what was not sent, so a later flush can try again
                    self._buffer = metrics[sent:] + self._buffer
                raise

    def log_json(self, obj: Any, artifact_file: str) -> None:
        """Write ``obj`` as JSON to artifact ``artifact_file`` (e.g. ``"analysis/norms.json"``)."""
        self.log_text(json.dumps(obj, indent=2, default=_json_default), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Write ``text`` to artifact ``artifact_file``."""
        _retry(self.client.log_text, self.run_id, text, artifact_file)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy the files of ``local_dir`` into the run's artifacts (under ``artifact_path``)."""
        _retry(self.client.log_artifacts, self.run_id, str(local_dir), artifact_path)

    def log_folder(self, local_dir: str | Path, artifact_path: str) -> None:
        """Store folder ``local_dir`` as artifact ``artifact_path`` whole: a manifest (size + sha256 of each
        file) goes in first; on a local artifact store the old folder is swapped for the new one, so a
        process killed mid-write leaves the previous version, never half of each."""
        from adept.tracking.artifacts import _local_artifact_dir, replace_folder, write_manifest

        write_manifest(local_dir)
        with _uninterrupted():
            root = _retry(_local_artifact_dir, self.client, self.run_id)
            if root is None:
                _retry(self.client.log_artifacts, self.run_id, str(local_dir), artifact_path)
            else:
                replace_folder(local_dir, root / artifact_path)

    def finish(self, status: str = "FINISHED", reason: str | None = None) -> None:
        """Flush, set tag ``adept.failure = reason`` when given, end the run with ``status``. Idempotent.

        The terminal status is set even if the flush fails (the flush error is then recorded in the reason).
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish status must be one of {TERMINAL_STATUSES}, got {status!r}")
        if self._finished:
            return
        self._finished = True
        _live_trackers.discard(self)
        # Ending the run is not interrupted by a SIGTERM (one arriving now finds the run already ending).
        with _uninterrupted(raise_pending=False):
            if self._system_metrics is not None:
                self._system_metrics.stop()
            check = self.resume_check()
            if check:
                with self._lock:
                    self._pending_tags[TAG_RESUME_CHECK] = check
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the run must still end
                reason = (reason + "; " if reason else "") + f"could not send last metrics: {exc}"
                if status == "FINISHED":
                    status = "FAILED"
            if reason:
                try:
                    _retry(self.client.set_tag, self.run_id, TAG_FAILURE, _truncate(reason, MAX_TAG_LENGTH))
                except Exception:  # noqa: BLE001
                    pass
            _retry(self.client.set_terminated, self.run_id, status=status)
        self.status = status


def _json_default(obj: Any) -> Any:
    """How :meth:`RunTracker.log_json` writes what JSON has no type for: arrays as lists, paths and the
    rest as strings, dataclasses as dicts."""
    if hasattr(obj, "tolist"):  # numpy arrays / scalars, torch tensors
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    return str(obj)
