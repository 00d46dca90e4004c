"""Offsets computed live from a run's best adapter (inference, no training): on the user's text, where a
repeated token shows whether its offset follows the token (ADePT) or the position (DePT), and on the task's
validation examples (position vs input, tokens per DePT position, a 2-D projection). The numbers are
``adept.analysis``'s."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common

DEFAULT_TEXT = "the film is funny , and the film is moving ."
SHIFTS = (1, 2, 4, 8)


@st.cache_resource(max_entries=3, show_spinner="Loading the run's adapter and backbone…")
def load(run_id: str):
    """``(model, encoder, task, config)`` of a run's best adapter (``adept.analysis.load_run_model``)."""
    return common.module("analysis").load_run_model(run_id)


@st.cache_data(max_entries=64, show_spinner=False)
def on_text(run_id: str, text: str) -> dict:
    analysis = common.module("analysis")
    model = load(run_id)[0]
    out = analysis.token_offsets(model, text)
    tok = model.backbone.tokenizer
    ids = tok(text, add_special_tokens=False, truncation=True, max_length=model.max_length)["input_ids"]
    neutral = analysis.neutral_token_ids(tok, max(SHIFTS))
    import torch

    out["shift"] = analysis.shift_demo(model, torch.tensor(ids, device=model.prompt.device), neutral, SHIFTS)
    return out


@st.cache_data(max_entries=32, show_spinner=False)
def on_examples(run_id: str, n: int) -> dict:
    analysis = common.module("analysis")
    model, encoder, task, _ = load(run_id)
    examples = task.splits["validation"][:n] or task.splits["test"][:n]
    ids, mask = analysis.encode_examples(model, encoder, examples)
    return {
        "n": len(examples),
        "pvi": analysis.position_vs_input(model, ids, mask),
        "pca": analysis.offset_pca(model, ids, mask, max_points=1500),
        "stats": analysis.offset_statistics(model, ids, mask, vocabulary=False),
        "examples": [task.source_text(ex) for ex in examples[:5]],
    }


def load_runs(picked: list[str], info: pd.DataFrame, labels: dict[str, str]) -> dict[str, object]:
    """``run_id -> load(run_id)`` of the runs that load (a message for the others), in PT, DePT, ADePT order
    (ADePT's line is drawn last, on top of PT's zeros); the page stops when none loads."""
    loaded: dict[str, object] = {}
    for rid in sorted(picked, key=lambda r: charts.METHOD_ORDER.index(info.loc[r, "method"])):
        ok, res = common.attempt(load, rid, what=f"Loading run {labels[rid]}")
        if ok:
            loaded[rid] = res
    if not loaded:
        st.stop()
    return loaded


def text_section(loaded: dict, info: pd.DataFrame, names: dict[str, str], methods: dict[str, str]) -> None:
    """Offsets of the user's text (or a task example): per-token heatmap and bars, and the shift test.
    ``names``: run_id -> label; ``methods``: label -> method."""
    first_task = loaded[next(iter(loaded))][2]
    val = first_task.splits["validation"]
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    with c2:
        idx = st.number_input(
            "Task example #",
            min_value=0,
            max_value=max(0, len(val) - 1),
            value=0,
            step=1,
            key="offsets.example_index",
        )
        if st.button("Use this task example", key="offsets.use_example", width="stretch") and val:
            st.session_state["offsets.text"] = first_task.source_text(val[int(idx)])
    with c1:
        st.session_state.setdefault("offsets.text", DEFAULT_TEXT)
        text = st.text_area(
            "Text",
            key="offsets.text",
            height=80,
            help="The default repeats 'the' and 'film' on purpose: watch their bars.",
        )
    scale = st.radio(
        "Bar height",
        ["‖Δ‖ (offset norm)", "‖Δ‖ / ‖e‖ (relative to the token's embedding)"],
        key="offsets.scale",
        horizontal=True,
    )
    field = "offset_norm" if scale.startswith("‖Δ‖ (") else "relative"

    per_text = {}
    for rid in loaded:
        ok, res = common.attempt(on_text, rid, text, what=f"Offsets of {names[rid]}")
        if ok:
            per_text[rid] = res
    if per_text:
        rows = {names[r]: (res["tokens"], res[field]) for r, res in per_text.items()}
        st.plotly_chart(
            charts.offset_norm_heatmap(
                rows, title="Per-token offset size", colorbar_title=field.replace("_", " ")
            ),
            key="offsets.heatmap",
        )
        st.caption(
            "Look for: under ADePT a repeated token gets the same colour at every position; under DePT the "
            "colour follows the position, whatever the token. PT adds no offsets (all zero)."
        )
        cols = st.columns(len(per_text))
        for col, (rid, res) in zip(cols, per_text.items()):
            if info.loc[rid, "method"] == "pt":
                col.markdown(f"**{names[rid]}**")
                col.info(
                    "PT adds no offsets to the input tokens (it only prepends its soft prompt): every bar "
                    "would be 0. It is here as the reference."
                )
                continue
            col.plotly_chart(
                charts.offset_norm_bars(
                    res["tokens"],
                    res[field],
                    method=info.loc[rid, "method"],
                    title=names[rid],
                    height=280,
                    yaxis_title="‖Δ‖" if field == "offset_norm" else "‖Δ‖ / ‖e‖",
                ),
                key=f"offsets.bars.{rid}",
            )
        series = {names[r]: (res["shift"]["shifts"], res["shift"]["mean_change"]) for r, res in per_text.items()}
        st.plotly_chart(
            charts.lines_by_label(
                series,
                x_title="tokens inserted before the text",
                y_title="mean ‖Δ(moved) − Δ(original)‖",
                methods=methods,
                title="Same token, different position",
            ),
            key="offsets.shift",
        )
        st.caption(
            "The text is moved right by k neutral tokens and each token's offset is compared with before. "
            "Look for: ADePT stays at 0 (a token's offset ignores where it sits); DePT does not."
        )


