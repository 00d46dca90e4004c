"""A run's training log, readable from any host: the local file where it was written, else its artifact.

The executor that starts a training process writes its output to ``<home>/logs/<run_id>.log`` on the
machine that runs it (tag ``adept.log``) and uploads it as artifact ``logs/run.log`` when the process ends
(the Ray executor also every 30 s while it runs). :func:`read_run_log` is what the Runs page shows.
"""

from __future__ import annotations

import os
from pathlib import Path

from adept.tracking.processes import hostname
from adept.tracking.schema import LOG_ARTIFACT, TAG_HOST, TAG_LOG
from adept.tracking.store import get_client


def upload_run_log(client, run_id: str, path: str | Path | None) -> bool:
    """Upload the log file ``path`` as artifact ``logs/run.log`` of ``run_id``; False if there is none or the
    upload failed (a log upload never changes a run's status)."""
    if not path or not Path(path).is_file():
        return False
    folder, name = os.path.split(LOG_ARTIFACT)
    try:
        if Path(path).name == name:
            client.log_artifact(run_id, str(path), artifact_path=folder)
        else:
            import shutil
            import tempfile

            with tempfile.TemporaryDirectory(prefix="adept-log-") as tmp:
                shutil.copyfile(path, Path(tmp) / name)
                client.log_artifact(run_id, str(Path(tmp) / name), artifact_path=folder)
        return True
    except Exception:  # noqa: BLE001
        return False


def _tail(path: Path, max_bytes: int | None) -> str:
    with open(path, "rb") as f:
        if max_bytes:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
        return f.read().decode("utf-8", "replace")


def read_run_log(run_id: str, *, uri: str | None = None, max_bytes: int | None = 200_000) -> str | None:
    """The training log of ``run_id`` (its last ``max_bytes``; None: all of it), or None when it has none.

    Read from the file the process writes (``adept.log``) when it is on this host and still there, which is
    the live log of a running run; else from the run's ``logs/run.log`` artifact (any host, any store,
    including an MLflow server). Raises ValueError for a run that is not in the store.
    """
    from mlflow.exceptions import MlflowException

    client = get_client(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ValueError(f"run {run_id!r} is not in the store: pick a run from the Runs table") from exc
    local = run.data.tags.get(TAG_LOG)
    if local and run.data.tags.get(TAG_HOST, hostname()) == hostname() and Path(local).is_file():
        return _tail(Path(local), max_bytes)
    try:
        import tempfile

        path = client.download_artifacts(run_id, LOG_ARTIFACT, dst_path=tempfile.mkdtemp(prefix="adept-log-"))
    except (MlflowException, OSError):
        return None
    return _tail(Path(path), max_bytes) if Path(path).is_file() else None
