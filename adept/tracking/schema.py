"""What a run looks like in MLflow: the tags, params, metrics and artifacts ADePT Lab writes.

Tags (``adept.*``; set at creation by the launcher or :class:`~adept.tracking.writer.RunTracker`):

* ``adept.method`` (pt / dept / adept), ``adept.backbone``, ``adept.task`` (a registry name, or the stem
  of an uploaded data file), ``adept.seed``, ``adept.sweep`` (empty outside a sweep);
* ``adept.command``: the ``python -m adept train ...`` line that reproduces the run;
* ``adept.progress``: ``"step/max_steps"``, updated with each metrics flush;
* ``adept.failure``: why a run ended FAILED or KILLED (``"<ExcType>: <message>"`` or the launcher's reason);
* ``adept.pid``, ``adept.pid_start`` (the process's start time in clock ticks since boot, which tells a
  reused pid apart), ``adept.host``: the process that trains the run, used to judge whether it is alive;
* ``adept.log``, ``adept.worker_pid``, ``adept.stop_requested``: the launcher's log file of the process,
  the worker that started it, and a stop asked for before the process was signalled;
* ``adept.stopped_early``: ``"true"`` or ``"false"`` at the end: whether early stopping ended training;
* ``adept.previous_failure``: the ``adept.failure`` a run had before it was resumed;
* ``adept.resume_check``: after a resume, whether the points recomputed past the checkpoint (logged before
  a hard kill) equal those logged: ``"exact: ..."`` or ``"inexact: ..."``.

MLflow's own tags: ``mlflow.user``, ``mlflow.source.name`` (``python -m adept train``), ``mlflow.source.type``
(``LOCAL``), ``mlflow.source.git.commit``; ``mlflow.parentRunId`` on a run of a sweep (its parent run carries
``adept.role = "sweep"`` and is no training run); ``adept.executor`` (``local`` / ``ray``). Inputs: the task's
splits as MLflow datasets (``log_inputs``: name, source, digest, rows). Metrics ``system/*``: MLflow's
system-metrics sampler (CPU, memory, disk, network; GPU where visible). Artifact ``logs/run.log``: the
training process's output, uploaded by the executor when the process ends.

Statuses: SCHEDULED (queued) -> RUNNING -> FINISHED, FAILED or KILLED (stopped; resumable from its
checkpoint).

Params: every set ``RunConfig`` field as a string (``str()`` of the value, cut to :data:`MAX_PARAM_LENGTH`;
fields left unset, ``None``, are not logged: ``config.json`` has them),
plus what training solved and measured: ``solved.num_virtual_tokens``, ``solved.rank``,
``trainable_params``, ``d_model``, ``version.*``, ``git_commit`` and similar. A param never changes once
logged.

Metrics, by step: ``train/loss``, ``lr/<group>``, ``time/step_s``, ``time/tokens_per_s`` each step;
``val/<metric>`` at each evaluation; ``zero_shot/<metric>`` at step 0; at the end ``test/<metric>``,
``best/step``, ``best/val_<metric>``, ``time/total_s``, ``time/train_s``, ``time/mean_step_s``.

Artifacts: ``config.json`` (the full RunConfig), ``command.txt``, ``adapter/`` (the best adapter:
``adapter.safetensors`` and ``adept_adapter.json``; runs saved before that name have ``adapter_config.json``),
``checkpoint/`` (the latest state, for resuming: adapter, optimizer and schedule, counters, random-number
states; both folders carry a ``manifest.json`` of sizes and checksums and are replaced whole),
``offsets_summary.json``, and ``analysis/<name>.json`` written by :mod:`adept.analysis`.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_EXPERIMENT = "adept-lab"
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
MAX_TAG_LENGTH = 8000  # well under MLflow's tag limit

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
TAG_PREVIOUS_FAILURE = "adept.previous_failure"  # why the run ended before it was resumed
TAG_ROLE = "adept.role"  # "sweep" on a sweep's parent run (not a training run); absent on training runs
TAG_EXECUTOR = "adept.executor"  # "local" (the process queue) or "ray"
ROLE_SWEEP = "sweep"
LOG_ARTIFACT = "logs/run.log"  # the training process's output, uploaded when it ends
TAG_RESUME_CHECK = "adept.resume_check"  # whether steps recomputed after a resume equal those logged before
# When the training process began its work (epoch milliseconds, like MLflow's start_time, which for a queued
# run is the moment it was queued): "took" = end_time - this, queue wait = this - start_time.
TAG_TRAIN_STARTED = "adept.train_started"


def _truncate(value: Any, limit: int) -> str:
    """``value`` as the string MLflow stores (JSON for lists and dicts), cut to ``limit`` chars with "..."."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
