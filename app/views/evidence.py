"""Evidence: the paper's claims judged by the runs of one experiment. One row per claim with the runs it used
(linked to the Runs page), the effect with its interval and a status: supported, contradicted, inconclusive
(with what would settle it), not testable here (with how to test it) or not run yet (with what to run).
Computed by :mod:`adept.evidence`; the same table as ``python -m adept claims --experiment NAME``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import common

STATUS_ICON = {"supported": "✅", "contradicted": "❌", "inconclusive": "❔", "not testable here": "➖",
               "not run yet": "⏳"}


@st.cache_data(ttl=30, show_spinner="Judging the claims on these runs…")
def _claims(uri: str, experiment: str, target: float) -> list[dict]:
    from adept.evidence import claims_table

    return claims_table(experiment, target_diff=target)


st.title("Evidence")
st.caption("The paper's claims, each judged by your own runs: what they show, with how sure they are. "
           "How to read it: docs/results.md.")
df = common.runs()
if df.empty:
    st.info("No runs in this store yet. Queue PT, DePT and ADePT on the Launch page (pick all three methods).")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

finished = df[df["status"] == "FINISHED"]
experiments = [e for e in dict.fromkeys(finished["experiment"].astype(str)) if e]
if not experiments:
    st.info("No finished runs yet: the claims are judged on finished runs.")
    st.stop()
c1, c2 = st.columns([3, 1])
experiment = c1.selectbox("Experiment", experiments, key="evidence.experiment",
                          format_func=lambda e: f"{e} ({int((finished['experiment'] == e).sum())} finished runs)")
target = c2.number_input("Difference to size for (points)", min_value=0.1, max_value=100.0, value=2.0, step=0.5,
                         key="evidence.target", help="“What would settle it” counts the seeds / examples that "
                                                     "would detect a true difference this large.")
ok, rows = common.attempt(_claims, common.tracking_uri(), experiment, float(target), what="Judging the claims")
if not ok:
    st.stop()

counts = pd.Series([r["status"] for r in rows]).value_counts()
st.markdown(" · ".join(f"{STATUS_ICON.get(s, '')} {s}: {n}" for s, n in counts.items()))
table = pd.DataFrame({
    "#": [r["claim"] for r in rows],
    "claim": [r["text"] for r in rows],
    "status": [f"{STATUS_ICON.get(r['status'], '')} {r['status']}" for r in rows],
    "effect": [r["effect"] or "—" for r in rows],
    "interval": [r["interval"] or "—" for r in rows],
    "what would settle it / how to test": [r["next"] or "—" for r in rows],
    "runs": [len(r["runs"]) for r in rows],
})
st.dataframe(table, hide_index=True, key="evidence.table",
             column_config={"claim": st.column_config.TextColumn(width="medium"),
                            "effect": st.column_config.TextColumn(width="large"),
                            "what would settle it / how to test": st.column_config.TextColumn(width="large")})

st.subheader("Runs behind each claim", divider="gray")
labels = common.run_labels(df)
for r in rows:
    with st.expander(f"{r['claim']}. {r['text']} — {r['status']}"):
        st.markdown(f"**Effect:** {r['effect'] or '—'}  \n**Interval:** {r['interval'] or '—'}  \n"
                    f"**Basis:** {r['basis'] or '—'}")
        if r["next"]:
            st.markdown(f"**Next:** {r['next']}")
        if r["runs"]:
            st.markdown("Runs: " + ", ".join(f"[{labels.get(x, x[:8])}](/runs?run={x})" for x in r["runs"]))
        else:
            st.caption("No run used.")

from adept.evidence.render import claims_markdown  # noqa: E402 - only needed once the rows exist

with st.expander("As markdown (for a README)"):
    st.code(claims_markdown(rows), language="markdown")
