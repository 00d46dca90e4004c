"""MLflow tracking for ADePT Lab: the one place that writes to the MLflow store.

One idea per module, every name importable from here (``from adept.tracking import RunTracker``):

* :mod:`~adept.tracking.schema`: what a run looks like in MLflow (tags ``adept.*``, statuses, params,
  metrics, artifacts) and the tag-key constants ``TAG_*``;
* :mod:`~adept.tracking.store`: where the store, artifacts, queue and logs live (:func:`adept_home`,
  :func:`tracking_uri`), the client (:func:`get_client`) and experiments (:func:`ensure_experiment`);
* :mod:`~adept.tracking.processes`: which process trains a run and whether it is alive (:func:`pid_alive`);
* :mod:`~adept.tracking.signals`: SIGTERM as :class:`RunKilled`, held during MLflow writes;
* :mod:`~adept.tracking.writer`: :class:`RunTracker`, which writes one run from its training process;
* :mod:`~adept.tracking.reading`: :func:`search_runs`, :func:`runs_dataframe`, :func:`metric_history`;
* :mod:`~adept.tracking.sqlite_fast`: the sqlite fast path behind :func:`runs_dataframe`;
* :mod:`~adept.tracking.artifacts`: :func:`download_artifacts`, :func:`load_json_artifact`;
* :mod:`~adept.tracking.run_logs`: :func:`read_run_log` (a run's training log from any host);
* :mod:`~adept.tracking.mlflow_context`: MLflow's standard tags, dataset inputs and system metrics.

Importing this package imports neither torch nor pandas nor mlflow: the dashboard and a starting training
process pay for them only where they are used.
"""

from adept.tracking.artifacts import (
    download_artifacts,
    load_json_artifact,
    manifest_problem,
    repair_run_artifacts,
)
from adept.tracking.processes import hostname, pid_alive, process_start_ticks
from adept.tracking.reading import BASE_COLUMNS, metric_history, runs_dataframe, search_runs
from adept.tracking.run_logs import read_run_log, upload_run_log
from adept.tracking.schema import (
    DEFAULT_EXPERIMENT,
    LOG_ARTIFACT,
    MAX_PARAM_LENGTH,
    MAX_TAG_LENGTH,
    ROLE_SWEEP,
    TAG_BACKBONE,
    TAG_COMMAND,
    TAG_EXECUTOR,
    TAG_FAILURE,
    TAG_HOST,
    TAG_LOG,
    TAG_METHOD,
    TAG_PID,
    TAG_PID_START,
    TAG_PREVIOUS_FAILURE,
    TAG_PROGRESS,
    TAG_RESUME_CHECK,
    TAG_ROLE,
    TAG_SEED,
    TAG_STOP,
    TAG_SWEEP,
    TAG_TASK,
    TAG_WORKER_PID,
    TERMINAL_STATUSES,
)
from adept.tracking.schema import _truncate as _truncate  # used by adept.launcher
from adept.tracking.signals import RunKilled, install_sigterm_handler
from adept.tracking.store import REPO_ROOT, adept_home, ensure_experiment, get_client, tracking_uri
from adept.tracking.store import _sqlite_path as _sqlite_path  # used by adept.bench
from adept.tracking.writer import RunTracker
from adept.tracking.writer import _json_default as _json_default  # used by adept.analysis

__all__ = [
    "BASE_COLUMNS", "DEFAULT_EXPERIMENT", "MAX_PARAM_LENGTH", "MAX_TAG_LENGTH", "REPO_ROOT", "RunKilled",
    "RunTracker", "TAG_BACKBONE", "TAG_COMMAND", "TAG_FAILURE", "TAG_HOST", "TAG_LOG", "TAG_METHOD", "TAG_PID",
    "TAG_PID_START", "TAG_PREVIOUS_FAILURE", "TAG_PROGRESS", "TAG_RESUME_CHECK", "TAG_SEED", "TAG_STOP",
    "TAG_SWEEP", "TAG_TASK", "TAG_WORKER_PID", "TERMINAL_STATUSES", "adept_home", "download_artifacts",
    "ensure_experiment", "get_client", "hostname", "install_sigterm_handler", "load_json_artifact",
    "manifest_problem", "metric_history", "pid_alive", "process_start_ticks", "repair_run_artifacts",
    "runs_dataframe", "search_runs", "tracking_uri", "read_run_log", "upload_run_log", "LOG_ARTIFACT",
    "ROLE_SWEEP", "TAG_EXECUTOR", "TAG_ROLE",
]
