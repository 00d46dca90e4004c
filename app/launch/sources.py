"""Where a run's model and data come from: a registry backbone or any hub id / local model folder, and a
registry task or the user's own file (uploaded, or a path on this machine), with their checks.

A typed path (a data file, or a registry task's folder) is read only when it lies inside a data folder
(:func:`data_roots`: the uploads, ``<repo>/data``, ``./data`` and ``ADEPT_DATA_DIRS``) unless the user ticks
"Read files outside the data folders": the form shows what it reads (rows, labels, errors quoting the
file), so without that rule anyone who can open the page could read any file the server can."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app import common
from app.launch.fields import K

UPLOAD = "your own file (csv / jsonl / parquet)"
OTHER_BACKBONE = "other: hub id or local folder"
MAX_UPLOAD_NAME = 100  # characters kept of an upload's name (a file system allows 255 bytes in all)
ANY_PATH_LABEL = "Read files outside the data folders"


@dataclass
class DataSource:
    """The task picked in the form: a registry task name, or :data:`UPLOAD` with the file and its columns."""

    task: str
    data_file: str | None = None
    text_column: str = ""
    text_pair_column: str = ""
    label_column: str = ""
    data_dir: str = ""  # a registry task's local files (paper tasks offline)

    @property
    def is_file(self) -> bool:
        return self.task == UPLOAD


# ------------------------------------------------------------------------------------------------------
# Widgets (errors go into ``slot[field]``, a placeholder under the field's widget)


def backbone_widgets(slot: dict) -> str:
    """The backbone selectbox (or a text field for any other model); returns its name or hub id / folder."""
    backbones = common.module("backbones")
    options = list(backbones.BACKBONE_INFO) + [OTHER_BACKBONE]
    if st.session_state[K + "backbone"] not in options:
        st.session_state[K + "backbone"] = options[0]
    choice = st.selectbox("Backbone", options, key=K + "backbone")
    if choice == OTHER_BACKBONE:
        backbone = st.text_input(
            "Hub id or local model folder",
            key=K + "backbone_other",
            placeholder="e.g. /models/my-t5 or google-t5/t5-small",
        ).strip()
    else:
        backbone = choice
        st.caption(backbones.BACKBONE_INFO[choice].get("description", ""))
    slot["backbone"] = st.empty()
    return backbone


def task_widget(slot: dict) -> str:
    """The task selectbox (registry tasks, then :data:`UPLOAD`) with the task's description."""
    tasks_mod = common.module("tasks")
    options = list(tasks_mod.list_tasks()) + [UPLOAD]
    if st.session_state[K + "task"] not in options:
        st.session_state[K + "task"] = options[0]
    choice = st.selectbox("Task", options, key=K + "task")
    descriptions = tasks_mod.task_descriptions() if hasattr(tasks_mod, "task_descriptions") else {}
    if choice != UPLOAD and descriptions.get(choice):
        st.caption(descriptions[choice])
    slot["task"] = st.empty()
    return choice


def data_widgets(task: str, slot: dict) -> DataSource:
    """For :data:`UPLOAD`: the uploader, a path field and the column names; for a registry task that needs
    local files offline: the folder that holds them."""
    if task == UPLOAD:
        upload = st.file_uploader(
            "Data file",
            type=["csv", "jsonl", "parquet"],
            key=K + "upload",
            help="One row per example: a text column and a label column; an optional "
            "'split' column (train / validation / test), else an 80/10/10 split.",
        )
        path_typed = st.text_input(
            "…or the path of a file on this machine",
            key=K + "data_path",
            placeholder="data/reviews.csv",
            help="Inside a data folder: " + ", ".join(str(r) for r in data_roots()) + ".",
        ).strip()
        any_path_checkbox()
        c1, c2, c3 = st.columns(3)
        source = DataSource(
            task,
            text_column=c1.text_input("Text column", key=K + "text_column"),
            text_pair_column=c2.text_input("Second text column (optional)", key=K + "text_pair_column"),
            label_column=c3.text_input("Label column", key=K + "label_column"),
        )
        if upload is not None:
            source.data_file = str(save_upload(upload))
        elif path_typed:
            source.data_file = str(Path(path_typed).expanduser().resolve())
        slot["data_file"] = st.empty()
        return source
    if task not in offline_tasks():
        st.text_input(
            "Folder with the task's files (train / validation csv, jsonl or parquet)",
            key=K + "data_dir",
            help="Paper tasks need local files offline; online they come from the Hugging Face hub.",
        )
        if st.session_state.get(K + "data_dir"):
            any_path_checkbox()
        slot["data_dir"] = st.empty()
    # The remembered folder counts even when its field is not drawn (tasks with offline data).
    return DataSource(task, data_dir=st.session_state.get(K + "data_dir") or "")


# ------------------------------------------------------------------------------------------------------
# Checks


