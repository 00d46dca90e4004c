"""Background analyses: ``python -m adept analyze RUN_ID`` detached, like a run, on the same store."""

from __future__ import annotations

import sys
from pathlib import Path

from adept.launcher.paths import _uri, logs_dir
from adept.launcher.spawn import _reap_in_background, start_detached


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
    _reap_in_background(start_detached([sys.executable, "-m", "adept", "analyze", run_id], uri, log, "wb"))
    return log
