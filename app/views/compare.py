"""Compare: sweeps (one or several) or picked runs side by side — grouped and coloured by any config field;
what differs between them; loss and validation curves (log scale, by step or wall time); parallel
coordinates of the varied fields against a metric; final test metrics by group with the mean and spread over
seeds; trainable parameters, step time and total time. Every chart's data downloads as CSV / HTML; the
view (runs, grouping, chart settings) lives in the URL."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common, urlstate
from app.compare import export, grouping, selection

st.title("Compare")
df = common.runs()
if df.empty:
    st.info("No runs in this store yet. Queue some on the Launch page.")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

labels = common.run_labels(df)
chosen = selection.choose(df, labels)
if chosen.empty:
    st.info("Pick at least one run.")
    st.stop()
chosen = chosen.assign(run_name=chosen["run_id"].map(labels))

ids = list(chosen["run_id"])
methods = dict(zip(chosen["run_id"], chosen["method"]))
names = {r: labels[r] for r in ids}

# Group by any config field (method by default); mixed backbone / task setups are never averaged together.
options = grouping.fields(chosen)
urlstate.seed("compare.group_by", "by", "str", options)
c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
group_by = c1.selectbox("Group and colour by", options, key="compare.group_by",
                        help="Any config field, as `python -m adept report --by FIELD`. Fields that differ "
                             "between these runs come first.")
urlstate.publish("by", group_by, "method")
chosen = chosen.assign(group=grouping.group_labels(chosen, group_by))
setups = chosen[["backbone", "task"]].astype(str).drop_duplicates()
if len(setups) > 1:
    chosen["group"] = chosen["group"] + " · " + chosen["backbone"].astype(str) + " · " + chosen["task"].astype(str)
    c2.warning(f"These runs mix {len(setups)} backbone/task setups; summaries are grouped by backbone and task "
               "too, so that only like is averaged with like.")
group_col = "group"
palette = charts.group_colors(chosen["group"])
colors = {r: palette[g] for r, g in zip(chosen["run_id"], chosen["group"])}
not_done = chosen[chosen["status"] != "FINISHED"]
if not not_done.empty:
    st.caption(f"{len(not_done)} of {len(chosen)} runs are not finished "
               f"({', '.join(sorted(set(not_done['status'])))}); their test metrics are missing until they end.")

val_cols = common.metric_columns(chosen, "val/")
test_cols = common.metric_columns(chosen, "test/")
primary = next((common.primary_metric(r) for _, r in chosen.iterrows() if common.primary_metric(r)), None)

st.subheader("What differs", divider="gray")
diff = grouping.param_diff(chosen, names)
if diff.shape[1] <= 1:
    st.info("These runs have the same config (apart from names and sweeps).")
else:
    st.dataframe(diff, hide_index=True, key="compare.diff", width="stretch")
    st.caption(f"Only the {diff.shape[1] - 1} config fields whose values differ between the picked runs.")

st.subheader("Training", divider="gray")
for key, param, kind in (("compare.smoothing", "smooth", "float"), ("compare.log_loss", "log", "bool"),
                         ("compare.x", "x", "str")):
    urlstate.seed(key, param, kind, ["step", "wall time"] if kind == "str" else None)
c1, c2, c3, c4 = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
smoothing = c1.slider("Smoothing (exponential moving average)", 0.0, 0.99, 0.6, 0.01, key="compare.smoothing",
                      help="0 = raw; the faint line under each curve is the raw loss.")
log_loss = c2.toggle("Log-scale loss", key="compare.log_loss")
x_axis = c3.radio("x axis", ["step", "wall time"], key="compare.x", horizontal=True)
urlstate.publish("smooth", smoothing, 0.6)
urlstate.publish("log", log_loss, False)
urlstate.publish("x", x_axis, "step")
x = "wall" if x_axis == "wall time" else "step"
val_key = None
if val_cols:
    val_options = [c.removeprefix("metrics.") for c in val_cols]
    default_val = f"val/{primary}" if f"val/{primary}" in val_options else val_options[0]
    val_key = c4.selectbox("Validation metric", val_options, index=val_options.index(default_val),
                           key="compare.val_metric")
hist = common.history(ids, ["train/loss"] + ([val_key] if val_key else []))
c1, c2 = st.columns(2)
with c1:
    loss_fig = charts.loss_curves(hist, labels=names, methods=methods, smoothing=smoothing, colors=colors, x=x,
                                  log_y=log_loss)
    st.plotly_chart(loss_fig, key="compare.loss")
    st.caption(f"Colour = {group_by}; dashes tell runs of one method apart. Lower is better.")
    export.buttons(loss_fig, "training loss", "compare.export.loss",
                   data=hist[hist["key"] == "train/loss"].assign(run=lambda d: d["run_id"].map(names)))
with c2:
    if val_key:
        eval_fig = charts.eval_curves(hist, val_key, labels=names, methods=methods, colors=colors, x=x)
        st.plotly_chart(eval_fig, key="compare.eval")
        st.caption("Measured every `eval_every` steps on the validation split; the best point's adapter is kept.")
        export.buttons(eval_fig, f"validation {val_key}", "compare.export.eval",
                       data=hist[hist["key"] == val_key].assign(run=lambda d: d["run_id"].map(names)))
    else:
        st.info("No validation metric logged yet.")

st.subheader("Settings against the result", divider="gray")
metric_options = [c.removeprefix("metrics.") for c in test_cols + [c for c in val_cols if c not in test_cols]]
axes_fields = [f for f in grouping.varied(chosen) if f not in ("sweep",)]
if not metric_options:
    st.info("No metric logged yet: parallel coordinates need a validation or test score.")
else:
    urlstate.seed("compare.pc_metric", "pc", "str", metric_options)
    pc_metric = st.selectbox("Metric (last axis and colour)", metric_options, key="compare.pc_metric")
    urlstate.publish("pc", pc_metric, metric_options[0])
    axes = [(f, *grouping.numeric_or_codes(chosen, f)) for f in axes_fields]
    pc_fig = charts.parallel_coordinates(axes, pc_metric, chosen[f"metrics.{pc_metric}"].tolist(),
                                         title="Parallel coordinates")
    st.plotly_chart(pc_fig, key="compare.parallel")
    st.caption("One line per run across the config fields that differ, ending at the metric (colour). Drag along "
               "an axis to keep only the runs in a range. Text fields are spread evenly in alphabetical order.")
    export.buttons(pc_fig, "parallel coordinates", "compare.export.parallel")

st.subheader("Results", divider="gray")
if not test_cols:
    st.info("No test metrics yet: a run logs them when it finishes.")
else:
    test_options = [c.removeprefix("metrics.") for c in test_cols]
    default_test = f"test/{primary}" if f"test/{primary}" in test_options else test_options[0]
    c1, c2 = st.columns([3, 2])
    with c1:
        test_key = st.selectbox("Test metric", test_options, index=test_options.index(default_test),
                                key="compare.test_metric")
        title = f"Final {test_key} by {group_by}"
        final_fig = charts.final_metric_by_method(chosen, f"metrics.{test_key}", group_col=group_col,
                                                  label_col="run_name", title=title)
        st.plotly_chart(final_fig, key="compare.final")
        st.caption("Bar = mean over the group's runs, error bar = sample standard deviation, circles = single runs "
                   "(a group of one run has no interval).")
        export.buttons(final_fig, title, "compare.export.final",
                       data=chosen[["run_name", "group", f"metrics.{test_key}"]])
    with c2:
        stats = charts.group_stats(chosen, f"metrics.{test_key}", group_col)
        table = pd.DataFrame({
            group_by: stats[group_col],
            "runs": stats["n"],
            "mean": stats["mean"].round(2),
            "std": [f"{v:.2f}" if pd.notna(v) else "—" for v in stats["std"]],
            "min": stats["min"].round(2),
            "max": stats["max"].round(2),
        })
        st.markdown(f"**{test_key}, by {group_by}**")
        st.dataframe(table, hide_index=True, key="compare.stats", width="stretch")
        st.caption("std is the sample standard deviation over the group's runs (— for a single run).")
    from app.compare import results as paired_results  # intervals, paired differences, power, caption

    paired_results.render(chosen, test_key)

st.subheader("Cost", divider="gray")
c1, c2 = st.columns(2)
with c1:
    params_fig = charts.trainable_params_bars(chosen, label_col="run_name")
    st.plotly_chart(params_fig, key="compare.params")
    st.caption("Prompt + offsets (+ a classification head on encoder backbones). At an equal budget the bars match "
               "up to the solver's rounding (ADePT's and DePT's rank is a whole number).")
    export.buttons(params_fig, "trainable parameters", "compare.export.params")
with c2:
    time_fig = charts.time_bars(chosen, group_col=group_col, label_col="run_name")
    st.plotly_chart(time_fig, key="compare.time")
    st.caption("Seconds per optimizer step (training only) and total wall time including evaluations.")
    export.buttons(time_fig, "time", "compare.export.time")
