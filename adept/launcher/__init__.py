"""Run queue: every run is its own OS process, started by one background worker per store.

The queue lives on disk and in MLflow, never in the app's memory, so a browser refresh or an app
restart loses nothing:

* :func:`enqueue` parses and validates the config once, creates the MLflow run with status
  ``SCHEDULED`` (tags, params, ``config.json`` artifact) and writes the config to
  ``<home>/queue/<run_id>.json``;
* an executor takes queued runs from there and starts them. Today there is one, the local process worker
  (``python -m adept worker``, :func:`worker_main`): it claims the oldest queued runs and starts
  ``python -m adept train --config <file> --run-id <run_id>`` in its own session, at most
  ``max_concurrent`` at a time, holding ``<home>/worker.lock`` so that only one runs per store;
* :func:`stop_run` cancels a queued run or sends SIGTERM to a running one (it saves a checkpoint and
  ends KILLED); :func:`resume` queues it again from that checkpoint;
* :func:`reconcile` repairs runs left RUNNING by a process that died without reporting (SIGKILL, out of
  memory, power loss): RUNNING runs of this host whose ``adept.pid`` is gone become FAILED; and it restarts
  a worker that died while runs wait. Every reader and every queue operation calls it first.

``<home>`` is :func:`adept.tracking.adept_home` (``ADEPT_HOME``, default ``<repo>/mlruns``).
Concurrency: ``ADEPT_MAX_CONCURRENT`` (default 1: one run uses both cores of a small CPU machine).

Modules: :mod:`~adept.launcher.paths` (where the queue, logs and lock live), :mod:`~adept.launcher.queue`
(the operations above), :mod:`~adept.launcher.repair` (dead runs), :mod:`~adept.launcher.worker` (the
local executor), :mod:`~adept.launcher.spawn` (starting detached children),
:mod:`~adept.launcher.analysis_jobs` (background analyses). Queue operations reach the executor through
the names here (``launcher.ensure_worker``), so replacing one here applies everywhere.
"""

from adept.launcher.analysis_jobs import analysis_log_path, start_analysis
from adept.launcher.paths import lock_path, logs_dir, queue_dir, run_log_path
from adept.launcher.queue import (
    CANCELLED_REASON,
    enqueue,
    enqueue_all,
    queued_run_ids,
    reproduce_command,
    rerun,
    resume,
    stop_queue,
    stop_run,
    wait_for,
)
from adept.launcher.repair import DIED_REASON, reconcile
from adept.launcher.worker import ensure_worker, worker_main, worker_status

__all__ = [
    "CANCELLED_REASON", "DIED_REASON", "analysis_log_path", "enqueue", "enqueue_all", "ensure_worker", "lock_path",
    "logs_dir", "queue_dir", "queued_run_ids", "reconcile", "rerun", "reproduce_command", "resume", "run_log_path",
    "start_analysis", "stop_queue", "stop_run", "wait_for", "worker_main", "worker_status",
]
