"""A sweep as MLflow users expect it: one parent run, its training runs nested under it.

When :func:`adept.launcher.enqueue_all` queues configs that share a ``sweep`` name, it first creates one
parent run per (experiment, sweep): named after the sweep, tags ``adept.sweep`` (kept, as on every run of
the sweep) and ``adept.role = "sweep"``, status RUNNING. Each training run of the sweep carries
``mlflow.parentRunId``, so MLflow's UI shows the runs folded under the sweep.

The parent is not a training run: :func:`adept.tracking.runs_dataframe` leaves it out (the Runs and
Compare pages, ``runs``, ``report``), and the queue never starts it (it has no queue file and no
process). :func:`close_finished_sweeps` (called by :func:`adept.launcher.reconcile`) ends a parent
FINISHED once every run under it has ended, with tag ``adept.sweep_summary`` such as
``"4 FINISHED, 1 FAILED, 1 KILLED"``.
"""

from __future__ import annotations

from collections import Counter

from adept import tracking
from adept.tracking.mlflow_context import TAG_PARENT, standard_tags
from adept.tracking.schema import ROLE_SWEEP, TAG_ROLE, TAG_SWEEP

TAG_SWEEP_SUMMARY = "adept.sweep_summary"


def create_parents(cfgs: list, uri: str) -> dict[tuple[str, str], str]:
    """One RUNNING parent run per (experiment id, sweep name) among ``cfgs`` (RunConfigs with a non-empty
    ``sweep``); returns ``{(experiment_id, sweep): parent_run_id}``."""
    client = tracking.get_client(uri)
    parents: dict[tuple[str, str], str] = {}
    for cfg in cfgs:
        if not cfg.sweep:
            continue
        exp_id = tracking.ensure_experiment(cfg.experiment or tracking.DEFAULT_EXPERIMENT, uri=uri)
        key = (exp_id, cfg.sweep)
        if key in parents:
            continue
        count = sum(1 for c in cfgs if c.sweep == cfg.sweep and (c.experiment or tracking.DEFAULT_EXPERIMENT)
                    == (cfg.experiment or tracking.DEFAULT_EXPERIMENT))
        tags = standard_tags() | {TAG_SWEEP: cfg.sweep, TAG_ROLE: ROLE_SWEEP,
                                  "mlflow.note.content": f"Sweep {cfg.sweep}: {count} run(s) nested under this "
                                                         "run. Not a training run."}
        run = client.create_run(exp_id, tags=tags, run_name=cfg.sweep)
        client.log_param(run.info.run_id, "sweep.runs", str(count))
        parents[key] = run.info.run_id
    return parents


def end_parents(parent_ids, uri: str, reason: str) -> None:
    """End parents whose sweep could not be queued (KILLED, with ``reason``)."""
    client = tracking.get_client(uri)
    for run_id in parent_ids:
        try:
            client.set_tag(run_id, tracking.TAG_FAILURE, reason)
            client.set_terminated(run_id, status="KILLED")
        except Exception:  # noqa: BLE001 - best effort while unwinding a failed enqueue
            pass


def close_finished_sweeps(parent_ids: list[str], uri: str) -> list[str]:
    """End each RUNNING parent in ``parent_ids`` whose nested runs have all ended; returns those closed."""
    if not parent_ids:
        return []
    client = tracking.get_client(uri)
    closed = []
    for parent in parent_ids:
        children = tracking.search_runs(f"tags.`{TAG_PARENT}` = '{parent}'", uri=uri)
        statuses = Counter(r.info.status for r in children)
        if any(s not in tracking.TERMINAL_STATUSES for s in statuses):
            continue
        summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "no runs"
        client.set_tag(parent, TAG_SWEEP_SUMMARY, summary)
        client.set_terminated(parent, status="FINISHED")
        closed.append(parent)
    return closed
