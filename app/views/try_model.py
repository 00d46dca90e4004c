"""Try: a trained model on your own text or a test example — each picked run's prediction with its label
scores (or generated text), the per-token offset norms of that input, whether the folded model reads it
the same, and downloads of the adapter, the PEFT export and the folded model. Inference only, on CPU."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common, urlstate
from app.offsets import live, picking
from app.try_model import downloads, predict

st.title("Try a trained model")
st.caption("Pick trained runs, type a text (or take a test example) and see what each one predicts.")

usable = picking.usable_runs(common.runs())
if usable.empty:
    st.info("No finished PT / DePT / ADePT run yet: a run can be tried once it has saved its best adapter.")
    st.page_link("views/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

common.module("analysis")
labels = common.run_labels(usable)
info = usable.set_index("run_id")
urlstate.seed("try.runs", "runs", "list", list(usable["run_id"]))
st.session_state.setdefault("try.runs", picking.default_runs(usable))
st.session_state["try.runs"] = [r for r in st.session_state["try.runs"] if r in labels]
picked = st.multiselect("Runs (up to 3)", list(usable["run_id"]), key="try.runs", max_selections=3,
                        format_func=lambda r: f"{labels[r]} · {info.loc[r, 'backbone']} · {info.loc[r, 'task']}")
urlstate.publish("runs", picked)
if not picked:
    st.info("Pick at least one run.")
    st.stop()
if info.loc[picked, "task"].nunique() > 1:
    st.warning("These runs were trained on different tasks: their labels differ.")

loaded = live.load_runs(picked, info.loc[picked], labels)
first_task = loaded[next(iter(loaded))][2]
test = first_task.splits["test"] or first_task.splits["validation"]

c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
with c2:
    idx = st.number_input("Test example #", min_value=0, max_value=max(0, len(test) - 1), value=0, step=1,
                          key="try.example_index")
    if st.button("Use this test example", key="try.use_example", width="stretch") and test:
        ex = test[int(idx)]
        st.session_state["try.text"] = ex.text
        st.session_state["try.text_pair"] = ex.text_pair or ""
        st.session_state["try.expected"] = int(idx)
with c1:
    st.session_state.setdefault("try.text", live.DEFAULT_TEXT)
    text = st.text_area("Text", key="try.text", height=90)
pair = ""
if any(ex.text_pair for ex in test[:5]):
    pair = st.text_input("Second text (this task reads pairs)", key="try.text_pair")
expected = st.session_state.get("try.expected")
if expected is not None and expected < len(test) and test[expected].text == text:
    gold = test[expected].label
    shown = first_task.label_names[gold] if first_task.kind == "classification" else gold
    st.caption(f"Test example #{expected}: its label is **{shown}**.")

ok, ex = common.attempt(predict.example, first_task, text, pair)
if not ok:
    st.stop()


@st.cache_resource(max_entries=3, show_spinner="Folding the offsets into the table…")
def folded_model(run_id: str):
    model = live.load(run_id)[0]
    try:
        return model.fold()
    except ValueError:
        return None


st.subheader("Predictions", divider="gray")
cols = st.columns(len(loaded))
for col, (rid, (model, encoder, task, _cfg)) in zip(cols, loaded.items()):
    with col:
        st.markdown(f"**{labels[rid]}** · {charts.method_label(model.method)}")
        ok, res = common.attempt(predict.predict, model, encoder, task, ex, what=f"Prediction of {labels[rid]}")
        if not ok:
            continue
        st.metric("prediction", str(res["prediction"]))
        if res["kind"] == "classification":
            table = pd.DataFrame({"label": res["labels"], "probability": res["probabilities"],
                                  "score": res["scores"]})
            if res["verbalizers"] != res["labels"]:
                table.insert(1, "label word", res["verbalizers"])
            st.dataframe(table, hide_index=True, key=f"try.scores.{rid}", width="stretch",
                         column_config={"probability": st.column_config.ProgressColumn(
                             format="%.3f", min_value=0.0, max_value=1.0),
                             "score": st.column_config.NumberColumn(format="%.3f", help=res["score_name"])})
            st.caption(f"score = {res['score_name']}; probability = its softmax over the labels.")
        check = predict.fold_check(model, encoder, ex, folded_model(rid) if model.method != "pt" else None)
        if not check["folded"]:
            st.caption(f"Folded vs unfolded: {check['message']}")
        else:
            verdict = "same prediction" if check["same_argmax"] else "DIFFERENT prediction"
            (st.success if check["same_argmax"] else st.error)(
                f"Folded vs unfolded: {verdict}; largest output difference {check['max_abs_diff']:.2e} "
                f"(outputs up to {check['scale']:.3g}).")

st.subheader("Offsets of this input", divider="gray")
names = {rid: labels[rid] for rid in loaded}
for rid in loaded:
    method = info.loc[rid, "method"]
    if method == "pt":
        st.caption(f"{names[rid]}: PT adds no offsets to the input tokens (every bar would be 0).")
        continue
    ok, res = common.attempt(live.on_text, rid, text, what=f"Offsets of {names[rid]}")
    if ok:
        st.plotly_chart(charts.offset_norm_bars(res["tokens"], res["offset_norm"], method=method,
                                                title=f"Per-token offset norm ‖Δ‖ · {names[rid]}", height=280,
                                                yaxis_title="‖Δ‖"), key=f"try.offsets.{rid}")
st.caption("The Offsets page shows more: relative sizes, the same token at other positions, the task's examples.")

st.subheader("Downloads", divider="gray")
for rid in loaded:
    downloads.section(rid, names[rid])
st.caption("Each file is built when you ask for it (the folded model holds a whole backbone: tens to hundreds "
           "of MB). The same exports from the command line: `python -m adept export RUN_ID --format "
           "adept|peft|folded`.")
