"""Runs: every run of the store, filterable; live progress of running ones; stop, stop the queue, re-run,
resume; the command that reproduces a run; its loss curve. Reads MLflow, acts through ``adept.launcher``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common

TABLE_COLUMNS = {
    "run_name": "run",
    "status": "status",
    "method": "method",
    "task": "task",
    "backbone": "backbone",
    "seed": "seed",
    "progress": "step",
    "test": "test",
    "params.trainable_params": "trainable",
    "duration": "took",
    "start_time": "started",
    "sweep": "sweep",
    "failure": "why it ended",
}


def _eta(row: pd.Series) -> str:
    """Time left of a running run: remaining steps × the last step time (evaluations not counted)."""
    prog = common.parse_progress(row.get("progress", ""))
    step_s = row.get("metrics.time/step_s")
    if not prog or step_s is None or pd.isna(step_s):
        return "—"
    step, total = prog
    return common.fmt_duration((total - step) * float(step_s))


def _test_value(row: pd.Series) -> str:
    m = common.primary_metric(row)
    v = row.get(f"metrics.test/{m}") if m else None
    return "" if v is None or pd.isna(v) else f"{m} {v:.1f}"


def _table(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["run_name"] = out["run_id"].map(common.run_labels(out))  # names made unique with an id prefix
    out["test"] = [_test_value(r) for _, r in out.iterrows()]
    out["duration"] = [
        common.fmt_duration((e - s).total_seconds()) if pd.notna(e) and pd.notna(s) else ""
        for s, e in zip(out["start_time"], out["end_time"])
    ]
    out["method"] = out["method"].map(charts.method_label)
    if "params.trainable_params" in out:
        out["params.trainable_params"] = [
            common.fmt_int(v) if pd.notna(v) else "" for v in out["params.trainable_params"]
        ]
    cols = [c for c in TABLE_COLUMNS if c in out]
    return out[cols].rename(columns=TABLE_COLUMNS)


def _filtered(df: pd.DataFrame) -> pd.DataFrame:
    cols = st.columns(5)
    for col, (field, label) in zip(
        cols,
        (
            ("task", "Task"),
            ("method", "Method"),
            ("backbone", "Backbone"),
            ("status", "Status"),
            ("sweep", "Sweep"),
        ),
    ):
        options = sorted(v for v in df[field].dropna().astype(str).unique() if v)
        chosen = col.multiselect(
            label,
            options,
            key=f"runs.filter.{field}",
            placeholder="all",
            format_func=charts.method_label if field == "method" else str,
        )
        if chosen:
            df = df[df[field].astype(str).isin(chosen)]
    return df


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
        eta = _eta(row)
        text = (
            f"{row['run_name']} — step {prog[0]} of {prog[1]}"
            + (f" · loss {loss:.4f}" if loss is not None and pd.notna(loss) else "")
            + (f" · ≈ {eta} left" if eta != "—" else " · starting")
        )
        st.progress(min(1.0, prog[0] / prog[1]), text=text)


def _do(action, *args, what: str) -> None:
    ok, message = common.attempt(action, *args, what=what)
    common.clear_caches()
    if ok:
        st.session_state["runs.message"] = (
            message if isinstance(message, str) else f"{what}: done ({message})."
        )


st.title("Runs")
all_runs = common.runs()
if all_runs.empty:
    st.info("No runs in this store yet. Queue some on the Launch page.")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

shown = _filtered(all_runs)
active = bool(all_runs["status"].isin(common.ACTIVE_STATUSES).any())


@st.fragment(run_every=2 if active else None)
def live_table() -> None:
    """Re-read the store every 2 s while something runs or waits; the table and progress follow."""
    fresh = common.runs()
    df = fresh[fresh["run_id"].isin(shown["run_id"])] if len(shown) < len(all_runs) else fresh
    _live(df)
    st.dataframe(
        _table(df),
        hide_index=True,
        key="runs.table",
        height=min(420, 38 + 35 * len(df)),
        column_config={
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "why it ended": st.column_config.TextColumn(width="large"),
        },
    )
    # A run started, ended or was added since the page was drawn: redraw all of it (buttons, selection,
    # curves), not just this table. Statuses change rarely, so this is rare too.
    if dict(zip(fresh["run_id"], fresh["status"])) != dict(zip(all_runs["run_id"], all_runs["status"])):
        st.rerun()


live_table()

message = st.session_state.pop("runs.message", None)
if message:
    st.success(message)

c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
labels = common.run_labels(shown)
if shown.empty:
    st.info("No run matches the filters.")
    st.stop()
order = list(shown["run_id"])
if st.session_state.get("runs.selected") not in order:
    # Default: the newest running run, else the newest run (the one just launched, say).
    hits = shown[shown["status"] == "RUNNING"]
    st.session_state["runs.selected"] = hits["run_id"].iloc[0] if not hits.empty else order[0]
with c1:
    run_id = st.selectbox(
        "Run",
        order,
        key="runs.selected",
        format_func=labels.get,  # no status here: a label that changes under a kept selection can show stale
        help="Newest first. Its status, numbers and curves are shown below.",
    )
with c2:
    n_queued = int((all_runs["status"] == "SCHEDULED").sum())
    if st.button(
        f"Stop the queue ({n_queued})",
        key="runs.stop_queue",
        disabled=n_queued == 0,
        width="stretch",
        help="Cancel every run still waiting; running runs continue.",
    ):
        _do(common.module("launcher").stop_queue, what="Stop the queue")
        st.rerun()

row = shown.set_index("run_id").loc[run_id]
status = row["status"]
launcher = common.module("launcher")

b = st.columns(5)
if b[0].button(
    "Stop",
    key="runs.stop",
    disabled=status not in common.ACTIVE_STATUSES,
    width="stretch",
    help="A running run saves a checkpoint and ends KILLED; a queued one is cancelled.",
):
    _do(launcher.stop_run, run_id, what="Stop")
    st.rerun()
if b[1].button("Re-run", key="runs.rerun", width="stretch", help="Queue a new run with the same config."):
    _do(launcher.rerun, run_id, what="Re-run")
    st.rerun()
if hasattr(launcher, "resume") and b[2].button(
    "Resume",
    key="runs.resume",
    width="stretch",
    disabled=status not in ("KILLED", "FAILED"),
    help="Continue a stopped run from its checkpoint.",
):
    _do(launcher.resume, run_id, what="Resume")
    st.rerun()
b[3].link_button(
    "Open in MLflow UI",
    common.mlflow_run_url(str(row["experiment_id"]), run_id),
    icon=":material/open_in_new:",
    width="stretch",
)
if b[4].button("Refresh", key="runs.refresh", width="stretch", icon=":material/refresh:"):
    common.clear_caches()
    st.rerun()

left, right = st.columns([3, 2], gap="large")
with right:
    st.markdown(f"**{labels[run_id]}** · `{run_id}`")

    def text(v) -> str:
        return "—" if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)

    facts = {
        "status": status,
        "method": charts.method_label(row.get("method", "")),
        "backbone": text(row.get("backbone")),
        "task": text(row.get("task")),
        "seed": text(row.get("seed")),
        "step": text(row.get("progress")),
        "prompt length l, rank r": f"{text(row.get('params.solved.num_virtual_tokens'))}, "
        f"{text(row.get('params.solved.rank'))}",
        "trainable params": common.fmt_int(row.get("params.trainable_params")),
    }
    metric = common.primary_metric(row)
    for prefix in ("test", "best/val", "zero_shot"):
        key = f"metrics.{prefix}/{metric}" if prefix != "best/val" else f"metrics.best/val_{metric}"
        v = row.get(key)
        if metric and v is not None and pd.notna(v):
            facts[f"{prefix.replace('best/val', 'best validation')} {metric}"] = f"{v:.2f}"
    lines = [f"| {k} | {v} |" for k, v in facts.items()]
    st.markdown("\n".join([lines[0], "|---|---|", *lines[1:]]))  # the status is the header row
    if row.get("failure"):
        (st.warning if status == "KILLED" else st.error)(f"{status}: {row['failure']}")
    command = row.get("tags.adept.command")
    if isinstance(command, str) and command:
        st.caption("The command that reproduces this run (copy button on the right):")
        st.code(command, language="bash", wrap_lines=True)
    log = row.get("tags.adept.log")
    if isinstance(log, str) and log:
        with st.expander("Log of the training process"):
            try:
                with open(log, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-4000:]
            except OSError as exc:
                tail = f"(cannot read {log}: {exc})"
            st.code(tail.replace("\r", "\n") or "(empty)", language=None)

with left:
    metric_key = f"val/{metric}" if metric else None

    @st.fragment(run_every=2 if status == "RUNNING" else None)
    def curve() -> None:
        hist = common.history([run_id], ["train/loss"] + ([metric_key] if metric_key else []))
        methods = {run_id: row.get("method", "")}
        names = {run_id: labels[run_id]}
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.loss_curves(hist, labels=names, methods=methods, height=300), key="runs.loss")
        if metric_key:
            c2.plotly_chart(
                charts.eval_curves(hist, metric_key, labels=names, methods=methods, height=300),
                key="runs.eval",
            )

    curve()
