"""Helpers shared by the pages: reading the store, labels, links, and errors shown as messages.

The app never trains and never holds training state: every page reads MLflow (through
:mod:`adept.tracking`) and acts through :mod:`adept.launcher`, which runs each run in its own process.
"""

from __future__ import annotations

import importlib
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

MLFLOW_UI_DEFAULT = "http://127.0.0.1:5000"
ACTIVE_STATUSES = ("RUNNING", "SCHEDULED")
RECONCILE_EVERY_S = 10.0
_reconciled: dict[str, float] = {}  # tracking URI -> when this process last reconciled it
_reconcile_lock = threading.Lock()


# --------------------------------------------------------------------------------------------------------
# Modules of the library, imported when a page needs them


def module(name: str):
    """``adept.<name>``; if it cannot be imported, a message (no traceback) and the page stops."""
    try:
        return importlib.import_module(f"adept.{name}")
    except Exception as exc:  # noqa: BLE001 - any import failure becomes a message on the page
        st.error(
            f"This page needs `adept.{name}`, which could not be imported: {type(exc).__name__}: {exc}. "
            "Check the installation (`make setup`)."
        )
        st.stop()


def attempt(fn: Callable[..., Any], *args, what: str = "", **kwargs) -> tuple[bool, Any]:
    """Call ``fn``; on failure show ``st.error`` with the message (never a traceback).

    Returns ``(True, result)`` or ``(False, None)``. ``ValueError`` messages are the library's own
    explanations and are shown as they are; anything else is prefixed with its type.
    """
    try:
        return True, fn(*args, **kwargs)
    except ValueError as exc:
        st.error((f"{what}: " if what else "") + str(exc))
    except Exception as exc:  # noqa: BLE001 - the UI must stay up
        st.error((f"{what} failed — " if what else "") + f"{type(exc).__name__}: {exc}")
    return False, None


# --------------------------------------------------------------------------------------------------------
# The store


def tracking_uri() -> str:
    return module("tracking").tracking_uri()


def mlflow_ui_url() -> str:
    """Base URL of the MLflow UI (``ADEPT_MLFLOW_UI`` overrides ``http://127.0.0.1:5000``)."""
    return os.environ.get("ADEPT_MLFLOW_UI", MLFLOW_UI_DEFAULT).rstrip("/")


def mlflow_run_url(experiment_id: str, run_id: str) -> str:
    return f"{mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_ui_command(uri: str | None = None) -> str:
    uri = uri or tracking_uri()
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000 --workers 1"


@st.cache_data(ttl=1.0, show_spinner=False)
def _runs_cached(uri: str) -> pd.DataFrame:
    return module("tracking").runs_dataframe(uri=uri)


def reconcile(force: bool = False) -> list[str]:
    """:func:`adept.launcher.reconcile` before reading, at most every :data:`RECONCILE_EVERY_S` in this app
    process (pages poll every 2 s): a run whose process died shows FAILED, not RUNNING, and a queue whose
    worker died gets a new one. Returns the runs it repaired."""
    now, uri = time.monotonic(), tracking_uri()
    with _reconcile_lock:
        if not force and now - _reconciled.get(uri, -math.inf) < RECONCILE_EVERY_S:
            return []
        _reconciled[uri] = now
    ok, fixed = attempt(module("launcher").reconcile, tracking_uri=uri, what="Checking running runs")
    if ok and fixed:
        clear_caches()
    return fixed or []


def runs() -> pd.DataFrame:
    """Every run of the store (one row each, newest first), re-read at most once a second, reconciled first
    (:func:`reconcile`)."""
    reconcile()
    ok, df = attempt(_runs_cached, tracking_uri(), what="Reading the MLflow store")
    if not ok:
        st.stop()
    return df


@st.cache_data(ttl=2.0, show_spinner=False)
def _history_cached(uri: str, run_ids: tuple[str, ...], keys: tuple[str, ...] | None) -> pd.DataFrame:
    return module("tracking").metric_history(list(run_ids), list(keys) if keys else None, uri=uri)


def history(run_ids: list[str], keys: list[str] | None) -> pd.DataFrame:
    """:func:`adept.tracking.metric_history` (long: run_id, key, step, value), cached for two seconds."""
    if not run_ids:
        return pd.DataFrame(columns=["run_id", "key", "step", "value", "timestamp"])
    ok, df = attempt(
        _history_cached,
        tracking_uri(),
        tuple(run_ids),
        tuple(keys) if keys else None,
        what="Reading metric history",
    )
    return df if ok else pd.DataFrame(columns=["run_id", "key", "step", "value", "timestamp"])


def clear_caches() -> None:
    """After an action that changes the store (launch, stop, re-run): the next read is fresh."""
    _runs_cached.clear()
    _history_cached.clear()


