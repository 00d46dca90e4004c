"""Queue operations: put a run in the queue, stop it, stop the queue, run a run again, resume, wait.

The queue lives on disk and in MLflow, never in the app's memory, so a browser refresh or an app restart
loses nothing: a queued run is an MLflow run with status ``SCHEDULED`` plus its config in
``<home>/queue/<run_id>.json`` (:mod:`adept.launcher.paths`). An executor takes runs from there and starts
them; :func:`_start_executor` is the one place these operations reach it (today the local process worker,
:mod:`adept.launcher.worker`).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adept import tracking
from adept.launcher.paths import _started_dir, _uri, queue_dir
from adept.launcher.repair import _int
from adept.tracking import TAG_FAILURE, TAG_HOST, TAG_PID, TAG_PID_START, TAG_STOP, TAG_WORKER_PID

if TYPE_CHECKING:  # adept.config imports torch (through adept.backbones): loaded only when a config is parsed
    from adept.config import RunConfig

CANCELLED_REASON = "cancelled before start"
EXECUTORS = ("local", "ray")


# ----------------------------------------------------------------------------------------------------------
# Config: parsed once, at the edge


def _parse(config: RunConfig | dict) -> RunConfig:
    """The validated :class:`~adept.config.RunConfig` of ``config`` (a dict of its fields, or one itself,
    which is copied, never changed), through :func:`adept.preflight.preflight` (its data file read, its
    device and sizes checked); ``ValueError`` names every bad field. Nothing is written.

    The method is lower-cased, and relative ``data_file`` / ``data_dir`` paths are made absolute, because
    the run process starts in the repository root, not in the caller's working directory.
    """
    from adept.config import RunConfig
    from adept.preflight import preflight

    if isinstance(config, RunConfig):
        config = config.to_dict()
    if not isinstance(config, dict):
        raise ValueError(f"A run config must be a dict of RunConfig fields, got {type(config).__name__}.")
    config = dict(config)
    for key in ("data_file", "data_dir"):
        if config.get(key) and isinstance(config[key], str):
            config[key] = str(Path(config[key]).expanduser().resolve())
    cfg = RunConfig.from_dict(config)
    if isinstance(cfg.method, str):
        cfg.method = cfg.method.lower()
    preflight(cfg)
    return cfg


def reproduce_command(config: RunConfig | dict) -> str:
    """The ``python -m adept train ...`` line that reruns ``config`` (flags for non-default fields)."""
    from adept.config import RunConfig
    from adept.config import reproduce_command as command

    return command(config if isinstance(config, RunConfig) else RunConfig.from_dict(dict(config)))


def _write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def _start_executor(uri: str) -> None:
    """Make sure an executor will start the runs queued on store ``uri``: the local process worker.

    Looked up on the package (``adept.launcher.ensure_worker``), so that replacing it there (a test that
    wants no worker) applies to every queue operation.
    """
    from adept import launcher

    launcher.ensure_worker(tracking_uri=uri)


# ----------------------------------------------------------------------------------------------------------
# Operations


def enqueue(config: RunConfig | dict, *, tracking_uri: str | None = None, start_worker: bool = True) -> str:
    """Queue one run; returns its MLflow run id.

    Parses and checks ``config`` once (:func:`_parse`: ``ValueError`` naming every bad field, and nothing
    created), creates the run SCHEDULED with the ``adept.*`` tags, the config as params and ``config.json``,
    writes ``<home>/queue/<run_id>.json``, then (``start_worker``) makes sure a worker is running
    (:func:`adept.launcher.ensure_worker`).
    """
    uri = _uri(tracking_uri)
    cfg = _parse(config)
    _reconcile(uri, start_worker)
    run_id = _create_queued(cfg, uri)
    if start_worker:
        _start_executor(uri)
    return run_id


def enqueue_all(configs: list, *, tracking_uri: str | None = None, start_worker: bool = False,
                executor: str = "local") -> list[str]:
    """Queue every config of a sweep, or none: all are checked first, and if queueing one fails, those
    queued before it are cancelled again. Returns the run ids in order.

    Configs that share a ``sweep`` name are nested under one parent run per sweep
    (:mod:`adept.launcher.sweep_runs`). ``executor``: ``"local"`` (the process queue; ``start_worker``
    starts its worker) or ``"ray"`` (the runs wait for :func:`adept.launcher.ray_executor.run_on_ray`,
    which the caller starts; the local worker never takes them).
    """
    from adept.launcher.sweep_runs import create_parents, end_parents

    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    uri = _uri(tracking_uri)
    parsed = [_parse(c) for c in configs]
    _reconcile(uri, start_worker)
    ids: list[str] = []
    parents: dict = {}
    try:
        parents = create_parents(parsed, uri)
        for cfg in parsed:
            exp_id = tracking.ensure_experiment(cfg.experiment or tracking.DEFAULT_EXPERIMENT, uri=uri)
            ids.append(_create_queued(cfg, uri, parent_id=parents.get((exp_id, cfg.sweep)), executor=executor))
    except BaseException:
        for run_id in ids:
            if _take_out_of_queue(run_id, uri, executor):
                _cancel(tracking.get_client(uri), run_id, "cancelled: the rest of its sweep could not be queued")
        end_parents(parents.values(), uri, "the sweep could not be queued")
        raise
    if start_worker and executor == "local":
        _start_executor(uri)
    return ids


def _reconcile(uri: str, start_worker: bool) -> None:
    """Reconcile before acting (a dead run is not RUNNING; a lost worker restarts when ``start_worker``)."""
    from adept import launcher

    launcher.reconcile(tracking_uri=uri, start_worker=start_worker)


def _create_queued(cfg: RunConfig, uri: str, *, parent_id: str | None = None, executor: str = "local") -> str:
    """Create ``cfg``'s run SCHEDULED (tags, params, ``config.json``) and its queue file (the local queue's,
    or the Ray executor's folder); on any failure the run ends FAILED with the reason and no queue file
    exists. ``parent_id``: the sweep's parent run (tag ``mlflow.parentRunId``)."""
    from mlflow.entities import Param

    from adept.tracking.mlflow_context import TAG_PARENT, standard_tags

    full = cfg.to_dict()
    client = tracking.get_client(uri)
    experiment_id = tracking.ensure_experiment(cfg.experiment or tracking.DEFAULT_EXPERIMENT, uri=uri)
    task = Path(cfg.data_file).stem if cfg.data_file else cfg.task
    tags = {
        tracking.TAG_METHOD: cfg.method, tracking.TAG_BACKBONE: cfg.backbone, tracking.TAG_TASK: task,
        tracking.TAG_SEED: str(cfg.seed), tracking.TAG_SWEEP: cfg.sweep or "",
        tracking.TAG_COMMAND: reproduce_command(cfg), TAG_HOST: tracking.hostname(),
        tracking.TAG_PROGRESS: f"0/{cfg.max_steps}", tracking.TAG_EXECUTOR: executor,
    } | ({TAG_PARENT: parent_id} if parent_id else {})
    run = client.create_run(experiment_id, tags=standard_tags() | tags, run_name=cfg.display_name())
    run_id = run.info.run_id
    try:
        # The same strings training logs (str of each field), so its log_params finds nothing to change.
        params = [Param(k, tracking._truncate(v, tracking.MAX_PARAM_LENGTH)) for k, v in full.items()
                  if k != "extra" and v is not None]
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i:i + 100])
        client.log_text(run_id, json.dumps(full, indent=2), "config.json")
        client.update_run(run_id, status="SCHEDULED")
        _write_json_atomic(_queue_folder(uri, executor) / f"{run_id}.json", full)
    except BaseException as exc:
        (_queue_folder(uri, executor) / f"{run_id}.json").unlink(missing_ok=True)
        client.set_tag(run_id, TAG_FAILURE, f"could not queue the run: {type(exc).__name__}: {exc}")
        client.set_terminated(run_id, status="FAILED")
        raise
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


