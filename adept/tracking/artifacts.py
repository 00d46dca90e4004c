"""A run's artifacts as local files, and its JSON artifacts parsed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from adept.tracking.store import get_client, tracking_uri


def _local_artifact_dir(client, run_id: str) -> Path | None:
    uri = client.get_run(run_id).info.artifact_uri
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def download_artifacts(run_id: str, path: str = "", *, uri: str | None = None) -> str:
    """A local path to artifact ``path`` (file or folder) of ``run_id``. Raises ValueError if missing.

    For a local artifact store this is the stored file itself (no copy: read it, do not modify it);
    otherwise a download into a temporary folder.
    """
    from mlflow.exceptions import MlflowException

    client = get_client(uri)
    try:
        local = _local_artifact_dir(client, run_id)
    except MlflowException as exc:
        raise ValueError(f"run {run_id!r} not found in {uri or tracking_uri()}") from exc
    if local is not None:
        target = local / path if path else local
        if target.exists():
            return str(target)
        raise ValueError(f"run {run_id} has no artifact {path!r}")
    try:
        return client.download_artifacts(run_id, path, dst_path=tempfile.mkdtemp(prefix="adept-artifacts-"))
    except (MlflowException, OSError) as exc:
        raise ValueError(f"run {run_id} has no artifact {path!r}: {exc}") from exc


def load_json_artifact(run_id: str, artifact_file: str, *, uri: str | None = None) -> dict | list | None:
    """The parsed JSON artifact ``artifact_file`` of ``run_id``, or None if the run or file is missing."""
    try:
        path = download_artifacts(run_id, artifact_file, uri=uri)
    except ValueError:
        return None
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"artifact {artifact_file!r} of run {run_id} is not valid JSON: {exc}") from exc
