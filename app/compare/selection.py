"""Which runs Compare shows: one or several sweeps (opening on the newest sweep with finished runs), or
runs picked one by one; the choice is kept in the URL."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import urlstate

MODE_SWEEP, MODE_RUNS = "Sweeps", "Pick runs"


def default_sweep(df: pd.DataFrame, sweeps: list[str]) -> str | None:
    """The newest sweep that has a finished run (else the newest sweep)."""
    done = set(df.loc[df["status"] == "FINISHED", "sweep"].astype(str))
    return next((s for s in sweeps if s in done), sweeps[0] if sweeps else None)


def choose(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The mode radio and the sweep / run pickers; returns the chosen rows."""
    sweeps = [s for s in dict.fromkeys(df["sweep"].astype(str)) if s]  # newest first (df is newest first)
    legacy = st.query_params.get("sweep")  # old links: ?sweep=NAME
    if legacy in sweeps and "compare.sweeps" not in st.session_state:
        st.session_state["compare.sweeps"] = [legacy]
        st.session_state["compare.mode"] = MODE_SWEEP
    urlstate.seed("compare.mode", "mode", "str", [MODE_SWEEP, MODE_RUNS])
    urlstate.seed("compare.sweeps", "sweeps", "list", sweeps)
    urlstate.seed("compare.runs", "runs", "list", list(df["run_id"]))
    st.session_state.setdefault("compare.mode", MODE_SWEEP if sweeps else MODE_RUNS)
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    mode = c1.radio("Compare", [MODE_SWEEP, MODE_RUNS], key="compare.mode", horizontal=True)
    urlstate.publish("mode", mode, MODE_SWEEP if sweeps else MODE_RUNS)
    with c2:
        if mode == MODE_SWEEP:
            if not sweeps:
                st.info("No sweeps yet: launching all three methods on the Launch page makes one. Pick runs instead.")
                st.stop()
            st.session_state.setdefault("compare.sweeps", [default_sweep(df, sweeps)])
            counts = df["sweep"].astype(str).value_counts()
            picked = st.multiselect(
                "Sweeps", sweeps, key="compare.sweeps",
                format_func=lambda s: f"{s} ({int(counts.get(s, 0))} runs)",
                help="Pick several to compare across sweeps. Opens on the newest sweep with finished runs.",
            )
            urlstate.publish("sweeps", picked)
            if "sweep" in st.query_params:
                del st.query_params["sweep"]
            return df[df["sweep"].astype(str).isin(picked)]
        finished = df[df["status"] == "FINISHED"]
        st.session_state.setdefault(
            "compare.runs", list(finished["run_id"][:6]) if not finished.empty else list(df["run_id"][:3]))
        status = dict(zip(df["run_id"], df["status"]))
        picked = st.multiselect("Runs", list(df["run_id"]), key="compare.runs",
                                format_func=lambda r: f"{labels[r]} ({status[r]})")
        urlstate.publish("runs", picked)
        return df[df["run_id"].isin(picked)]



__all__ = ["MODE_RUNS", "MODE_SWEEP", "choose", "default_sweep"]