def examples_section(loaded: dict, names: dict[str, str], methods: dict[str, str]) -> None:
    """Offsets on the first n validation examples: a summary table, position vs input, DePT's tokens per
    position, and a PCA of the offsets per run."""
    n = st.select_slider("Validation examples", [16, 32, 64, 128, 256], value=64, key="offsets.n")
    per_task = {}
    with st.spinner("Computing offsets on the examples…"):
        for rid in loaded:
            ok, res = common.attempt(on_examples, rid, int(n), what=f"Offsets of {names[rid]} on task examples")
            if ok:
                per_task[rid] = res
    if per_task:
        summary = pd.DataFrame(
            [
                {
                    "run": names[r],
                    "method": charts.method_label(res["pvi"]["method"]),
                    "tokens": res["stats"]["num_tokens"],
                    "distinct tokens": res["stats"]["distinct"]["tokens_seen"],
                    "positions": res["stats"]["distinct"]["positions_seen"],
                    "distinct offsets": res["stats"]["distinct"]["offset_vectors"],
                    "mean ‖Δ‖": res["stats"]["norms"]["offset_mean"],
                    "mean ‖Δ‖/‖e‖": res["stats"]["norms"]["relative_mean"],
                    "same token moved: max ‖ΔΔ‖": res["pvi"]["same_token"]["max_difference"],
                    "same slot, other inputs: var": res["pvi"]["position_variance"]["mean_variance"],
                }
                for r, res in per_task.items()
            ]
        )
        st.dataframe(
            summary,
            hide_index=True,
            key="offsets.summary",
            column_config={c: st.column_config.NumberColumn(format="%.4g") for c in summary.columns[6:]},
        )
        st.caption(
            "Look for: ADePT has one distinct offset per distinct token and 0 in the “same token” column; "
            "DePT has one per position and 0 in the “same slot” column. PT's offsets are all zero."
        )

        c1, c2 = st.columns(2)
        var = {
            names[r]: (res["pvi"]["position_variance"]["slot"], res["pvi"]["position_variance"]["variance"])
            for r, res in per_task.items()
        }
        c1.plotly_chart(
            charts.offset_vs_position(
                var,
                y_title="variance of Δ across inputs",
                methods=methods,
                title="Same position, different inputs",
            ),
            key="offsets.variance",
        )
        c1.caption(
            "At each position, how much the offset varies from input to input. Look for: DePT flat at 0 "
            "(one vector per position); ADePT above 0 (it follows the token)."
        )
        prof = {
            names[r]: (res["stats"]["position_profile"]["row"], res["stats"]["position_profile"]["offset_norm"])
            for r, res in per_task.items()
        }
        c2.plotly_chart(
            charts.offset_vs_position(prof, y_title="mean ‖Δ‖", methods=methods, title="Offset size by position"),
            key="offsets.profile",
        )
        c2.caption(
            "Mean offset norm at each position (DePT: every row of its table, used or not). Look for rows "
            "DePT never trains: inputs rarely reach the last positions."
        )

        dept_runs = [r for r, res in per_task.items() if res["pvi"]["method"] == "dept"]
        for rid in dept_runs:
            tpp = per_task[rid]["pvi"]["tokens_per_position"]
            st.plotly_chart(
                charts.tokens_per_position_bars(
                    tpp["row"],
                    tpp["distinct_tokens"],
                    title=f"{names[rid]}: different tokens per position offset",
                ),
                key=f"offsets.tpp.{rid}",
            )
            st.caption(
                f"One DePT offset is shared by {tpp['mean']:.1f} different tokens on average (at most "
                f"{tpp['max']}) over {per_task[rid]['n']} inputs: one vector has to suit all of them."
            )
        if not dept_runs:
            st.caption("Add a DePT run to see how many different tokens share one position offset.")

        st.markdown("**2-D projection of the offsets** (PCA, one point per token occurrence)")
        with_offsets = {r: res for r, res in per_task.items() if res["pvi"]["method"] != "pt"}
        if not with_offsets:
            st.caption("PT has no offsets to project: add a DePT or ADePT run.")
        cols = st.columns(2)
        for i, (rid, res) in enumerate(with_offsets.items()):
            col = cols[i % 2]
            p = res["pca"]
            col.plotly_chart(
                charts.projection_scatter(
                    p["x"],
                    p["y"],
                    p["token"],
                    top_k=10,
                    title=f"{names[rid]}: offsets, PCA",
                    explained=p["explained_variance_ratio"],
                    height=400,
                ),
                key=f"offsets.pca.{rid}",
            )
        st.caption(
            "Coloured: the 10 most frequent tokens. Look for: under ADePT all occurrences of a token sit on "
            "one point; under DePT a token's points scatter, because its offset depends on where it appears."
        )
