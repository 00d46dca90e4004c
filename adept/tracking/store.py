"""Where the MLflow store lives, the client on it, and experiments.

``<home>`` (:func:`adept_home`) is ``ADEPT_HOME`` if set; else the folder of the sqlite file named by
``MLFLOW_TRACKING_URI`` (so a store and its artifacts stay together); else, for a remote store (an MLflow
server, a database), ``~/.adept-lab/<server>`` (per user and server, never inside the repository); else
``<repo>/mlruns`` (the default local store). In it:

* the store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<home>/mlflow.db``;
* artifacts of experiment ``<name>``: on a local store ``<home>/artifacts/<name>`` (set when the
  experiment is created); on a remote store wherever the server puts them (its ``--artifacts-destination``
  / default artifact root: every host then reads the same artifacts);
* run queue and logs (see :mod:`adept.launcher`): ``<home>/queue``, ``<home>/logs``, ``<home>/worker.lock``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from adept.tracking.schema import DEFAULT_EXPERIMENT

REPO_ROOT = Path(__file__).resolve().parents[2]  # adept/tracking/store.py -> the repository root


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///...`` URI (relative paths resolved against the cwd), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///"):].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()


def adept_home(uri: str | None = None) -> Path:
    """The folder for the default store, artifacts, queue and logs (see the module docstring)."""
    env = os.environ.get("ADEPT_HOME")
    if env:
        return Path(env).expanduser().resolve()
    uri = uri if uri is not None else os.environ.get("MLFLOW_TRACKING_URI", "")
    db = _sqlite_path(uri) if uri else None
    if db is not None:
        return db.parent
    if uri and is_remote(uri):
        from urllib.parse import urlparse

        parsed = urlparse(uri)
        where = _safe_dirname(f"{parsed.scheme}-{parsed.hostname or 'local'}-{parsed.port or ''}{parsed.path}")
        return Path.home() / ".adept-lab" / where
    return REPO_ROOT / "mlruns"


def is_remote(uri: str) -> bool:
    """Whether ``uri`` is a store other than a local sqlite file or folder (an MLflow server, a database):
    its artifacts are the server's, and local state gets a home outside the repository."""
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    return scheme not in ("", "sqlite", "file")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` (a relative sqlite path made absolute) or ``sqlite:///<home>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        db = _sqlite_path(env)
        if db is not None:
            query = env.split("?", 1)[1] if "?" in env else ""
            return f"sqlite:///{db}" + (f"?{query}" if query else "")
        return env
    return f"sqlite:///{adept_home() / 'mlflow.db'}"


def get_client(uri: str | None = None):
    """An ``MlflowClient`` on :func:`tracking_uri` (or ``uri``), checked first
    (:func:`adept.tracking.uri_check.check_tracking_uri`); creates the sqlite file's folder."""
    from mlflow import MlflowClient

    from adept.tracking.uri_check import check_tracking_uri

    uri = uri or tracking_uri()
    check_tracking_uri(uri)  # a malformed URI or a server that is down: one line within seconds
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        _create_schema_once(uri, db)
    return MlflowClient(tracking_uri=uri)


_SCHEMA_READY: set[str] = set()


def _create_schema_once(uri: str, db: Path) -> None:
    """Create a new sqlite store's tables under a file lock. Two processes opening a fresh store at once
    (the app polling while a run starts) otherwise race in MLflow's migrations ("duplicate column")."""
    if uri in _SCHEMA_READY:
        return
    import fcntl

    from mlflow import MlflowClient

    with open(db.parent / (db.name + ".init-lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # runs the migrations
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _SCHEMA_READY.add(uri)


def _safe_dirname(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def ensure_experiment(name: str = DEFAULT_EXPERIMENT, *, uri: str | None = None) -> str:
    """The id of experiment ``name``; created if new, with artifact location ``<home>/artifacts/<name>`` on a
    local store, and the server's own location on a remote one (so its artifact store holds them)."""
    from mlflow.exceptions import MlflowException

    name = (name or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT
    client = get_client(uri)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if not is_remote(uri or tracking_uri()):
            location = adept_home(uri) / "artifacts" / _safe_dirname(name)
            location.mkdir(parents=True, exist_ok=True)
        try:
            return client.create_experiment(name, artifact_location=location.as_uri() if location else None)
        except MlflowException:
            exp = client.get_experiment_by_name(name)  # another process created it at the same moment
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise ValueError(
            f"MLflow experiment {name!r} is deleted: restore it (`mlflow experiments restore "
            f"--experiment-id {exp.experiment_id}`) or use another experiment name."
        )
    return exp.experiment_id