def _client_and_run(run_id: str, uri: str, hint: str = ""):
    """A client on store ``uri`` and run ``run_id`` in it; ValueError "No run ..." (then ``hint``) if missing."""
    from mlflow.exceptions import MlflowException

    client = tracking.get_client(uri)
    try:
        return client, client.get_run(run_id)
    except MlflowException as exc:
        raise ValueError(f"No run {run_id!r} in {uri}{hint}.") from exc


def _cancel(client, run_id: str, reason: str = CANCELLED_REASON) -> None:
    client.set_tag(run_id, TAG_FAILURE, reason)
    client.set_terminated(run_id, status="KILLED")


def _queue_folder(uri: str, executor: str = "local") -> Path:
    """Where a queued run's config waits: ``<home>/queue`` (local worker) or ``<home>/queue/ray``."""
    return queue_dir(uri) / "ray" if executor == "ray" else queue_dir(uri)


def _take_out_of_queue(run_id: str, uri: str, executor: str = "local") -> bool:
    """Remove the run's queue file; True if we removed it (the worker can no longer start it)."""
    try:
        (_queue_folder(uri, executor) / f"{run_id}.json").unlink()
        return True
    except FileNotFoundError:
        return False


def stop_run(run_id: str, *, tracking_uri: str | None = None, wait_s: float = 5.0) -> str:
    """Stop one run; returns a sentence saying what was done.

    SCHEDULED: taken out of the queue and marked KILLED ("cancelled before start").
    RUNNING: SIGTERM to its training process (``adept.pid``); training saves a checkpoint and ends
    KILLED (if it dies before it can, the worker or :func:`adept.launcher.reconcile` marks it KILLED).
    A run whose process is already gone is marked KILLED at once. Raises ValueError for an unknown run
    or one on another host.
    """
    uri = _uri(tracking_uri)
    _reconcile(uri, False)
    client, run = _client_and_run(run_id, uri, ": pick a run from the Runs table")
    status = run.info.status
    executor = run.data.tags.get(tracking.TAG_EXECUTOR, "local")
    if status == "SCHEDULED":
        if _take_out_of_queue(run_id, uri, executor) or not (_started_dir(uri) / f"{run_id}.json").exists():
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
        if executor == "ray":  # its Ray task watches this tag and sends SIGTERM on its node
            client.set_tag(run_id, TAG_STOP, "1")
            return (f"Asked run {run_id} to stop on Ray node {host!r}: its Ray task sends SIGTERM, the run saves a "
                    "checkpoint and ends KILLED within a few seconds.")
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
    _reconcile(uri, False)
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


