"""What a row of the Runs table says that MLflow does not store as such: how long the run trained (never
counting the time it waited in the queue), whether it never started, whether it can resume, where it ran."""

from __future__ import annotations

import pandas as pd
import streamlit as st

TRAIN_STARTED_TAGS = ("tags.adept.train_started", "tags.adept.train_start")
NEVER_STARTED_REASONS = ("cancelled before start",)


def _missing(v) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v)) or v == ""


def _as_time(v) -> pd.Timestamp | None:
    """A stored time: epoch seconds or milliseconds (as text or number) or an ISO string; UTC."""
    if _missing(v):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        try:
            t = pd.to_datetime(str(v), utc=True)
        except (TypeError, ValueError):
            return None
        return None if pd.isna(t) else t
    return pd.to_datetime(x, unit="ms" if x > 1e11 else "s", utc=True)


def train_start(row) -> pd.Timestamp | None:
    """When training began: the train-start tag when the run has one, else MLflow's start time (which, for
    a run created by the queue, is when it was queued), None for a run still waiting."""
    if row.get("status") == "SCHEDULED":
        return None
    for k in TRAIN_STARTED_TAGS:
        t = _as_time(row.get(k))
        if t is not None:
            return t
    s = row.get("start_time")
    return None if _missing(s) else s


def duration_s(row, now: pd.Timestamp | None = None) -> float | None:
    """Seconds from :func:`train_start` to the end (or now, for a running run); None when it never ran."""
    start = train_start(row)
    if start is None or never_started(row):
        return None
    end = row.get("end_time")
    if _missing(end):
        if row.get("status") != "RUNNING":
            return None
        end = now or pd.Timestamp.now(tz="UTC")
    return max(0.0, (end - start).total_seconds())


def never_started(row) -> bool:
    """Ended (cancelled, failed, killed) before a single training step was logged."""
    if row.get("status") not in ("FINISHED", "FAILED", "KILLED"):
        return False
    if str(row.get("failure") or "") in NEVER_STARTED_REASONS:
        return True
    # A last loss of NaN is a step that ran (and failed), so the step time counts too.
    return all(_missing(row.get(k)) for k in ("metrics.train/loss", "metrics.time/step_s", "progress"))


def hide_mask(df: pd.DataFrame) -> pd.Series:
    """True for rows the "hide cancelled / never-started" switch hides."""
    if df.empty:
        return pd.Series([], dtype=bool)
    return pd.Series([never_started(r) for _, r in df.iterrows()], index=df.index)


def where(row) -> str:
    """``"ray · node-3"`` from the executor / host tags (empty when neither is set)."""
    parts = [str(row.get(k)) for k in ("tags.adept.executor", "tags.adept.host") if not _missing(row.get(k))]
    return " · ".join(parts)


@st.cache_data(ttl=10.0, show_spinner=False)
def has_checkpoint(run_id: str, uri: str) -> bool:
    """Whether the run logged a ``checkpoint/`` artifact (it trained at least to its first evaluation or a
    stop): only then can it resume."""
    from adept import tracking

    try:
        return bool(tracking.get_client(uri).list_artifacts(run_id, "checkpoint"))
    except Exception:  # noqa: BLE001 - an unreadable artifact store means: cannot resume
        return False
