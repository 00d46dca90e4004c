"""Compare: runs (or a sweep) side by side — loss and validation curves, final test metrics grouped by method
with the mean and spread over seeds, trainable parameters, step time and total time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common

MODE_SWEEP, MODE_RUNS = "A sweep", "Pick runs"

st.title("Compare")
df = common.runs()
if df.empty:
    st.info("No runs in this store yet. Queue some on the Launch page.")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

labels = common.run_labels(df)
sweeps = [s for s in dict.fromkeys(df["sweep"].astype(str)) if s]  # newest first (df is newest first)
wanted = st.query_params.get("sweep")
if wanted in sweeps and "compare.sweep" not in st.session_state:
    st.session_state["compare.mode"] = MODE_SWEEP
    st.session_state["compare.sweep"] = wanted
st.session_state.setdefault("compare.mode", MODE_SWEEP if sweeps else MODE_RUNS)

c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
mode = c1.radio("Compare", [MODE_SWEEP, MODE_RUNS], key="compare.mode", horizontal=True)
with c2:
    if mode == MODE_SWEEP:
        if not sweeps:
            st.info("No sweeps yet: “Compare all three” on the Launch page makes one. Pick runs instead.")
            st.stop()
        sweep = st.selectbox(
            "Sweep",
            sweeps,
            key="compare.sweep",
            format_func=lambda s: f"{s} ({int((df['sweep'] == s).sum())} runs)",
        )
        chosen = df[df["sweep"] == sweep]
    else:
        finished = df[df["status"] == "FINISHED"]
        default = list(finished["run_id"][:6]) if not finished.empty else list(df["run_id"][:3])
        st.session_state.setdefault("compare.runs", default)
        picked = st.multiselect(
            "Runs",
            list(df["run_id"]),
            key="compare.runs",
            format_func=lambda r: f"{labels[r]} ({df.set_index('run_id').loc[r, 'status']})",
        )
        chosen = df[df["run_id"].isin(picked)]

if chosen.empty:
    st.info("Pick at least one run.")
    st.stop()

ids = list(chosen["run_id"])
methods = dict(zip(chosen["run_id"], chosen["method"]))
names = {r: labels[r] for r in ids}
setups = chosen[["backbone", "task"]].astype(str).drop_duplicates()
group_col = "method"
if len(setups) > 1:
    chosen = chosen.assign(
        group=chosen["method"].map(charts.method_label)
        + " · "
        + chosen["backbone"].astype(str)
        + " · "
        + chosen["task"].astype(str)
    )
    group_col = "group"
    st.warning(
        f"These runs mix {len(setups)} backbone/task setups; summaries are grouped by method, backbone "
        "and task so that only like is averaged with like."
    )
not_done = chosen[chosen["status"] != "FINISHED"]
if not not_done.empty:
    st.caption(
        f"{len(not_done)} of {len(chosen)} runs are not finished "
        f"({', '.join(sorted(set(not_done['status'])))}); their test metrics are missing until they end."
    )

val_cols = common.metric_columns(chosen, "val/")
test_cols = common.metric_columns(chosen, "test/")
primary = next((common.primary_metric(r) for _, r in chosen.iterrows() if common.primary_metric(r)), None)

st.subheader("Training", divider="gray")
c1, c2 = st.columns(2)
with c1:
    smoothing = st.slider(
        "Smoothing (exponential moving average)",
        0.0,
        0.99,
        0.6,
        0.01,
        key="compare.smoothing",
        help="0 = raw; the faint line under each curve is the raw loss.",
    )
with c2:
    val_key = None
    if val_cols:
        val_options = [c.removeprefix("metrics.") for c in val_cols]
        default_val = f"val/{primary}" if f"val/{primary}" in val_options else val_options[0]
        val_key = st.selectbox(
            "Validation metric", val_options, index=val_options.index(default_val), key="compare.val_metric"
        )
hist = common.history(ids, ["train/loss"] + ([val_key] if val_key else []))
c1, c2 = st.columns(2)
c1.plotly_chart(
    charts.loss_curves(hist, labels=names, methods=methods, smoothing=smoothing), key="compare.loss"
)
c1.caption("Same colour = same method; dashes tell the seeds apart. Lower is better.")
if val_key:
    c2.plotly_chart(charts.eval_curves(hist, val_key, labels=names, methods=methods), key="compare.eval")
    c2.caption("Measured every `eval_every` steps on the validation split; the best point's adapter is kept.")
else:
    c2.info("No validation metric logged yet.")

st.subheader("Results", divider="gray")
if not test_cols:
    st.info("No test metrics yet: a run logs them when it finishes.")
else:
    test_options = [c.removeprefix("metrics.") for c in test_cols]
    default_test = f"test/{primary}" if f"test/{primary}" in test_options else test_options[0]
    c1, c2 = st.columns([3, 2])
    with c1:
        test_key = st.selectbox(
            "Test metric", test_options, index=test_options.index(default_test), key="compare.test_metric"
        )
        st.plotly_chart(
            charts.final_metric_by_method(
                chosen, f"metrics.{test_key}", group_col=group_col, label_col="run_name"
            ),
            key="compare.final",
        )
        st.caption("Bar = mean over seeds, error bar = standard deviation, circles = single runs.")
    with c2:
        stats = charts.group_stats(chosen, f"metrics.{test_key}", group_col)
        if group_col == "method":
            stats[group_col] = stats[group_col].map(charts.method_label)
        table = pd.DataFrame(
            {
                group_col: stats[group_col],
                "runs": stats["n"],
                "mean": stats["mean"].round(2),
                "std": [f"{v:.2f}" if pd.notna(v) else "—" for v in stats["std"]],
                "min": stats["min"].round(2),
                "max": stats["max"].round(2),
            }
        )
        st.markdown(f"**{test_key}, by {group_col}**")
        st.dataframe(table, hide_index=True, key="compare.stats")
        st.caption("std is the sample standard deviation over seeds (— for a single run).")
    from app.compare import results as paired_results  # intervals, paired differences, power, caption

    paired_results.render(chosen, test_key)

st.subheader("Cost", divider="gray")
c1, c2 = st.columns(2)
c1.plotly_chart(charts.trainable_params_bars(chosen, label_col="run_name"), key="compare.params")
c1.caption(
    "Prompt + offsets (+ a classification head on encoder backbones). At an equal budget the bars match "
    "up to the solver's rounding (ADePT's and DePT's rank is a whole number)."
)
c2.plotly_chart(charts.time_bars(chosen, group_col=group_col, label_col="run_name"), key="compare.time")
c2.caption("Seconds per optimizer step (training only) and total wall time including evaluations.")