def resume(run_id: str, *, tracking_uri: str | None = None, start_worker: bool = True,
           executor: str | None = None) -> str:
    """Queue a stopped (KILLED / FAILED) run again to continue from its ``checkpoint/`` artifact.

    Everything is checked before the run is touched (:func:`adept.checkpoints.check_resume`: not FINISHED, a
    config.json and a whole checkpoint; its config passes the checks); then the same run id goes back to
    SCHEDULED, its ``adept.failure`` kept as ``adept.previous_failure``, and training is started with
    ``resume_from = run_id``, by ``executor`` (default: the one that ran it, tag ``adept.executor``; a Ray
    run is resumed by a detached Ray driver, on any node: the checkpoint is in the tracking store).
    """
    from adept.checkpoints import check_resume

    uri = _uri(tracking_uri)
    _reconcile(uri, start_worker)
    client, run = _client_and_run(run_id, uri)
    if run.info.status == "FINISHED":
        raise ValueError(f"Run {run_id} already finished: Re-run it instead (a new run with the same config).")
    if run.info.status not in ("KILLED", "FAILED"):
        raise ValueError(f"Run {run_id} is {run.info.status}: only a KILLED or FAILED run can be resumed.")
    tags = run.data.tags
    pid = _int(tags.get(TAG_PID))
    if pid and pid != os.getpid() and tags.get(TAG_HOST) == tracking.hostname() \
            and tracking.pid_alive(pid, tags.get(TAG_PID_START)):
        raise ValueError(f"Run {run_id}'s process (pid {pid}) is still saving and exiting: "
                         "resume it in a moment.")
    config = check_resume(run_id, uri=uri)
    config["resume_from"] = run_id
    full = _parse(config).to_dict()
    if TAG_FAILURE in tags:
        client.set_tag(run_id, tracking.TAG_PREVIOUS_FAILURE, tags[TAG_FAILURE])
    for stale in (TAG_FAILURE, TAG_STOP):
        if stale in tags:
            client.delete_tag(run_id, stale)
    executor = executor or tags.get(tracking.TAG_EXECUTOR) or "local"
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    client.set_tag(run_id, tracking.TAG_EXECUTOR, executor)
    client.update_run(run_id, status="SCHEDULED")
    _write_json_atomic(_queue_folder(uri, executor) / f"{run_id}.json", full)
    if start_worker and executor == "ray":
        from adept.launcher.ray_executor import start_driver

        start_driver([run_id], tracking_uri=uri)
    elif start_worker:
        _start_executor(uri)
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