def data_roots() -> list[Path]:
    """The folders typed paths may read from without the opt-in: ``<home>/uploads``, ``<repo>/data``,
    ``<working dir>/data`` and every folder in ``ADEPT_DATA_DIRS`` (separated by ``os.pathsep``)."""
    import os

    tracking = common.module("tracking")
    roots = [tracking.adept_home() / "uploads", tracking.REPO_ROOT / "data", Path.cwd() / "data"]
    roots += [Path(p).expanduser() for p in os.environ.get("ADEPT_DATA_DIRS", "").split(os.pathsep) if p.strip()]
    return list(dict.fromkeys(r.resolve() for r in roots))


def inside_data_roots(path: str) -> bool:
    """Whether ``path`` (symlinks followed) lies inside one of :func:`data_roots`."""
    resolved = Path(path).expanduser().resolve()
    return any(resolved == r or resolved.is_relative_to(r) for r in data_roots())


def any_path_checkbox() -> bool:
    """The opt-in to read typed paths outside the data folders (off by default)."""
    return st.checkbox(
        ANY_PATH_LABEL,
        key=K + "any_path",
        help="Off: only files in " + ", ".join(str(r) for r in data_roots()) + " are read. On: any file this "
        "server can read — fine on your own machine, risky when others can open this page.",
    )


def _outside_roots(path: str, what: str) -> str | None:
    if st.session_state.get(K + "any_path") or inside_data_roots(path):
        return None
    return (f"{what} is outside the data folders ({', '.join(str(r) for r in data_roots())}) — upload it, move it "
            f"into one of them, or tick “{ANY_PATH_LABEL}”")


def offline_tasks() -> tuple:
    return tuple(getattr(common.module("tasks"), "OFFLINE_TASKS", ()))


def backbone_errors(backbone: str, d: int | None) -> dict[str, str]:
    """``{"backbone": message}`` when the backbone is missing or its width ``d`` cannot be found."""
    if not backbone:
        return {"backbone": "empty — type a hub id or a local model folder"}
    if d is None:
        return {
            "backbone": f"cannot tell the width of {backbone!r} — use a registry name, a local model folder, "
            "or a hub id while online"
        }
    return {}


def data_file_errors(source: DataSource) -> dict[str, str]:
    """``{"data_file": message}`` when the user's file is missing or ``adept.tasks.load_task`` rejects it."""
    if not source.is_file:
        return {}
    path = source.data_file
    if not path:
        return {"data_file": "upload a file or type its path"}
    outside = _outside_roots(path, "this file")  # uploads are stored inside a data folder
    if outside:
        return {"data_file": outside}  # neither read nor even looked at
    problem = common.module("tasks.user_files").path_problem(path)
    if problem:
        return {"data_file": problem}
    _, err = check_data_file(
        path, Path(path).stat().st_mtime, source.text_column, source.text_pair_column, source.label_column
    )
    return {"data_file": err} if err else {}


@st.cache_data(show_spinner="Checking the data file…", max_entries=32)
def check_data_file(
    path: str, mtime: float, text_column: str, text_pair_column: str, label_column: str
) -> tuple[str | None, str | None]:
    """``(description, None)`` when ``adept.tasks.load_task`` accepts the file, else ``(None, error)``."""
    try:
        task = common.module("tasks").load_task(
            path,
            text_column=text_column or "text",
            text_pair_column=text_pair_column or None,
            label_column=label_column or "label",
        )
    except ValueError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken file must not break the page
        return None, f"could not read the file: {type(exc).__name__}: {exc}"
    return task.description, None


@st.cache_data(show_spinner="Checking the task's data…", max_entries=32)
def check_registry_task(name: str, data_dir: str) -> str | None:
    """None when the registry task loads (offline data or ``data_dir`` files), else the error message."""
    try:
        common.module("tasks").load_task(name, data_dir=data_dir or None)
    except ValueError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return f"could not load task {name!r}: {type(exc).__name__}: {exc}"
    return None


def data_dir_errors(source: DataSource) -> dict[str, str]:
    """``{"data_dir": message}`` when a registry task's folder is typed outside the data folders (unless
    allowed) or is not a folder."""
    folder = source.data_dir
    if source.is_file or not folder:
        return {}
    outside = _outside_roots(folder, "this folder")
    if outside:
        return {"data_dir": outside}
    if not Path(folder).expanduser().is_dir():
        return {"data_dir": f"{folder} is not a folder — give the folder that holds the task's csv / jsonl files"}
    return {}


def upload_name(name: str) -> str:
    """A safe, short file name for an upload: only ``[A-Za-z0-9._-]``, no leading dots, at most
    :data:`MAX_UPLOAD_NAME` characters with its extension kept (a 300-character name would not fit the
    file system's 255)."""
    base = Path(str(name)).name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._") or "data"
    stem, suffix = (safe.rsplit(".", 1)[0], "." + safe.rsplit(".", 1)[1]) if "." in safe else (safe, "")
    suffix = suffix[:16]
    return (stem[: MAX_UPLOAD_NAME - len(suffix)] or "data") + suffix


def save_upload(upload) -> Path:
    """Store an upload as ``<ADEPT_HOME>/uploads/<sha>-<name>`` (the run processes read it from there)."""
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:12]
    safe = upload_name(upload.name)
    folder = common.module("tracking").adept_home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}-{safe}"
    if not path.exists():
        path.write_bytes(data)
    return path
