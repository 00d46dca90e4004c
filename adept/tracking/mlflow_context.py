"""What MLflow's own UI expects on a run: its standard tags, the data set it read, and system metrics.

* :func:`standard_tags`: ``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type`` and
  ``mlflow.source.git.commit`` (the columns "User", "Source" and "Version" of MLflow's run table);
* :func:`log_task_inputs`: the task's splits through ``log_inputs`` (MLflow's dataset lineage: name,
  source, digest, rows per split), one dataset per split with MLflow's ``mlflow.data.context`` tag;
* :class:`SystemMetrics`: MLflow's built-in CPU / memory / disk / network (and GPU, where one is visible)
  sampler on a run, which logs at least one sample even for a run shorter than its interval.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
from functools import lru_cache
from pathlib import Path

TAG_USER = "mlflow.user"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_PARENT = "mlflow.parentRunId"
SOURCE_NAME = "python -m adept train"
# MLflow's names for what a split is used for (mlflow.data.context), as its autologgers write them.
_CONTEXT = {"train": "training", "validation": "validation", "test": "test"}


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The repository's ``git rev-parse HEAD``, or ``"unknown"`` outside a git checkout."""
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001 - no git, or not a checkout
        return "unknown"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (some containers)
        return os.environ.get("USER", "unknown")


def standard_tags() -> dict[str, str]:
    """MLflow's standard tags for a run trained by ``python -m adept train`` from this checkout."""
    tags = {TAG_USER: _user(), TAG_SOURCE_NAME: SOURCE_NAME, TAG_SOURCE_TYPE: "LOCAL"}
    commit = git_commit()
    if commit != "unknown":
        tags[TAG_GIT_COMMIT] = commit
    return tags


def split_digest(examples) -> str:
    """A stable short digest of a split's examples (texts, pairs and labels, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, ex.text_pair, ex.label], default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def log_task_inputs(client, run_id: str, task, used: dict[str, list]) -> None:
    """Log ``task`` as MLflow datasets: one per split in ``used`` (``{split: examples the run reads}``),
    named after the task, with its source, the digest of those examples, and a profile holding the rows
    used and the split's full size."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source = str(task.info.get("source") or task.name)
    full = task.info.get("sizes") or {s: len(task.splits[s]) for s in task.splits}
    inputs = []
    for split, examples in used.items():
        profile = {"num_rows": len(examples), "split": split, "split_rows": int(full.get(split, len(examples))),
                   "split_rule": str(task.info.get("split", ""))}
        dataset = Dataset(name=task.name, digest=split_digest(examples), source_type="local" if
                          os.path.exists(source) else "registry",
                          source=json.dumps({"uri": source}), profile=json.dumps(profile),
                          schema=json.dumps({"columns": ["text", "text_pair", "label"], "kind": task.kind}))
        inputs.append(DatasetInput(dataset, tags=[InputTag("mlflow.data.context", _CONTEXT.get(split, split))]))
    client.log_inputs(run_id, datasets=inputs)


def system_metrics_enabled() -> bool:
    """``ADEPT_SYSTEM_METRICS`` (default on; ``0`` turns MLflow's system-metrics sampler off)."""
    return os.environ.get("ADEPT_SYSTEM_METRICS", "1").strip().lower() not in ("0", "false", "no", "off")


class SystemMetrics:
    """MLflow's :class:`~mlflow.system_metrics.system_metrics_monitor.SystemMetricsMonitor` on ``run_id``
    (metrics ``system/cpu_utilization_percentage``, ``system/system_memory_usage_megabytes``, ... every
    ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` seconds, default 10). It needs ``psutil`` (pinned).

    :meth:`stop` logs one last sample when the sampler had not logged any yet (a run shorter than the
    interval), so every training run carries its system metrics. A failure here never fails the run.
    """

    def __init__(self, run_id: str, uri: str, *, resume: bool = False):
        self.monitor = None
        if not system_metrics_enabled():
            return
        try:
            import logging

            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            # Its INFO lines ("Started monitoring system metrics.") would land in every command's stderr.
            logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)

            self.monitor = SystemMetricsMonitor(run_id, resume_logging=resume, tracking_uri=uri)
            self._first_step = self.monitor._logging_step
            self.monitor.start()
        except Exception:  # noqa: BLE001 - psutil missing or the store busy: train without them
            self.monitor = None

    def stop(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is None:
            return
        try:
            monitor.finish()
            if monitor._logging_step == self._first_step:  # shorter than one interval: log one sample now
                monitor.collect_metrics()
                monitor.publish_metrics(monitor.aggregate_metrics())
                monitor.mlflow_logger.flush()
        except Exception:  # noqa: BLE001 - best effort
            pass
