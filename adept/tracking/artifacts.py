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


# ----------------------------------------------------------------------------------------------------------
# Folders written whole: a manifest of every file, and an atomic swap on a local artifact store

MANIFEST = "manifest.json"
_PARTIAL, _OLD = ".partial-", ".old-"


def write_manifest(folder: str | Path) -> None:
    """Write ``<folder>/manifest.json``: the size and sha256 of every other file in ``folder`` (its last file)."""
    import hashlib

    folder = Path(folder)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        files[path.relative_to(folder).as_posix()] = {"bytes": path.stat().st_size,
                                                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1))


def manifest_problem(folder: str | Path) -> str | None:
    """Why ``folder`` is not the whole folder its manifest lists (a file missing, short or changed), or None.
    A folder without a manifest (written before manifests existed) is taken as it is."""
    import hashlib

    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its {MANIFEST} is unreadable ({type(exc).__name__})"
    for name, want in files.items():
        f = folder / name
        if not f.is_file():
            return f"{name} is missing"
        if f.stat().st_size != want["bytes"]:
            return f"{name} has {f.stat().st_size:,} bytes, not {want['bytes']:,} (cut short)"
        if hashlib.sha256(f.read_bytes()).hexdigest() != want["sha256"]:
            return f"{name} does not match its checksum"
    return None


def replace_folder(source: str | Path, target: Path) -> None:
    """Make ``target`` a copy of folder ``source`` so that a reader (or a process killed at any moment) sees
    either the old folder or the new one, never a mix: copy next to it, then two renames. A kill between
    the renames leaves ``.old-<name>`` alone, which :func:`repair_folder` (and :func:`local_folder`) take."""
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{_PARTIAL}{target.name}-{os.getpid()}")
    old = target.with_name(f"{_OLD}{target.name}")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    if old.exists() and target.exists():
        shutil.rmtree(old)  # a previous swap finished its renames but not its clean-up
    if target.exists():
        os.rename(target, old)
    os.rename(partial, target)
    shutil.rmtree(old, ignore_errors=True)


def repair_folder(target: Path) -> None:
    """After a process died while :func:`replace_folder` ran: put ``.old-<name>`` back when ``target`` is
    missing, and remove copies that never finished."""
    import shutil

    old = target.with_name(f"{_OLD}{target.name}")
    if old.exists():
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, target)
    for partial in target.parent.glob(f"{_PARTIAL}{target.name}-*"):
        shutil.rmtree(partial, ignore_errors=True)


def repair_run_artifacts(run_id: str, *, uri: str | None = None, client=None) -> None:
    """Finish or undo folder swaps that a dead process of ``run_id`` left (see :func:`replace_folder`)."""
    root = _local_artifact_dir(client or get_client(uri), run_id)
    if root is None or not root.is_dir():
        return
    names = {p.name.removeprefix(_OLD) for p in root.glob(f"{_OLD}*")}
    names |= {p.name.removeprefix(_PARTIAL).rsplit("-", 1)[0] for p in root.glob(f"{_PARTIAL}*")}
    for name in names:
        repair_folder(root / name)
