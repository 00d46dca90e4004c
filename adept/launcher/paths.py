"""Where the launcher keeps its files, all under ``<home>`` (:func:`adept.tracking.adept_home`):

* ``<home>/queue/<run_id>.json``: the config of a queued run; ``<home>/queue/started/<run_id>.json`` once
  the worker claimed it;
* ``<home>/logs/worker.log``, ``<home>/logs/<run_id>.log`` (a run's training process) and
  ``<home>/logs/analyze-<run_id>.log`` (its background analysis);
* ``<home>/worker.lock``: held (flock) by the live worker, with its pid inside.
"""

from __future__ import annotations

from pathlib import Path

from adept import tracking


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
