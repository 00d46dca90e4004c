"""Reading runs back: search, the Runs table as a DataFrame, metric curves.

pandas is imported inside the functions that build frames: a training process imports
:mod:`adept.tracking` and starts faster without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adept.tracking.schema import (
    ROLE_SWEEP,
    TAG_BACKBONE,
    TAG_EXECUTOR,
    TAG_FAILURE,
    TAG_HOST,
    TAG_METHOD,
    TAG_PROGRESS,
    TAG_ROLE,
    TAG_SEED,
    TAG_SWEEP,
    TAG_TASK,
)
from adept.tracking.sqlite_fast import _records_from_sqlite
from adept.tracking.store import _sqlite_path, get_client, tracking_uri

if TYPE_CHECKING:
    import pandas as pd

# runs_dataframe column -> tag it comes from.
_TAG_COLUMNS = {
    "method": TAG_METHOD,
    "backbone": TAG_BACKBONE,
    "task": TAG_TASK,
    "seed": TAG_SEED,
    "sweep": TAG_SWEEP,
    "failure": TAG_FAILURE,
    "progress": TAG_PROGRESS,
    "executor": TAG_EXECUTOR,  # where it runs: "local" (process queue) or "ray"
    "host": TAG_HOST,  # the machine (Ray node) that trains it
}
BASE_COLUMNS = [
    "run_id", "run_name", "status", "start_time", "end_time", "experiment", "experiment_id",
    *_TAG_COLUMNS,
]


def _experiment_ids(client, experiment: str | None) -> dict[str, str]:
    """``{experiment_id: name}`` of ``experiment`` (name or id), or of every active experiment when None."""
    from mlflow.entities import ViewType

    if experiment:
        exp = client.get_experiment_by_name(experiment)
        if exp is None and str(experiment).isdigit():
            try:
                exp = client.get_experiment(str(experiment))
            except Exception:  # noqa: BLE001
                exp = None
        return {exp.experiment_id: exp.name} if exp is not None else {}
    out: dict[str, str] = {}
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
        out.update({e.experiment_id: e.name for e in page})
        token = page.token
        if not token:
            return out


def search_runs(filter_string: str = "", experiment: str | None = None, *, uri: str | None = None,
                order_by: list[str] | None = None) -> list:
    """All runs (``mlflow.entities.Run``) matching ``filter_string`` in ``experiment`` (default: every
    active experiment), newest first; pages through the store 1000 runs at a time."""
    client = get_client(uri)
    ids = list(_experiment_ids(client, experiment))
    if not ids:
        return []
    runs: list = []
    token = None
    while True:
        page = client.search_runs(ids, filter_string=filter_string, max_results=1000,
                                  order_by=order_by or ["attributes.start_time DESC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _records_from_search(experiment: str | None, uri: str | None, filter_string: str) -> list[tuple]:
    """(run_id, run_name, status, start_ms, end_ms, experiment_id, experiment, params, metrics, tags) per run,
    from MLflow's ``search_runs`` (works on every store; ~2 s per 1,000 runs on sqlite, mostly ORM work)."""
    client = get_client(uri)
    names = _experiment_ids(client, experiment)
    runs = search_runs(filter_string, experiment, uri=uri) if names else []
    return [
        (r.info.run_id, r.info.run_name or r.data.tags.get("mlflow.runName", ""), r.info.status,
         r.info.start_time, r.info.end_time, str(r.info.experiment_id), names.get(r.info.experiment_id, ""),
         dict(r.data.params), dict(r.data.metrics), dict(r.data.tags))
        for r in runs
    ]


def runs_dataframe(experiment: str | None = None, *, uri: str | None = None,
                   filter_string: str = "", include_sweep_parents: bool = False) -> pd.DataFrame:
    """One row per run, newest first (1,000 runs: ~0.1 s on a sqlite store, ~2 s through ``search_runs``).

    Columns: run_id, run_name, status, start_time, end_time (UTC timestamps), experiment, experiment_id,
    method, backbone, task, seed (Int64), sweep, failure, progress, executor, host (from the ``adept.*``
    tags; "" when missing), then ``params.<k>`` (str), ``metrics.<k>`` (last value, float) and ``tags.<k>`` (str), like
    ``mlflow.search_runs``. ``experiment`` (name or id) None means every active experiment.
    ``filter_string`` is MLflow's search syntax (e.g. ``"tags.`adept.task` = 'rotten-tomatoes'"``).

    A sqlite store without a filter is read with one SQL snapshot; anything else (or any error there)
    goes through ``MlflowClient.search_runs``, paged 1,000 at a time. Both give the same frame.
    A sweep's parent run (tag ``adept.role = "sweep"``, no training run) is left out unless
    ``include_sweep_parents``.
    """

    uri = uri or tracking_uri()
    db = _sqlite_path(uri)
    records = None
    if db is not None and not filter_string:
        records = _fast_records(db, experiment, uri)
    if records is None:
        records = _records_from_search(experiment, uri, filter_string)
    if not include_sweep_parents:
        records = [r for r in records if r[9].get(TAG_ROLE) != ROLE_SWEEP]
    return _frame(records)


