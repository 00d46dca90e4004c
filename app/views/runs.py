"""Runs: every run of the store, filterable (filters in the URL); live progress; delete / restore, tags and
notes (from the table's selection or the run's panel); stop, re-run, resume; the run's reproduce command,
full log and curves. Reads MLflow, acts through ``adept.launcher`` and :mod:`app.runs.manage`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import common, urlstate
from app.runs import manage, panel, table


def _live(df: pd.DataFrame) -> None:
    """Progress bars of running runs and the queue length."""
    running = df[df["status"] == "RUNNING"]
    queued = df[df["status"] == "SCHEDULED"]
    if running.empty and queued.empty:
        return
    st.markdown(f"**Now:** {len(running)} running, {len(queued)} waiting in the queue")
    for _, row in running.iterrows():
        prog = common.parse_progress(row.get("progress", "")) or (0, 1)
        loss = row.get("metrics.train/loss")
        step_s = row.get("metrics.time/step_s")
        eta = common.fmt_duration((prog[1] - prog[0]) * float(step_s)) if pd.notna(step_s) else "—"
        text = (
            f"{row['run_name']} — step {prog[0]} of {prog[1]}"
            + (f" · loss {loss:.4f}" if loss is not None and pd.notna(loss) else "")
            + (f" · ≈ {eta} left" if eta != "—" else " · starting")
        )
        st.progress(min(1.0, prog[0] / prog[1]), text=text)


def _bulk(df: pd.DataFrame, picked: list[str]) -> None:
    """Actions on the rows ticked in the table."""
    statuses = dict(zip(df["run_id"], df["status"]))
    c0, c1, c2, c3 = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
    c0.markdown(f"**{len(picked)} ticked run{'s' if len(picked) != 1 else ''}**")
    if c1.button(f"Delete {len(picked)}", key="runs.bulk_delete", icon=":material/delete:", width="stretch"):
        panel.do(manage.delete_runs, picked, statuses, what="Delete")
    key = c2.text_input("Tag the ticked runs", key="runs.bulk_tag", placeholder="tag name")
    if c3.button("Tag", key="runs.bulk_tag_go", width="stretch"):
        panel.do(manage.set_tag, picked, key, "", what="Tag")


def _trash() -> None:
    ok, gone = common.attempt(manage.deleted_runs, what="Reading deleted runs")
    if not ok or gone.empty:
        return
    with st.expander(f"Deleted runs ({len(gone)})", icon=":material/delete:"):
        labels = dict(zip(gone["run_id"], gone["run_name"].where(gone["run_name"] != "", gone["run_id"].str[:8])))
        pick = st.multiselect("Restore", list(gone["run_id"]), key="runs.restore_pick",
                              format_func=lambda r: f"{labels[r]} · {r[:6]}")
        if st.button("Restore", key="runs.restore", disabled=not pick):
            panel.do(manage.restore_runs, pick, what="Restore")
        st.caption("Deleted runs stay in the store until `mlflow gc` removes them for good.")


st.title("Runs")
all_runs = common.runs()
if all_runs.empty:
    st.info("No runs in this store yet. Queue some on the Launch page.")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    _trash()
    st.stop()

shown = table.filtered(all_runs)
active = bool(all_runs["status"].isin(common.ACTIVE_STATUSES).any())


@st.fragment(run_every=2 if active else None)
def live_table() -> None:
    """Re-read the store every 2 s while something runs or waits; the table and progress follow."""
    fresh = common.runs()
    df = fresh[fresh["run_id"].isin(shown["run_id"])]
    _live(df)
    event = st.dataframe(
        table.frame(df),
        hide_index=True,
        key="runs.table",
        height=min(38 + 35 * 20, 38 + 35 * max(1, len(df))),
        column_config=table.CONFIG,
        on_select="rerun",
        selection_mode="multi-row",
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows:
        _bulk(df, [df["run_id"].iloc[i] for i in rows if i < len(df)])
    else:
        st.caption("Tick rows in the table to delete or tag several runs at once.")
    # A run started, ended or was added since the page was drawn: redraw all of it (buttons, selection,
    # curves), not just this table. Statuses change rarely, so this is rare too.
    if dict(zip(fresh["run_id"], fresh["status"])) != dict(zip(all_runs["run_id"], all_runs["status"])):
        st.rerun()


live_table()
_trash()

message = st.session_state.pop("runs.message", None)
if message:
    st.success(message)

if shown.empty:
    st.info("No run matches the filters.")
    st.stop()
labels = common.run_labels(shown)
order = list(shown["run_id"])
urlstate.seed("runs.selected", "run", "str", order)
if st.session_state.get("runs.selected") not in order:
    # Default: the newest running run, else the newest run (the one just launched, say).
    hits = shown[shown["status"] == "RUNNING"]
    st.session_state["runs.selected"] = hits["run_id"].iloc[0] if not hits.empty else order[0]
c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
with c1:
    run_id = st.selectbox(
        "Run",
        order,
        key="runs.selected",
        format_func=labels.get,  # no status here: a label that changes under a kept selection can show stale
        help="Newest first. Its status, numbers and curves are shown below.",
    )
urlstate.publish("run", run_id)
with c2:
    n_queued = int((all_runs["status"] == "SCHEDULED").sum())
    if st.button(
        f"Stop the queue ({n_queued})",
        key="runs.stop_queue",
        disabled=n_queued == 0,
        width="stretch",
        help="Cancel every run still waiting; running runs continue.",
    ):
        panel.do(common.module("launcher").stop_queue, what="Stop the queue")

status = shown.set_index("run_id").loc[run_id, "status"]
panel.show(run_id, labels[run_id], status in common.ACTIVE_STATUSES)
