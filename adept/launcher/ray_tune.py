"""Ray Tune's ASHA early stopping for a sweep on Ray: bad grid points (a learning rate that does not learn)
stop early, on the validation metric.

``python -m adept sweep FILE --executor ray --asha [--asha-metric val/accuracy]``: each queued run becomes
one Tune trial (``grid_search`` over the run ids, the resources of :func:`~adept.launcher.ray_executor.
resources`). A trial is the Ray executor's task (:func:`~adept.launcher.ray_executor.train_task`: the same
training process, Stop, log upload); while it trains it reports every new point of the metric to Tune with
its step. ASHA (``time_attr = step``, ``max_t`` = the longest run's ``max_steps``, grace period = the
shortest ``eval_every``, reduction factor 2) compares trials at the same step and stops the worse ones.

A stopped trial's run saves a checkpoint and ends KILLED with tag ``adept.stopped_by = "asha"`` and the
reason ``stopped early by Ray Tune ASHA at step N (metric = v)`` (tag ``adept.failure``), so MLflow shows
which runs ASHA stopped; a resume continues it from that checkpoint.
"""

from __future__ import annotations

import json
import time

from adept import tracking
from adept.launcher.paths import _uri
from adept.launcher.ray_executor import _ray_queue, connect, resources, train_task

TAG_STOPPED_BY = "adept.stopped_by"


def run_with_asha(run_ids: list[str], *, metric: str = "val/accuracy", mode: str = "max",
                  address: str | None = None, tracking_uri: str | None = None, reduction_factor: float = 2,
                  poll_s: float = 1.0) -> dict[str, str]:
    """Run the queued Ray runs ``run_ids`` as Tune trials under ASHA on ``metric``; ``{run_id: status}``."""
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be max or min, got {mode!r}")
    uri = _uri(tracking_uri)
    client = tracking.get_client(uri)
    connect(address)
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    configs = {}
    for run_id in run_ids:
        try:
            configs[run_id] = json.loads((_ray_queue(uri) / f"{run_id}.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue  # cancelled before it could start
    if not configs:
        return {rid: client.get_run(rid).info.status for rid in run_ids}
    max_t = max(int(c.get("max_steps", 1)) for c in configs.values())
    grace = max(1, min(int(c.get("eval_every", 1)) for c in configs.values()))

    def trial(params: dict) -> None:
        run_id = params["run_id"]
        reported: set[int] = set()

        def report(tclient, rid) -> None:
            for point in sorted(tclient.get_metric_history(rid, metric), key=lambda m: m.step):
                # The last step is never reported: Tune would end the trial at max_t while it finishes.
                if 0 < point.step < max_t and point.step not in reported:
                    reported.add(point.step)
                    tune.report({"step": point.step, "score": point.value})

        train_task(run_id, configs[run_id], uri, poll_s, on_poll=report)

    first = resources(next(iter(configs.values())))
    trainable = tune.with_resources(trial, {"cpu": first["num_cpus"], "gpu": first["num_gpus"]})
    scheduler = ASHAScheduler(time_attr="step", max_t=max_t, grace_period=grace, reduction_factor=reduction_factor)
    tuner = tune.Tuner(
        trainable, param_space={"run_id": tune.grid_search(list(configs))},
        tune_config=tune.TuneConfig(metric="score", mode=mode, scheduler=scheduler),
        run_config=tune.RunConfig(storage_path=str(tracking.adept_home(uri) / "ray_results"),
                                  name=f"asha-{time.strftime('%Y%m%d-%H%M%S')}", verbose=0))
    results = tuner.fit()
    for result in results:
        run_id = result.config["run_id"]
        (_ray_queue(uri) / f"{run_id}.json").unlink(missing_ok=True)
        _settle(client, run_id, result, metric, errored=result.error is not None)
    return {rid: client.get_run(rid).info.status for rid in run_ids}


def _settle(client, run_id: str, result, metric: str, *, errored: bool, wait_s: float = 120) -> None:
    """After Tune is done with a trial: a run ASHA stopped ends KILLED, tagged as stopped by ASHA."""
    from adept.launcher.repair import _mark_dead
    from adept.tracking.processes import pid_alive

    deadline = time.monotonic() + wait_s
    run = client.get_run(run_id)
    while run.info.status == "RUNNING" and time.monotonic() < deadline:  # its process is saving a checkpoint
        pid = int(run.data.tags.get(tracking.TAG_PID, "0") or 0)
        if not pid or not pid_alive(pid, run.data.tags.get(tracking.TAG_PID_START)):
            break
        time.sleep(0.5)
        run = client.get_run(run_id)
    if errored:
        if run.info.status == "RUNNING":
            _mark_dead(client, run_id)
        return
    if run.info.status in ("FINISHED", "FAILED") or run.data.tags.get(tracking.TAG_STOP):
        return  # ran to the end, failed on its own, or the user stopped it
    metrics = result.metrics or {}
    where = f"at step {metrics.get('step', '?')} ({metric} = {metrics.get('score', float('nan')):.4g})"
    client.set_tag(run_id, TAG_STOPPED_BY, "asha")
    client.set_tag(run_id, tracking.TAG_FAILURE, f"stopped early by Ray Tune ASHA {where}")
    if run.info.status == "RUNNING":
        client.set_terminated(run_id, status="KILLED")
