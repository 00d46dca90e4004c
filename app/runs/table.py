"""The Runs table: one row per run with what a person scans for (status, step, test score, how long it
trained, where, tags, note), and the filters above it (kept in the URL)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common, urlstate
from app.runs import facts, manage

COLUMNS = {
    "run_name": "run",
    "status": "status",
    "method": "method",
    "task": "task",
    "backbone": "backbone",
    "dtype": "dtype",
    "seed": "seed",
    "progress": "step",
    "test": "test",
    "sweep": "sweep",
    "params.trainable_params": "trainable",
    "duration": "took",
    "start_time": "started",
    "where": "where",
    "tags": "tags",
    "note": "note",
    "failure": "why it ended",
}
FILTERS = (("task", "Task"), ("method", "Method"), ("backbone", "Backbone"), ("status", "Status"),
           ("sweep", "Sweep"), ("tags", "Tag"))
CONFIG = {
    "run": st.column_config.TextColumn(width="medium", pinned=True),
    "seed": st.column_config.NumberColumn(width="small"),
    "step": st.column_config.TextColumn(width="small"),
    "started": st.column_config.DatetimeColumn(format="MM-DD HH:mm", help="When the run was created (UTC)."),
    "dtype": st.column_config.TextColumn(width="small", help="The frozen backbone's storage type, as resolved "
                                         "on the machine that trained it (auto: bfloat16 where measured faster)."),
    "took": st.column_config.TextColumn(help="Training time: from the start of training (not of waiting in "
                                        "the queue) to the end, or to now for a running run."),
    "why it ended": st.column_config.TextColumn(width="large"),
    "note": st.column_config.TextColumn(width="medium"),
}


def _test_value(row: pd.Series) -> str:
    m = common.primary_metric(row)
    v = row.get(f"metrics.test/{m}") if m else None
    return "" if v is None or pd.isna(v) else f"{m} {v:.1f}"


def _dtype(row: pd.Series) -> str:
    for key in ("params.dtype_resolved", "params.dtype"):  # runs before the resolved param: what was asked
        v = row.get(key)
        if isinstance(v, str) and v:
            return v
    return ""


def frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table as shown (labels made unique, durations without queue time)."""
    out = df.copy()
    out["run_name"] = out["run_id"].map(common.run_labels(out))
    rows = [r for _, r in out.iterrows()]
    out["test"] = [_test_value(r) for r in rows]
    out["duration"] = [common.fmt_duration(d) if d is not None else "" for d in map(facts.duration_s, rows)]
    out["where"] = [facts.where(r) for r in rows]
    out["dtype"] = [_dtype(r) for r in rows]
    out["tags"] = [manage.tags_text(r) for r in rows]
    out["note"] = [manage.note_of(r).split("\n", 1)[0] for r in rows]
    out["method"] = out["method"].map(charts.method_label)
    if "params.trainable_params" in out:
        out["params.trainable_params"] = [common.fmt_int(v) if pd.notna(v) else "" for v in
                                          out["params.trainable_params"]]
    cols = [c for c in COLUMNS if c in out and (c != "where" or out["where"].astype(bool).any())]
    return out[cols].rename(columns=COLUMNS)


def _tag_names(df: pd.DataFrame) -> list[str]:
    names = set()
    for _, r in df.iterrows():
        names |= set(manage.user_tags(r))
    return sorted(names)


def filtered(df: pd.DataFrame) -> pd.DataFrame:
    """The filter row (multiselects and the hide switch), seeded from and written to the URL."""
    cols = st.columns(len(FILTERS), vertical_alignment="bottom")
    for col, (field, label) in zip(cols, FILTERS):
        if field == "tags":
            options = _tag_names(df)
        else:
            options = sorted(v for v in df[field].dropna().astype(str).unique() if v)
        key = f"runs.filter.{field}"
        urlstate.seed(key, field, "list", options)
        chosen = col.multiselect(label, options, key=key, placeholder="all",
                                 format_func=charts.method_label if field == "method" else str)
        urlstate.publish(field, chosen)
        if chosen and field == "tags":
            keep = [any(t in manage.user_tags(r) for t in chosen) for _, r in df.iterrows()]
            df = df[pd.Series(keep, index=df.index, dtype=bool)]
        elif chosen:
            df = df[df[field].astype(str).isin(chosen)]
    urlstate.seed("runs.hide_unstarted", "hide", "bool")
    hide = st.toggle("Hide cancelled / never-started", key="runs.hide_unstarted",
                           help="Hide runs that ended before their first training step (cancelled in the "
                                "queue, or failed while starting).")
    urlstate.publish("hide", hide, False)
    if hide:
        mask = facts.hide_mask(df)
        n = int(mask.sum())
        df = df[~mask] if n else df
        if n:
            st.caption(f"{n} cancelled / never-started run{'s' if n != 1 else ''} hidden.")
    return df