def _same_records(fast: list[tuple], portable: list[tuple]) -> bool:
    """Whether two reads list the same runs, and agree field by field on every run that had ended in both (a
    live run may log between the two reads)."""
    def table(records):
        return {r[0]: (r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                       {k: (None if v != v else v) for k, v in r[8].items()}, r[9]) for r in records}

    a, b = table(fast), table(portable)
    if set(a) != set(b):
        return False
    ended = ("FINISHED", "FAILED", "KILLED")
    return all(a[rid] == b[rid] for rid in a if a[rid][1] in ended and b[rid][1] in ended)


def _fast_records(db, experiment: str | None, uri: str) -> list[tuple] | None:
    """The records from the SQL fast path where it is allowed (:func:`~adept.tracking.sqlite_fast.
    fast_path_refusal`), else None. The first fast read of a store in this process is checked against
    ``search_runs``; if they differ the fast path stays off for that store (and the portable records
    are used)."""
    from adept.tracking.sqlite_fast import fast_path_refusal, needs_verification, record_verification

    try:
        if fast_path_refusal(db) is not None:
            return None
        records = _records_from_sqlite(db, experiment)
    except Exception:  # noqa: BLE001 - schema drift or a locked file: the portable path still works
        return None
    if needs_verification(db):
        portable = _records_from_search(experiment, uri, "")
        equal = _same_records(records, portable)
        if not equal:  # a run created or ended between the two reads: read both once more
            records = _records_from_sqlite(db, experiment)
            portable = _records_from_search(experiment, uri, "")
            equal = _same_records(records, portable)
        record_verification(db, equal)
        if not equal:
            import sys

            print(f"adept.tracking: the sqlite fast read of {db} differs from search_runs; using search_runs",
                  file=sys.stderr)
            return portable
    return records


def _int64_or_none(value) -> int | None:
    """A stored seed as an int64, or None (missing) for anything else: text, floats, or a number past int64
    that an old or hand-edited store may hold. One such value must not break the listing of every run."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if -(2**63) <= number < 2**63 else None


def _frame(records: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for run_id, run_name, status, start, end, exp_id, exp_name, params, metrics, tags in records:
        row = {"run_id": run_id, "run_name": run_name or "", "status": status, "start_time": start,
               "end_time": end, "experiment": exp_name, "experiment_id": exp_id}
        for col, tag in _TAG_COLUMNS.items():
            row[col] = tags.get(tag, "")
        row.update({f"params.{k}": v for k, v in params.items()})
        row.update({f"metrics.{k}": v for k, v in metrics.items()})
        row.update({f"tags.{k}": v for k, v in tags.items()})
        rows.append(row)
    df = pd.DataFrame.from_records(rows, columns=None if rows else BASE_COLUMNS)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(pd.to_numeric(df[col]), unit="ms", utc=True)
    df["seed"] = pd.array([_int64_or_none(v) for v in df["seed"]], dtype="Int64")
    metric_cols = [c for c in df.columns if c.startswith("metrics.")]
    if metric_cols:
        df[metric_cols] = df[metric_cols].astype(float)
    extra = sorted(c for c in df.columns if c not in BASE_COLUMNS)
    ordered = BASE_COLUMNS + [c for p in ("params.", "metrics.", "tags.") for c in extra if c.startswith(p)]
    df = df[ordered].sort_values(["start_time", "run_id"], ascending=[False, True], kind="stable")
    return df.reset_index(drop=True)


def metric_history(run_ids: list[str], keys: list[str] | None, *, uri: str | None = None) -> pd.DataFrame:
    """Every logged point of metrics ``keys`` (None: all of each run's metrics) of ``run_ids``.

    Long format, sorted by run_id, key, step: columns run_id, key, step (int), value (float),
    timestamp (UTC). Unknown run ids or keys give no rows.
    """
    import pandas as pd
    from mlflow.exceptions import MlflowException

    client = get_client(uri)
    rows: list[tuple] = []
    for run_id in dict.fromkeys(run_ids):
        run_keys = keys
        if not run_keys:
            try:
                run_keys = sorted(client.get_run(run_id).data.metrics)
            except MlflowException:
                continue
        for key in run_keys:
            try:
                points = client.get_metric_history(run_id, key)
            except MlflowException:
                continue
            rows.extend((run_id, key, m.step, m.value, m.timestamp) for m in points)
    df = pd.DataFrame(rows, columns=["run_id", "key", "step", "value", "timestamp"])
    df["step"] = df["step"].astype("int64")
    df["value"] = df["value"].astype(float)
    df["timestamp"] = pd.to_datetime(df["timestamp"].astype("int64"), unit="ms", utc=True)
    return df.sort_values(["run_id", "key", "step", "timestamp"], kind="stable").reset_index(drop=True)
