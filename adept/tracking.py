"""MLflow tracking for ADePT Lab: the one place that writes to the MLflow store.

Everything goes through :class:`mlflow.MlflowClient` with explicit run ids; the fluent API's
"active run" is per thread and per process, while here the app reads from threads and each training
run is its own OS process.

Where things live (``<home>`` = :func:`adept_home`):

* store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<home>/mlflow.db``;
* artifacts of experiment ``<name>``: ``<home>/artifacts/<name>`` (set when the experiment is created);
* run queue and logs (see :mod:`adept.launcher`): ``<home>/queue``, ``<home>/logs``, ``<home>/worker.lock``.

``<home>`` is ``ADEPT_HOME`` if set; else the folder of the sqlite file named by
``MLFLOW_TRACKING_URI`` (so a store and its artifacts stay together); else ``<repo>/mlruns``.

Schema (tags ``adept.*``, params, metrics, artifacts) is described in SPEC.md; this module writes it.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:  # pandas is imported where frames are built: a training process starts faster without it
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPERIMENT = "adept-lab"
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
MAX_TAG_LENGTH = 8000  # well under MLflow's tag limit
FLUSH_EVERY_S = 2.0
FLUSH_EVERY_POINTS = 200
_BATCH_LIMIT = 1000  # MLflow accepts at most 1000 metrics per log_batch call

# Tag keys (the schema in SPEC.md).
TAG_METHOD = "adept.method"
TAG_BACKBONE = "adept.backbone"
TAG_TASK = "adept.task"
TAG_SEED = "adept.seed"
TAG_SWEEP = "adept.sweep"
TAG_FAILURE = "adept.failure"
TAG_PID = "adept.pid"
TAG_PID_START = "adept.pid_start"  # the process's start time (ticks since boot): tells a reused pid apart
TAG_HOST = "adept.host"
TAG_COMMAND = "adept.command"
TAG_PROGRESS = "adept.progress"
TAG_LOG = "adept.log"  # the launcher's log file of the training process
TAG_STOP = "adept.stop_requested"  # set by launcher.stop_run before it signals the process
TAG_WORKER_PID = "adept.worker_pid"  # the launcher worker that started the process

# runs_dataframe column -> tag it comes from.
_TAG_COLUMNS = {
    "method": TAG_METHOD,
    "backbone": TAG_BACKBONE,
    "task": TAG_TASK,
    "seed": TAG_SEED,
    "sweep": TAG_SWEEP,
    "failure": TAG_FAILURE,
    "progress": TAG_PROGRESS,
}
BASE_COLUMNS = [
    "run_id", "run_name", "status", "start_time", "end_time", "experiment", "experiment_id",
    *_TAG_COLUMNS,
]


class RunKilled(Exception):
    """The run was asked to stop (SIGTERM from the launcher's Stop button); it ends KILLED."""


# ----------------------------------------------------------------------------------------------------------
# Locations and the client


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///...`` URI (relative paths resolved against the cwd), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()


def adept_home(uri: str | None = None) -> Path:
    """The folder for the default store, artifacts, queue and logs (see the module docstring)."""
    env = os.environ.get("ADEPT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    uri = uri if uri is not None else os.environ.get("MLFLOW_TRACKING_URI", "")
    db = _sqlite_path(uri) if uri else None
    if db is not None:
        return db.parent
    return REPO_ROOT / "mlruns"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` (a relative sqlite path made absolute) or ``sqlite:///<home>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        db = _sqlite_path(env)
        if db is not None:
            query = env.split("?", 1)[1] if "?" in env else ""
            return f"sqlite:///{db}" + (f"?{query}" if query else "")
        return env
    return f"sqlite:///{adept_home() / 'mlflow.db'}"


def get_client(uri: str | None = None):
    """An ``MlflowClient`` on :func:`tracking_uri` (or ``uri``); creates the sqlite file's folder."""
    from mlflow import MlflowClient

    uri = uri or tracking_uri()
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        _create_schema_once(uri, db)
    return MlflowClient(tracking_uri=uri)


_SCHEMA_READY: set[str] = set()


def _create_schema_once(uri: str, db: Path) -> None:
    """Create a new sqlite store's tables under a file lock. Two processes opening a fresh store at once
    (the app polling while a run starts) otherwise race in MLflow's migrations ("duplicate column")."""
    if uri in _SCHEMA_READY:
        return
    import fcntl

    from mlflow import MlflowClient

    with open(db.parent / (db.name + ".init-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # runs the migrations
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _SCHEMA_READY.add(uri)


def _safe_dirname(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def ensure_experiment(name: str = DEFAULT_EXPERIMENT, *, uri: str | None = None) -> str:
    """The id of experiment ``name``; created with artifact location ``<home>/artifacts/<name>`` if new."""
    from mlflow.exceptions import MlflowException

    name = (name or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT
    client = get_client(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = adept_home(uri) / "artifacts" / _safe_dirname(name)
        location.mkdir(parents=True, exist_ok=True)
        try:
            return client.create_experiment(name, artifact_location=location.as_uri())
        except MlflowException:
            exp = client.get_experiment_by_name(name)  # another process created it at the same moment
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise ValueError(
            f"MLflow experiment {name!r} is deleted: restore it (`mlflow experiments restore "
            f"--experiment-id {exp.experiment_id}`) or use another experiment name."
        )
    return exp.experiment_id


# ----------------------------------------------------------------------------------------------------------
# Processes


def hostname() -> str:
    """This machine's name, stored as tag ``adept.host`` (only runs of this host are reconciled here)."""
    return socket.gethostname()


def process_start_ticks(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int, start_ticks: str | None = None) -> bool:
    """Whether process ``pid`` exists, is not a zombie, and (if given) started at ``start_ticks``.

    ``os.kill(pid, 0)`` alone says yes for a zombie (exited, not yet reaped) and for an unrelated
    process that got the same pid later; ``/proc`` tells both apart where it exists.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not sys.platform.startswith("linux")  # on Linux: it exited between the two checks
    except OSError:
        return True
    fields = stat[stat.rfind(")") + 2:].split()
    if fields and fields[0] in ("Z", "X"):
        return False
    if start_ticks and len(fields) > 19 and fields[19] != str(start_ticks):
        return False
    return True


_KILL_MESSAGE = "stopped by SIGTERM (Stop button or `kill`)"
# SIGTERM bookkeeping: "raised" once the first signal arrived; "depth" > 0 while the main thread is inside
# an MLflow write (a RunKilled there could tear a sqlite transaction and lose buffered points), in which
# case the signal is "pending" and raised when the write is done.
_kill = {"raised": False, "pending": False, "depth": 0}


def install_sigterm_handler() -> None:
    """Make SIGTERM raise :class:`RunKilled` in the main thread (call it from the main thread).

    The first SIGTERM raises (deferred to the end of an MLflow write that is in progress); later ones
    are ignored so that saving the checkpoint is not interrupted (SIGKILL still ends the process;
    :func:`adept.launcher.reconcile` then repairs the run).
    """
    _kill.update(raised=False, pending=False)

    def _handler(signum, frame):  # noqa: ARG001
        if _kill["raised"]:
            return
        _kill["raised"] = True
        if _kill["depth"] > 0 and threading.current_thread() is threading.main_thread():
            _kill["pending"] = True
            return
        raise RunKilled(_KILL_MESSAGE)

    signal.signal(signal.SIGTERM, _handler)


@contextmanager
def _uninterrupted(raise_pending: bool = True):
    """Hold a SIGTERM's RunKilled until the MLflow write inside this block is done."""
    main = threading.current_thread() is threading.main_thread()
    if main:
        _kill["depth"] += 1
    try:
        yield
    finally:
        if main:
            _kill["depth"] -= 1
    if main and _kill["depth"] == 0 and _kill["pending"]:
        _kill["pending"] = False
        if raise_pending:
            raise RunKilled(_KILL_MESSAGE)


# ----------------------------------------------------------------------------------------------------------
# Writing a run


def _truncate(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry(fn, *args, attempts: int = 5, **kwargs):
    """Call ``fn`` (an MLflow write) uninterrupted by SIGTERM, retrying a few times on sqlite's transient
    'database is locked' (several processes write to one store)."""
    with _uninterrupted():
        for i in range(attempts):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - narrowed below
                if i == attempts - 1 or "locked" not in str(exc).lower():
                    raise
                time.sleep(0.2 * (i + 1))
    return None


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
        all_tags = {k: _truncate(v, MAX_TAG_LENGTH) for k, v in (tags or {}).items()} | own
        if run_id:
            from mlflow.exceptions import MlflowException

            try:
                run = self.client.get_run(run_id)
            except MlflowException as exc:
                raise ValueError(f"run {run_id!r} is not in the store {self.uri}: check --run-id "
                                 "and MLFLOW_TRACKING_URI") from exc
            other = _other_live_process(run, pid)
            if other:
                raise ValueError(f"run {run_id} is being trained by process {other} on this machine: stop it "
                                 "first (launcher.stop_run) or train a new run")
            self.run_id = run_id
            self.experiment_id = run.info.experiment_id
            # A resumed run (KILLED/FAILED before) starts again: its old failure reason no longer applies.
            if run.info.status in TERMINAL_STATUSES:
                for stale in (TAG_FAILURE, TAG_STOP):
                    if stale in run.data.tags:
                        _retry(self.client.delete_tag, run_id, stale)
            self._log_tags(all_tags)
            _retry(self.client.update_run, run_id, status="RUNNING", name=run_name or None)
        else:
            self.experiment_id = ensure_experiment(experiment, uri=self.uri)
            run = _retry(self.client.create_run, self.experiment_id, tags=all_tags, run_name=run_name or None)
            self.run_id = run.info.run_id
        self.artifact_uri = run.info.artifact_uri
        self._buffer: list = []
        self._pending_tags: dict[str, str] = {}
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._finished = False
        self.status = "RUNNING"
        _live_trackers.add(self)

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
    def log_params(self, params: dict) -> None:
        """Log a flat dict of params (values ``str()``-ed, cut to 6000 chars).

        MLflow params cannot change: a key already logged with the same value is skipped; with a different
        value it is skipped too, with a warning on stderr (the first value stays).
        """
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        new = []
        for key, value in params.items():
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
        """
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        with self._lock:
            for key, value in metrics.items():
                self._buffer.append(Metric(str(key), float(value), now, int(step)))
            due = (len(self._buffer) >= FLUSH_EVERY_POINTS
                   or time.monotonic() - self._last_flush >= FLUSH_EVERY_S)
        if due:
            self.flush()

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
    if hasattr(obj, "tolist"):  # numpy arrays / scalars, torch tensors
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    return str(obj)


# ----------------------------------------------------------------------------------------------------------
# Reading


def _experiment_ids(client, experiment: str | None) -> dict[str, str]:
    """``{experiment_id: name}`` of ``experiment`` (name or id), or of every active experiment when None."""
    from mlflow.entities import ViewType

    if experiment:
        exp = client.get_experiment_by_name(experiment)
        if exp is None and str(experiment).isdigit():
            try:
                exp = client.get_experiment(str(experiment))
            except Exception:  # noqa: BLE001
                exp = None
        return {exp.experiment_id: exp.name} if exp is not None else {}
    out: dict[str, str] = {}
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
        out.update({e.experiment_id: e.name for e in page})
        token = page.token
        if not token:
            return out


def search_runs(filter_string: str = "", experiment: str | None = None, *, uri: str | None = None,
                order_by: list[str] | None = None) -> list:
    """All runs (``mlflow.entities.Run``) matching ``filter_string`` in ``experiment`` (default: every
    active experiment), newest first; pages through the store 1000 runs at a time."""
    client = get_client(uri)
    ids = list(_experiment_ids(client, experiment))
    if not ids:
        return []
    runs: list = []
    token = None
    while True:
        page = client.search_runs(ids, filter_string=filter_string, max_results=1000,
                                  order_by=order_by or ["attributes.start_time DESC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _records_from_search(experiment: str | None, uri: str | None, filter_string: str) -> list[tuple]:
    """(run_id, run_name, status, start_ms, end_ms, experiment_id, experiment, params, metrics, tags) per run,
    from MLflow's ``search_runs`` (works on every store; ~2 s per 1,000 runs on sqlite, mostly ORM work)."""
    client = get_client(uri)
    names = _experiment_ids(client, experiment)
    runs = search_runs(filter_string, experiment, uri=uri) if names else []
    return [
        (r.info.run_id, r.info.run_name or r.data.tags.get("mlflow.runName", ""), r.info.status,
         r.info.start_time, r.info.end_time, str(r.info.experiment_id), names.get(r.info.experiment_id, ""),
         dict(r.data.params), dict(r.data.metrics), dict(r.data.tags))
        for r in runs
    ]


def _records_from_sqlite(db: Path, experiment: str | None) -> list[tuple]:
    """The same records as :func:`_records_from_search`, read straight from MLflow's sqlite tables
    (runs, experiments, params, latest_metrics, tags) in one read-only snapshot: ~20x faster, which
    matters for a page that polls every few seconds. MLflow's own schema, mlflow pinned to 3.17."""
    import sqlite3

    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot for all five queries
        where = "r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'"
        args: tuple = ()
        if experiment:
            where += " AND (e.name = ? OR CAST(e.experiment_id AS TEXT) = ?)"
            args = (experiment, experiment)
        selected = f"SELECT r.run_uuid FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id " \
                   f"WHERE {where}"
        runs = conn.execute(
            "SELECT r.run_uuid, r.name, r.status, r.start_time, r.end_time, r.experiment_id, e.name "
            f"FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id WHERE {where}", args,
        ).fetchall()
        params: dict[str, dict] = {}
        for run_id, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({selected})", args):
            params.setdefault(run_id, {})[key] = value
        metrics: dict[str, dict] = {}
        for run_id, key, value, is_nan in conn.execute(
                f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN ({selected})",
                args):
            metrics.setdefault(run_id, {})[key] = float("nan") if is_nan else float(value)
        tags: dict[str, dict] = {}
        for run_id, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({selected})", args):
            tags.setdefault(run_id, {})[key] = value
        conn.execute("COMMIT")
    finally:
        conn.close()
    return [
        (rid, name or tags.get(rid, {}).get("mlflow.runName", ""), status, start, end, str(eid), ename,
         params.get(rid, {}), metrics.get(rid, {}), tags.get(rid, {}))
        for rid, name, status, start, end, eid, ename in runs
    ]


def runs_dataframe(experiment: str | None = None, *, uri: str | None = None,
                   filter_string: str = "") -> pd.DataFrame:
    """One row per run, newest first (1,000 runs: ~0.1 s on a sqlite store, ~2 s through ``search_runs``).

    Columns: run_id, run_name, status, start_time, end_time (UTC timestamps), experiment, experiment_id,
    method, backbone, task, seed (Int64), sweep, failure, progress (from the ``adept.*`` tags; "" when
    missing), then ``params.<k>`` (str), ``metrics.<k>`` (last value, float) and ``tags.<k>`` (str), like
    ``mlflow.search_runs``. ``experiment`` (name or id) None means every active experiment.
    ``filter_string`` is MLflow's search syntax (e.g. ``"tags.`adept.task` = 'rotten-tomatoes'"``).

    A sqlite store without a filter is read with one SQL snapshot; anything else (or any error there)
    goes through ``MlflowClient.search_runs``, paged 1,000 at a time. Both give the same frame.
    """

    uri = uri or tracking_uri()
    db = _sqlite_path(uri)
    records = None
    if db is not None and not filter_string and os.environ.get("ADEPT_FAST_READ", "1") != "0":
        try:
            records = _records_from_sqlite(db, experiment)
        except Exception:  # noqa: BLE001 - schema drift or a locked file: the portable path still works
            records = None
    if records is None:
        records = _records_from_search(experiment, uri, filter_string)
    return _frame(records)


def _frame(records: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for run_id, run_name, status, start, end, exp_id, exp_name, params, metrics, tags in records:
        row = {"run_id": run_id, "run_name": run_name or "", "status": status, "start_time": start,
               "end_time": end, "experiment": exp_name, "experiment_id": exp_id}
        for col, tag in _TAG_COLUMNS.items():
            row[col] = tags.get(tag, "")
        row.update({f"params.{k}": v for k, v in params.items()})
        row.update({f"metrics.{k}": v for k, v in metrics.items()})
        row.update({f"tags.{k}": v for k, v in tags.items()})
        rows.append(row)
    df = pd.DataFrame.from_records(rows, columns=None if rows else BASE_COLUMNS)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(pd.to_numeric(df[col]), unit="ms", utc=True)
    df["seed"] = pd.to_numeric(df["seed"].replace("", None), errors="coerce").astype("Int64")
    metric_cols = [c for c in df.columns if c.startswith("metrics.")]
    if metric_cols:
        df[metric_cols] = df[metric_cols].astype(float)
    extra = sorted(c for c in df.columns if c not in BASE_COLUMNS)
    ordered = BASE_COLUMNS + [c for p in ("params.", "metrics.", "tags.") for c in extra if c.startswith(p)]
    df = df[ordered].sort_values(["start_time", "run_id"], ascending=[False, True], kind="stable")
    return df.reset_index(drop=True)


def metric_history(run_ids: list[str], keys: list[str] | None, *, uri: str | None = None) -> pd.DataFrame:
    """Every logged point of metrics ``keys`` (None: all of each run's metrics) of ``run_ids``.

    Long format, sorted by run_id, key, step: columns run_id, key, step (int), value (float),
    timestamp (UTC). Unknown run ids or keys give no rows.
    """
    import pandas as pd
    from mlflow.exceptions import MlflowException

    client = get_client(uri)
    rows: list[tuple] = []
    for run_id in dict.fromkeys(run_ids):
        run_keys = keys
        if not run_keys:
            try:
                run_keys = sorted(client.get_run(run_id).data.metrics)
            except MlflowException:
                continue
        for key in run_keys:
            try:
                points = client.get_metric_history(run_id, key)
            except MlflowException:
                continue
            rows.extend((run_id, key, m.step, m.value, m.timestamp) for m in points)
    df = pd.DataFrame(rows, columns=["run_id", "key", "step", "value", "timestamp"])
    df["step"] = df["step"].astype("int64")
    df["value"] = df["value"].astype(float)
    df["timestamp"] = pd.to_datetime(df["timestamp"].astype("int64"), unit="ms", utc=True)
    return df.sort_values(["run_id", "key", "step", "timestamp"], kind="stable").reset_index(drop=True)


def _local_artifact_dir(client, run_id: str) -> Path | None:
    uri = client.get_run(run_id).info.artifact_uri
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def download_artifacts(run_id: str, path: str = "", *, uri: str | None = None) -> str:
    """A local path to artifact ``path`` (file or folder) of ``run_id``. Raises ValueError if missing.

    For a local artifact store this is the stored file itself (no copy: read it, do not modify it);
    otherwise a download into a temporary folder.
    """
    from mlflow.exceptions import MlflowException

    client = get_client(uri)
    try:
        local = _local_artifact_dir(client, run_id)
    except MlflowException as exc:
        raise ValueError(f"run {run_id!r} not found in {uri or tracking_uri()}") from exc
    if local is not None:
        target = local / path if path else local
        if target.exists():
            return str(target)
        raise ValueError(f"run {run_id} has no artifact {path!r}")
    try:
        return client.download_artifacts(run_id, path, dst_path=tempfile.mkdtemp(prefix="adept-artifacts-"))
    except (MlflowException, OSError) as exc:
        raise ValueError(f"run {run_id} has no artifact {path!r}: {exc}") from exc


def load_json_artifact(run_id: str, artifact_file: str, *, uri: str | None = None) -> dict | list | None:
    """The parsed JSON artifact ``artifact_file`` of ``run_id``, or None if the run or file is missing."""
    try:
        path = download_artifacts(run_id, artifact_file, uri=uri)
    except ValueError:
        return None
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"artifact {artifact_file!r} of run {run_id} is not valid JSON: {exc}") from exc
