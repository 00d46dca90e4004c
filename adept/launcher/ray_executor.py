"""The Ray executor: each queued run is one Ray task on whichever node has the resources its config needs.

:func:`adept.launcher.enqueue_all` with ``executor="ray"`` creates the runs SCHEDULED (tag
``adept.executor = "ray"``) with their config in ``<home>/queue/ray/<run_id>.json``, where the local worker
never looks. :func:`run_on_ray` (the driver: ``python -m adept sweep FILE --executor ray``, or detached by
:func:`start_driver` for the dashboard) connects to Ray (``address``, else ``RAY_ADDRESS``, else a local
instance started for the sweep) and submits one task per run asking for ``num_cpus`` (``ADEPT_RAY_CPUS``,
default 1) and ``num_gpus=1`` when the run's device is cuda. On its node the task runs the same
``python -m adept train --config ... --run-id ...`` process as the local worker, logging to the tracking
URI it was given (use an MLflow server for a cluster), and records where it runs (``adept.host``,
``adept.pid``, ``adept.log``, ``adept.ray_node``).

Stop and status are the same as with the local queue, through the store:

* a queued task: :func:`adept.launcher.stop_run` marks the run KILLED ("cancelled before start"); the
  driver sees it and ``ray.cancel``-s the task, and a task that starts anyway finds its run no longer
  SCHEDULED and exits at once;
* a running task: ``stop_run`` sets ``adept.stop_requested``; the task, which watches it, sends SIGTERM to
  its training process, which saves a checkpoint and ends KILLED (the same on any node);
* a task whose Ray worker or node died: the driver marks the run FAILED with the Ray error as reason (Ray
  does not retry it: a retry would restart training from scratch); ``resume`` continues it from its last
  checkpoint, which lives in the tracking store, on any node.

The task uploads the training log as artifact ``logs/run.log`` every ``ADEPT_RAY_LOG_UPLOAD_S`` (30 s)
and at the end, so the Runs page shows it from any host (:func:`adept.tracking.read_run_log`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from adept import tracking
from adept.launcher.paths import _uri, logs_dir, queue_dir

RAY_DIED_REASON = "its Ray worker or node died"
TAG_RAY_NODE = "adept.ray_node"


def _ray_queue(uri: str) -> Path:
    return queue_dir(uri) / "ray"


def resources(config: dict) -> dict:
    """The Ray resources a run asks for: ``num_cpus`` (``ADEPT_RAY_CPUS``, default 1) and ``num_gpus=1``
    when its device is cuda."""
    from adept.env import positive_int_env

    cpus = positive_int_env("ADEPT_RAY_CPUS", 1, "CPUs per Ray run")
    device = str(config.get("device") or "auto")
    return {"num_cpus": cpus, "num_gpus": 1 if device.startswith("cuda") else 0}


def resolve_address(address: str | None) -> str | None:
    """``address``, else ``RAY_ADDRESS``, else None (a local Ray instance is started)."""
    address = (address or os.environ.get("RAY_ADDRESS") or "").strip()
    return address or None


def connect(address: str | None = None, *, num_cpus: int | None = None):
    """``ray.init`` on ``address`` (``auto``, ``ray://host:port``; else ``RAY_ADDRESS``), or a new local
    instance with ``num_cpus`` when neither is set. Returns the ``ray`` module. Reuses a connection."""
    try:
        import ray
    except ImportError as exc:
        raise ValueError("the Ray executor needs ray: pip install 'ray[tune]==2.60.0' (requirements.txt)") from exc
    if ray.is_initialized():
        return ray
    address = resolve_address(address)
    env = {"PYTHONPATH": str(tracking.REPO_ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                                    if os.environ.get("PYTHONPATH") else "")}
    kwargs: dict = {"runtime_env": {"env_vars": env}, "log_to_driver": False, "include_dashboard": False,
                    "logging_level": "WARNING"}
    if address:
        kwargs.pop("include_dashboard")
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:  # noqa: BLE001 - ConnectionError and Ray's own types
            raise ValueError(f"could not connect to Ray at {address!r} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}): start the cluster (`ray start "
                             "--head`) or fix --ray-address / RAY_ADDRESS") from exc
    else:
        ray.init(num_cpus=num_cpus, **kwargs)
    return ray


def _upload_log(client, run_id: str, log: Path) -> None:
    from adept.tracking.run_logs import upload_run_log

    upload_run_log(client, run_id, log)


def _pdeathsig() -> None:
    """In the child: die with the Ray worker (Linux), so a dead worker never leaves training behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the child outlives the worker
        pass


def train_task(run_id: str, config: dict, uri: str, poll_s: float = 1.0, on_poll=None) -> str:
    """The body of one Ray task, on its node: start the run's training process, forward a Stop to it,
    upload its log, and return the run's final status (``"skipped"`` when it was cancelled first).
    ``on_poll(client, run_id)`` is called every ``poll_s`` while it trains (Ray Tune reports from there;
    an exception it raises stops training as a Stop does)."""
    import subprocess

    from adept.launcher.repair import _mark_dead
    from adept.launcher.spawn import _child_env

    client = tracking.get_client(uri)
    run = client.get_run(run_id)
    if run.info.status != "SCHEDULED" or run.data.tags.get(tracking.TAG_STOP):
        return "skipped"
    me = os.getpid()
    log = logs_dir(uri) / f"{run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    config_path = Path(tempfile.mkdtemp(prefix="adept-ray-")) / f"{run_id}.json"
    config_path.write_text(json.dumps(config))
    node = ""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - run outside Ray (tests call it directly)
        pass
    from mlflow.entities import RunTag

    tags = {tracking.TAG_HOST: tracking.hostname(), tracking.TAG_PID: str(me), tracking.TAG_WORKER_PID: str(me),
            tracking.TAG_PID_START: tracking.process_start_ticks(me) or "", tracking.TAG_LOG: str(log),
            tracking.TAG_EXECUTOR: "ray", TAG_RAY_NODE: node}
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    client.update_run(run_id, status="RUNNING")
    if client.get_run(run_id).data.tags.get(tracking.TAG_FAILURE) == "cancelled before start":
        client.set_terminated(run_id, status="KILLED")  # Stop came between our check and RUNNING
        return "KILLED"
    cmd = [sys.executable, "-m", "adept", "train", "--config", str(config_path), "--run-id", run_id, "--quiet"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=str(tracking.REPO_ROOT), env=_child_env(uri), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
    client.log_batch(run_id, tags=[RunTag(tracking.TAG_PID, str(proc.pid)),
                                   RunTag(tracking.TAG_PID_START, tracking.process_start_ticks(proc.pid) or "")])
    upload_every = float(os.environ.get("ADEPT_RAY_LOG_UPLOAD_S", "30"))
    last_upload = time.monotonic()
    signalled = False
    try:
        while proc.poll() is None:
            time.sleep(poll_s)
            if not signalled:
                try:
                    if client.get_run(run_id).data.tags.get(tracking.TAG_STOP):
                        proc.send_signal(signal.SIGTERM)
                        signalled = True
                except Exception:  # noqa: BLE001 - the store busy for a moment: look again next time
                    pass
            if time.monotonic() - last_upload >= upload_every:
                _upload_log(client, run_id, log)
                last_upload = time.monotonic()
            if on_poll is not None:
                on_poll(client, run_id)
    except BaseException:  # ray.cancel on a running task (KeyboardInterrupt): stop training cleanly
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
        _mark_dead(client, run_id, returncode=proc.poll())
        _upload_log(client, run_id, log)
        raise
    finally:
        config_path.unlink(missing_ok=True)
    _mark_dead(client, run_id, returncode=proc.returncode)  # a process that died without reporting
    _upload_log(client, run_id, log)
    return client.get_run(run_id).info.status


def _fail(client, run_id: str, reason: str) -> None:
    run = client.get_run(run_id)
    if run.info.status in ("SCHEDULED", "RUNNING"):
        client.set_tag(run_id, tracking.TAG_FAILURE, tracking._truncate(reason, tracking.MAX_TAG_LENGTH))
        client.set_terminated(run_id, status="FAILED")


def run_on_ray(run_ids: list[str], *, address: str | None = None, tracking_uri: str | None = None,
               num_cpus: int | None = None, poll_s: float = 1.0) -> dict[str, str]:
    """Submit the queued Ray runs ``run_ids`` (see the module docstring) and wait until each has ended;
    returns ``{run_id: status}``. A run stopped while queued is cancelled in Ray; a task that raised or
    whose worker died leaves its run FAILED with the reason."""
    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    try:
        ray = connect(address, num_cpus=num_cpus)
    except ValueError as exc:  # nothing else would ever start these runs: they fail with the reason
        for run_id in run_ids:
            (_ray_queue(uri) / f"{run_id}.json").unlink(missing_ok=True)
            _fail(client, run_id, f"could not start on Ray: {exc}")
        raise
    remote = ray.remote(max_retries=0)(train_task)
    pending: dict = {}
    for run_id in run_ids:
        path = _ray_queue(uri) / f"{run_id}.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # cancelled (file removed) before we got to it
        ref = remote.options(**resources(config), name=f"adept-train-{run_id[:8]}").remote(run_id, config, uri)
        pending[ref] = run_id
    cancelled: set = set()
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
        for ref in done:
            run_id = pending.pop(ref)
            (_ray_queue(uri) / f"{run_id}.json").unlink(missing_ok=True)
            try:
                ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, NodeDiedError, ...
                if ref in cancelled:
                    continue
                first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                _fail(client, run_id, f"{RAY_DIED_REASON}: {type(exc).__name__}: {first}"[:2000])
        for ref, run_id in list(pending.items()):  # Stop on a queued run: cancel its task
            if ref in cancelled:
                continue
            try:
                status = client.get_run(run_id).info.status
            except Exception:  # noqa: BLE001
                continue
            if status in tracking.TERMINAL_STATUSES:
                ray.cancel(ref, force=False)
                cancelled.add(ref)
    return {rid: client.get_run(rid).info.status for rid in run_ids}


def start_driver(run_ids: list[str], *, address: str | None = None, tracking_uri: str | None = None) -> Path:
    """Start :func:`run_on_ray` for ``run_ids`` as a detached process (``python -m adept ray-driver``),
    which the dashboard uses: the Ray tasks outlive a page refresh. Returns its log file."""
    from adept.launcher.spawn import _reap_in_background, start_detached

    uri = _uri(tracking_uri)
    log = logs_dir(uri) / f"ray-driver-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "adept", "ray-driver", *run_ids]
    if resolve_address(address):
        cmd += ["--ray-address", resolve_address(address)]
    _reap_in_background(start_detached(cmd, uri, log, "wb"))
    return log
