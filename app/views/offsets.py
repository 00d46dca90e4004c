"""Offsets: what the trained offsets do, per token, for a finished PT / DePT / ADePT run.

DePT adds a learned vector per *position*; ADePT computes one from each *token's* embedding. The charts
below make that visible on your own text and on the task's examples. The numbers come from
``adept.analysis`` (the same functions the stored analyses use); this page only loads a run's adapter
(inference, no training) and draws. The parts live in :mod:`app.offsets`; this file lays them out.
"""

from __future__ import annotations

import streamlit as st

from app import charts, common
from app.offsets import live, picking, stored

st.title("Offsets")
st.caption(
    "DePT adds a learned vector to each **position**; ADePT computes one from each **token**. "
    "Pick trained runs (one per method is best) and look at the same inputs through each."
)

usable = picking.usable_runs(common.runs())
if usable.empty:
    st.info(
        "No finished PT / DePT / ADePT run yet: the offsets can be inspected once a run has ended "
        "(its best adapter is saved then)."
    )
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

common.module("analysis")  # a message, and the page stops, when the analysis code cannot be imported
labels = common.run_labels(usable)
st.session_state.setdefault("offsets.runs", picking.default_runs(usable))
st.session_state["offsets.runs"] = [r for r in st.session_state["offsets.runs"] if r in labels]
picked = st.multiselect(
    "Runs to inspect (up to 3)",
    list(usable["run_id"]),
    key="offsets.runs",
    max_selections=3,
    format_func=lambda r: f"{labels[r]} · {usable.set_index('run_id').loc[r, 'backbone']}",
)
if not picked:
    st.info("Pick at least one run.")
    st.stop()
info = usable.set_index("run_id").loc[picked]
if info["backbone"].nunique() > 1:
    st.warning("These runs use different backbones, so their tokens differ: compare runs of one backbone.")

# ------------------------------------------------------------------------------------------------------
# Computed live from the runs' adapters (cached: one adapter + backbone per run, results per run and input)

loaded = live.load_runs(picked, info, labels)
names = {rid: labels[rid] for rid in loaded}
methods = {names[rid]: info.loc[rid, "method"] for rid in loaded}
zero = [
    names[rid]
    for rid in loaded
    if info.loc[rid, "method"] != "pt" and str(info.loc[rid].get("metrics.best/step", "")) in ("0", "0.0")
]
if zero:
    st.warning(
        f"{', '.join(zero)}: the best validation score came at step 0, before any training, so the saved "
        "offsets are still their initial zeros. Train longer (or with a larger offset learning rate)."
    )

st.subheader("Your text", divider="gray")
live.text_section(loaded, info, names, methods)

st.subheader("Across the task's examples", divider="gray")
live.examples_section(loaded, names, methods)

# ------------------------------------------------------------------------------------------------------
# Stored with the runs by `python -m adept analyze` (read only)

st.subheader("Paper analyses", divider="gray")
st.caption(
    "The analyses described in docs/analyses.md, computed once per run by `python -m adept analyze RUN_ID` "
    "and stored with the run (`analysis/*.json`). This page only reads them; it never computes them."
)
uri = common.tracking_uri()
by_method = sorted(picked, key=lambda r: charts.METHOD_ORDER.index(info.loc[r, "method"]))
analysed = stored.read_stored(by_method, labels, uri)
stored.analyse_buttons([r for r in by_method if r not in analysed], labels, uri)
stored.pilot_charts(usable, info, labels, uri)
if not analysed:
    st.info("None of the selected runs is analysed yet: start an analysis above; its charts appear here.")
    st.stop()
stored.analyses_charts(analysed, info, labels)