# --------------------------------------------------------------------------------------------------------
# Reading rows


def primary_metric(row: pd.Series | dict) -> str | None:
    """The task's primary metric of a run (what model selection used): from ``metrics.best/val_<m>``, else
    the first ``metrics.test/<m>`` or ``metrics.val/<m>`` column with a value; None when nothing is logged."""
    keys = [k for k in (row.keys() if hasattr(row, "keys") else []) if _has_value(row.get(k))]
    for k in keys:
        if k.startswith("metrics.best/val_"):
            return k.removeprefix("metrics.best/val_")
    for prefix in ("metrics.test/", "metrics.val/"):
        for k in sorted(keys):
            if k.startswith(prefix):
                return k.removeprefix(prefix)
    return None


def _has_value(v) -> bool:
    if v is None:
        return False
    try:
        return not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v)
    except (TypeError, ValueError):
        return True


def metric_columns(df: pd.DataFrame, prefix: str) -> list[str]:
    """``metrics.<prefix>...`` columns that have at least one value, primary-looking ones first."""
    cols = [c for c in df.columns if c.startswith(f"metrics.{prefix}") and df[c].notna().any()]
    first = [c for c in cols if c.endswith("/accuracy")]
    return first + [c for c in cols if c not in first]


def run_labels(df: pd.DataFrame) -> dict[str, str]:
    """``run_id -> run name``; names that occur twice get the first 6 characters of the id appended."""
    names = df["run_name"].fillna("").astype(str)
    names = names.where(names != "", df["run_id"].str[:8])
    dup = names.duplicated(keep=False)
    labels = names.where(~dup, names + " · " + df["run_id"].str[:6])
    return dict(zip(df["run_id"], labels))


def parse_progress(progress: str) -> tuple[int, int] | None:
    """``"40/150"`` -> ``(40, 150)``; None when missing or malformed."""
    try:
        a, b = str(progress).split("/")
        step, total = int(a), int(b)
    except (TypeError, ValueError):
        return None
    return (step, total) if total > 0 else None


def fmt_duration(seconds: float | None) -> str:
    """A rough duration for people: ``42`` -> ``"42 s"``, ``160`` -> ``"3 min"``,
    ``5400`` -> ``"1 h 30 min"``, ``None`` -> ``"—"`` (estimates are rough: no seconds once it is minutes)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3570:
        return f"{max(1, round(s / 60))} min"
    m = int(round(s / 60))
    h, r = divmod(m, 60)
    return f"{h} h" + (f" {r} min" if r else "")


def fmt_int(v) -> str:
    try:
        return f"{int(float(v)):,}"
    except (TypeError, ValueError):
        return "—"


def concurrency() -> int:
    """Runs at once (``ADEPT_MAX_CONCURRENT``, default 1: one run uses both cores of a small CPU)."""
    try:
        return max(1, int(os.environ.get("ADEPT_MAX_CONCURRENT", "1")))
    except ValueError:
        return 1


# --------------------------------------------------------------------------------------------------------
# Sidebar


EXECUTORS = {"local": "This machine (process queue)", "ray": "A Ray cluster"}


def executor_setting() -> tuple[str, str | None]:
    """``(executor, ray_address)`` chosen in the sidebar: where the Launch page sends runs. Defaults:
    ``ADEPT_EXECUTOR`` (``local``) and ``RAY_ADDRESS`` (empty: a local Ray instance is started)."""
    executor = st.session_state.get("executor") or os.environ.get("ADEPT_EXECUTOR", "local")
    address = st.session_state.get("ray_address", os.environ.get("RAY_ADDRESS", "")).strip() or None
    return (executor if executor in EXECUTORS else "local"), address


def sidebar() -> None:
    """Where the data lives, where runs are executed, and how to open the store in MLflow's own UI."""
    with st.sidebar:
        st.divider()
        uri = tracking_uri()
        st.caption(f"Tracking store: `{uri}`")
        executor, address = executor_setting()
        st.session_state.setdefault("ray_address", address or "")
        st.selectbox("Run launched runs on", list(EXECUTORS), index=list(EXECUTORS).index(executor),
                     format_func=EXECUTORS.get, key="executor")
        if st.session_state.get("executor") == "ray":
            st.text_input("Ray address", key="ray_address", placeholder="empty: a local Ray instance",
                          help="auto (the cluster this machine belongs to) or ray://host:10001. Runs log to the "
                               "tracking store above: use an MLflow server so every node reaches it.")
        st.link_button("Open the MLflow UI", mlflow_ui_url(), icon=":material/open_in_new:", width="stretch")
        st.caption(
            "MLflow's own UI shows the same runs. The link works once it runs; start it in a terminal:"
        )
        st.code(mlflow_ui_command(uri), language="bash", wrap_lines=True)
