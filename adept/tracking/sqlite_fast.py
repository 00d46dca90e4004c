"""The sqlite fast path: every run's record read straight from MLflow's own tables.

The Runs page polls every few seconds; through ``MlflowClient.search_runs`` 1,000 runs cost ~2 s on
sqlite, mostly ORM work. One read-only SQL snapshot of the tables ``runs``, ``experiments``, ``params``,
``latest_metrics`` and ``tags`` gives the same records ~20x faster. It reads MLflow's schema, which is
not a public interface, so it is used only where it is proven equal to ``search_runs``
(:func:`fast_path_refusal`):

* the installed MLflow version and the store's schema revision (``alembic_version``) are the pair it was
  checked on (:data:`VERIFIED_SCHEMAS`), and the tables have the columns it reads;
* MLflow workspaces are not in use: none enabled (``MLFLOW_ENABLE_WORKSPACES``, ``MLFLOW_WORKSPACE``) and
  every experiment in the default workspace (with workspaces, ``search_runs`` sees one workspace's runs and
  a plain SQL read sees all of them: 13 where ``search_runs`` returned 11);
* the first read of each store in a process is compared with ``search_runs`` run by run (ids, names,
  statuses, times, params, metrics, tags); on any difference the fast path is off for that store.

Otherwise, or on any error, :func:`adept.tracking.reading.runs_dataframe` pages through ``search_runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

# MLflow version -> the alembic revision of its sqlite schema that this reader was checked against.
VERIFIED_SCHEMAS = {"3.17.2": "dc11669786a5"}
_COLUMNS = {
    "runs": {"run_uuid", "name", "status", "start_time", "end_time", "experiment_id", "lifecycle_stage"},
    "experiments": {"experiment_id", "name", "lifecycle_stage"},
    "params": {"run_uuid", "key", "value"},
    "tags": {"run_uuid", "key", "value"},
    "latest_metrics": {"run_uuid", "key", "value", "is_nan"},
}
_VERIFIED: dict[str, bool] = {}  # db path -> whether the first read equalled search_runs


def _mlflow_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow")
    except PackageNotFoundError:
        return "missing"


def fast_path_refusal(db: Path) -> str | None:
    """Why the SQL fast path must not read ``db`` (see the module docstring), or None when it may."""
    import sqlite3

    if os.environ.get("ADEPT_FAST_READ", "1") == "0":
        return "ADEPT_FAST_READ=0"
    for var in ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE", "MLFLOW_WORKSPACE_STORE_URI"):
        if os.environ.get(var, "").strip().lower() not in ("", "0", "false"):
            return f"{var} is set: MLflow workspaces are in use"
    want = VERIFIED_SCHEMAS.get(_mlflow_version())
    if want is None:
        return f"MLflow {_mlflow_version()} is not a version the fast path was checked on"
    if not db.exists():
        return None
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        revision = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        if revision != [want]:
            return f"schema revision {revision} is not {want}"
        for table, needed in _COLUMNS.items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if not needed <= have:
                return f"table {table} lacks {sorted(needed - have)}"
        columns = {r[1] for r in conn.execute("PRAGMA table_info(experiments)")}
        if "workspace" in columns:
            spaces = [r[0] for r in conn.execute("SELECT DISTINCT workspace FROM experiments")]
            if any(w not in (None, "default") for w in spaces):
                return f"experiments in MLflow workspaces {sorted(map(str, spaces))}"
    finally:
        conn.close()
    if _VERIFIED.get(str(db)) is False:
        return "its first read differed from search_runs"
    return None


def needs_verification(db: Path) -> bool:
    """Whether this process has not yet compared a fast read of ``db`` with ``search_runs``."""
    return str(db) not in _VERIFIED


def record_verification(db: Path, equal: bool) -> None:
    _VERIFIED[str(db)] = equal


def _records_from_sqlite(db: Path, experiment: str | None) -> list[tuple]:
    """(run_id, run_name, status, start_ms, end_ms, experiment_id, experiment, params, metrics, tags) per
    active run of ``experiment`` (name or id; None: every active experiment) in the sqlite file ``db``: the
    records :func:`adept.tracking.reading._records_from_search` gives, from one read-only snapshot."""
    import sqlite3

    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot for all five queries
        where = "r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'"
        args: tuple = ()
        if experiment:
            where += " AND (e.name = ? OR CAST(e.experiment_id AS TEXT) = ?)"
            args = (experiment, experiment)
        selected = f"SELECT r.run_uuid FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id " \
                   f"WHERE {where}"
        runs = conn.execute(
            "SELECT r.run_uuid, r.name, r.status, r.start_time, r.end_time, r.experiment_id, e.name "
            f"FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id WHERE {where}", args,
        ).fetchall()
        params: dict[str, dict] = {}
        for run_id, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({selected})", args):
            params.setdefault(run_id, {})[key] = value
        metrics: dict[str, dict] = {}
        for run_id, key, value, is_nan in conn.execute(
                f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN ({selected})",
                args):
            metrics.setdefault(run_id, {})[key] = float("nan") if is_nan else float(value)
        tags: dict[str, dict] = {}
        for run_id, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({selected})", args):
            tags.setdefault(run_id, {})[key] = value
        conn.execute("COMMIT")
    finally:
        conn.close()
    return [
        (rid, name or tags.get(rid, {}).get("mlflow.runName", ""), status, start, end, str(eid), ename,
         params.get(rid, {}), metrics.get(rid, {}), tags.get(rid, {}))
        for rid, name, status, start, end, eid, ename in runs
    ]


def _running_runs_from_sqlite(db: Path) -> list[tuple[str, dict]]:
    """``(run_id, tags)`` of every active RUNNING run in the sqlite file ``db`` (one read-only query, no
    MLflow import): what :func:`adept.launcher.reconcile` needs to tell whether any process died."""
    import sqlite3

    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT r.run_uuid, t.key, t.value FROM runs r LEFT JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active'").fetchall()
    finally:
        conn.close()
    out: dict[str, dict] = {}
    for run_id, key, value in rows:
        tags = out.setdefault(run_id, {})
        if key is not None:
            tags[key] = value
    return list(out.items())


def _statuses_from_sqlite(db: Path, run_ids: list[str]) -> dict[str, str]:
    """``{run_id: status}`` of the given runs in the sqlite file ``db`` (missing ones left out)."""
    import sqlite3

    if not db.exists() or not run_ids:
        return {}
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None)
    try:
        marks = ",".join("?" * len(run_ids))
        return dict(conn.execute(f"SELECT run_uuid, status FROM runs WHERE run_uuid IN ({marks})", run_ids))
    finally:
        conn.close()
