"""The Compare page's statistics section: per comparison (task x backbone) each method's metric with its 95 %
interval (error bars), the pairwise differences (interval, p, Holm, verdict), the smallest detectable
difference, the seeds / examples a chosen difference needs, and a caption computed from the data next to
what the paper expects (:mod:`adept.comparison`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import common
from app.charts.intervals import metric_intervals

N_BOOT = 1000
KEEP = ("run_id", "status", "method", "backbone", "task", "seed", "params.solved.num_virtual_tokens",
        "params.solved.rank")


@st.cache_data(ttl=30, show_spinner="Bootstrapping the intervals…")
def _compute(uri: str, frame: pd.DataFrame, metric: str, target: float | None) -> list[dict]:
    from adept.comparison import compare_group, groups_from_frame

    return [compare_group(g, metric, n_boot=N_BOOT, target_diff=target) for g in groups_from_frame(frame, metric)]


def render(chosen: pd.DataFrame, test_key: str) -> None:
    """Draw the section for the runs ``chosen`` on metric ``test_key`` (``test/<name>``)."""
    from adept.comparison.render import pair_rows
    from adept.comparison.words import caption

    st.markdown("**Paired comparison with intervals**")
    col = f"metrics.{test_key}"
    frame = chosen[[c for c in (*KEEP, col) if c in chosen]]
    target = st.number_input("Difference to size for (points)", min_value=0.1, max_value=100.0, value=2.0, step=0.5,
                             key="compare.target_diff",
                             help="How many seeds / test examples would detect a true difference this large "
                                  "(80 % power, two-sided 5 %).")
    ok, results = common.attempt(_compute, common.tracking_uri(), frame, test_key, float(target),
                                 what="Computing the intervals")
    if not ok:
        return
    if not results:
        st.info("No finished runs with this metric yet: intervals appear when runs finish.")
        return
    for i, res in enumerate(results):
        if len(results) > 1:
            st.markdown(f"*{res['title']}*")
        c1, c2 = st.columns([2, 3])
        c1.plotly_chart(metric_intervals(res), key=f"compare.intervals.{i}")
        c1.caption("Point = the metric averaged over seeds; bars = its 95 % interval "
                   + ("(two-way bootstrap over seeds x test examples)." if res["basis"] == "predictions"
                      else "(t interval over seeds only: these runs have no per-example predictions). "
                           "A hollow point has no interval (one run)."))
        with c2:
            rows = pair_rows(res, float(target))
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"compare.pairs.{i}")
            else:
                st.info("One method only: nothing to pair.")
        st.caption(caption(res))
        st.caption(f"Basis: {res['basis']}. {res['note']} How to read this: docs/results.md.")
