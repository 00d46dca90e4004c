"""Offsets: what the trained offsets do, per token, for a finished PT / DePT / ADePT run.

DePT adds a learned vector per *position*; ADePT computes one from each *token's* embedding. The charts
below make that visible on your own text and on the task's examples. The numbers come from
``adept.analysis`` (the same functions the paper analyses use); this page only loads a run's adapter
(inference, no training) and draws.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app import charts, common

DEFAULT_TEXT = "the film is funny , and the film is moving ."
SHIFTS = (1, 2, 4, 8)
STALE_LOG_S = 600  # a background analysis whose log is this old without a result is gone

st.title("Offsets")
st.caption(
    "DePT adds a learned vector to each **position**; ADePT computes one from each **token**. "
    "Pick trained runs (one per method is best) and look at the same inputs through each."
)

df = common.runs()
# A finished run saved its best adapter; a stopped one did too if it had started (step 0 is evaluated).
started = df["progress"].map(lambda p: (common.parse_progress(p) or (0, 1))[0] > 0)
usable = df[
    ((df["status"] == "FINISHED") | ((df["status"] == "KILLED") & started))
    & df["method"].isin(["pt", "dept", "adept"])
]
if usable.empty:
    st.info(
        "No finished PT / DePT / ADePT run yet: the offsets can be inspected once a run has ended "
        "(its best adapter is saved then)."
    )
    st.page_link("pages/launch.py", label="Launch runs", icon=":material/rocket_launch:")
    st.stop()

analysis = common.module("analysis")
labels = common.run_labels(usable)


def default_runs(frame: pd.DataFrame) -> list[str]:
    """The newest run of each method like the newest trained DePT / ADePT run: same sweep if it has one, else
    same backbone and task. Runs whose best adapter is trained (best step > 0) come before untrained ones."""
    best = (
        pd.to_numeric(frame.get("metrics.best/step"), errors="coerce")
        if "metrics.best/step" in frame
        else None
    )
    trained = frame.assign(_untrained=(best == 0) if best is not None else False)
    trained = trained.sort_values("_untrained", kind="stable")  # newest-first order kept within each group
    lead = trained[trained["method"].isin(["adept", "dept"])]
    lead = lead.iloc[0] if not lead.empty else trained.iloc[0]
    same = trained[(trained["backbone"] == lead["backbone"]) & (trained["task"] == lead["task"])]
    if lead["sweep"]:
        same = pd.concat([same[same["sweep"] == lead["sweep"]], same[same["sweep"] != lead["sweep"]]])
    picks = []
    for method in ("adept", "dept", "pt"):
        rows = same[same["method"] == method]
        if not rows.empty:
            picks.append(rows["run_id"].iloc[0])
    return picks


st.session_state.setdefault("offsets.runs", default_runs(usable))
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
# Loading (cached: one adapter + backbone per run) and computing (cached per run and input)


@st.cache_resource(max_entries=3, show_spinner="Loading the run's adapter and backbone…")
def load(run_id: str):
    """``(model, encoder, task, config)`` of a run's best adapter (``adept.analysis.load_run_model``)."""
    return analysis.load_run_model(run_id)


@st.cache_data(max_entries=64, show_spinner=False)
def on_text(run_id: str, text: str) -> dict:
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


loaded: dict[str, object] = {}
# PT, DePT, ADePT order everywhere on this page (ADePT's line is drawn last, on top of PT's zeros).
for rid in sorted(picked, key=lambda r: charts.METHOD_ORDER.index(info.loc[r, "method"])):
    ok, res = common.attempt(load, rid, what=f"Loading run {labels[rid]}")
    if ok:
        loaded[rid] = res
if not loaded:
    st.stop()
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

# ------------------------------------------------------------------------------------------------------
st.subheader("Your text", divider="gray")
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

# ------------------------------------------------------------------------------------------------------
st.subheader("Across the task's examples", divider="gray")
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

# ------------------------------------------------------------------------------------------------------
st.subheader("Paper analyses", divider="gray")
st.caption(
    "PAPER.md section 5, computed once per run by `python -m adept analyze RUN_ID` and stored with the run "
    "(`analysis/*.json`). This page only reads them; it never computes them."
)
launcher = common.module("launcher")
tracking = common.module("tracking")
uri = common.tracking_uri()
by_method = sorted(picked, key=lambda r: charts.METHOD_ORDER.index(info.loc[r, "method"]))


@st.cache_data(ttl=10, show_spinner=False)
def stored_analysis(run_id: str, store: str) -> dict | None:
    """``adept.analysis.load_analysis`` (``store`` keys the cache: tests and users switch stores)."""
    return analysis.load_analysis(run_id)


@st.cache_data(ttl=30, show_spinner=False)
def stored_pilot(run_id: str, store: str) -> dict | None:
    """Only the pilot experiment of a completely analysed run (meta.json is written last)."""
    if tracking.load_json_artifact(run_id, f"{analysis.ANALYSIS_DIR}/meta.json") is None:
        return None
    return tracking.load_json_artifact(run_id, f"{analysis.ANALYSIS_DIR}/pilot.json")


stored = {}
for rid in by_method:
    ok, res = common.attempt(stored_analysis, rid, uri, what=f"Reading the analyses of {labels[rid]}")
    if ok and res:
        stored[rid] = res

# Runs without a stored analysis: the command, and a button that starts it as its own process.
waiting = []
for rid in (r for r in by_method if r not in stored):
    log = launcher.analysis_log_path(rid)
    with st.container(border=True):
        st.markdown(f"**{labels[rid]}** has not been analysed yet (a few seconds to minutes on CPU).")
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else None
        if tail is not None and "Traceback (most recent call last)" in tail:
            st.error(f"The analysis failed (log: {log}):")
            st.code(tail, language="text")
        elif tail is not None and time.time() - log.stat().st_mtime > STALE_LOG_S:
            st.warning(f"The analysis wrote nothing for {STALE_LOG_S // 60} minutes and stored no result: its "
                       f"process probably died (log: {log}).")
        elif tail is not None:
            st.info(f"analysing… (log: {log})")
            if tail.strip():
                st.code("\n".join(tail.strip().splitlines()[-4:]), language="text")
            waiting.append(rid)
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.code(f"python -m adept analyze {rid}", language="bash")
        if waiting and waiting[-1] == rid:
            c2.button("Refresh", key=f"offsets.analyze_refresh.{rid}", width="stretch")
        elif c2.button(
            "Analyse in the background" if tail is None else "Analyse again",
            key=f"offsets.analyze.{rid}",
            width="stretch",
            help="Starts the command above as its own process; this page shows the charts when it is done.",
        ):
            ok, _ = common.attempt(launcher.start_analysis, rid, uri, what=f"Starting the analysis of {labels[rid]}")
            if ok:
                st.rerun()

if waiting:

    @st.fragment(run_every=3)
    def watch_analyses() -> None:
        """Reload the page once a background analysis has stored its results (meta.json is written last)."""
        for rid in waiting:
            if tracking.load_json_artifact(rid, f"{analysis.ANALYSIS_DIR}/meta.json") is not None:
                stored_analysis.clear()
                st.rerun(scope="app")

    watch_analyses()

# --- 5.1 pilot: pooled over every analysed run of the selected runs' backbone, task and budget (seeds give a
# spread); runs at another budget (an ablation, say) are not the paper's equal-budget comparison.
budget_of = usable.get("params.budget", pd.Series("", index=usable.index)).fillna("").astype(str)
for (backbone, task_name), group in info.groupby(["backbone", "task"], sort=False):
    same = (usable["backbone"] == backbone) & (usable["task"] == task_name)
    budgets = set(budget_of[usable["run_id"].isin(group.index)])
    pool = usable[same & budget_of.isin(budgets)]["run_id"].tolist()
    pilots = {}
    for rid in pool:
        ok, res = common.attempt(stored_pilot, rid, uri, what=f"Reading the pilot experiment of {labels[rid]}")
        if ok and res:
            pilots[rid] = res
    if not pilots:
        continue
    frame = charts.pilot_frame(pilots, labels)
    sides = sorted(set(frame["padding_side"]))
    first = next(iter(pilots.values()))
    side = sides[0]
    if len(sides) > 1:
        trained = first.get("trained_padding_side", sides[0])
        side = st.radio(
            f"Padding side at test time ({backbone})",
            sides,
            index=sides.index(trained) if trained in sides else 0,
            key=f"offsets.pilot_side.{backbone}.{task_name}",
            horizontal=True,
            help="Decoder backbones: with left padding DePT's first rows sit on pads for short inputs.",
        )
    n_ex = sorted({p["num_examples"] for p in pilots.values()})
    st.plotly_chart(
        charts.pilot_by_k(
            frame,
            metric=f"test {first['metric']}",
            padding_side=side,
            title=f"Pilot: tokens prepended at test time ({task_name}, {backbone}, {side} padding)",
        ),
        key=f"offsets.pilot.{backbone}.{task_name}",
    )
    st.caption(
        f"Every analysed run of {backbone} on {task_name} at the same budget ({len(pilots)} runs, "
        f"{'/'.join(map(str, n_ex))} test examples each; line = mean, band = ±std over runs, dots = runs), "
        f"k copies of “{first['neutral_text']}” prepended. Look for: DePT's score may drop as k grows because "
        "its position offsets shift onto other tokens; ADePT's offsets move with their tokens, so it stays flat."
    )

if not stored:
    st.info("None of the selected runs is analysed yet: start an analysis above; its charts appear here.")
    st.stop()
snames = {rid: labels[rid] for rid in stored}
smethods = {snames[rid]: info.loc[rid, "method"] for rid in stored}

# --- 5.2 offset sizes: histogram of ||Δ||/||e|| and the offset norm by position over the input lengths
with_offsets = {rid: res for rid, res in stored.items() if res["meta"]["method"] != "pt" and res.get("offset_stats")}
still_zero = [rid for rid, res in with_offsets.items() if not res["offset_stats"]["norms"]["offset_mean"]]
if still_zero:
    st.caption(
        f"{', '.join(snames[r] for r in still_zero)}: every offset is exactly zero (the best checkpoint is the "
        "untrained one), so there are no offset sizes to show."
    )
    with_offsets = {rid: res for rid, res in with_offsets.items() if rid not in still_zero}
if with_offsets:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        charts.relative_norm_histograms(
            {snames[r]: res["offset_stats"]["relative_histogram"] for r, res in with_offsets.items()},
            methods=smethods,
            title="Offset size relative to the token embedding",
        ),
        key="offsets.paper.relative_hist",
    )
    c1.caption(
        "‖Δ‖/‖e‖ of every token of the analysed examples. Look for: DePT has one offset per position, so its "
        "spread comes only from the embeddings; ADePT gives each token its own offset size."
    )
    lead = next(iter(with_offsets.values()))["offset_stats"]
    c2.plotly_chart(
        charts.offset_profile_with_lengths(
            {
                snames[r]: (res["offset_stats"]["position_profile"]["row"],
                            res["offset_stats"]["position_profile"]["offset_norm"])
                for r, res in with_offsets.items()
            },
            lead.get("input_lengths"),
            methods=smethods,
            title="Offset norm by position, over the input lengths",
        ),
        key="offsets.paper.profile",
    )
    c2.caption(
        "Grey bars: how many inputs have each length. Look for: DePT rows past the usual input lengths sit on "
        "padding and stay near their initial values, since no real token trains them."
    )
elif not still_zero:
    st.caption("PT adds no offsets: add an analysed DePT or ADePT run to see the offset sizes.")

for rid, res in with_offsets.items():
    top = res["offset_stats"].get("top_tokens")
    if not top:
        continue
    scopes = [s for s in ("seen", "vocabulary") if top.get(s)]
    scope = scopes[0]
    if len(scopes) > 1:
        scope = st.radio(
            f"{snames[rid]}: tokens ranked among",
            scopes,
            format_func={"seen": "the analysed examples", "vocabulary": "the whole vocabulary"}.get,
            key=f"offsets.top_scope.{rid}",
            horizontal=True,
        )
    c1, c2 = st.columns(2)
    num = {c: st.column_config.NumberColumn(format="%.4g") for c in ("‖Δ‖", "‖Δ‖/‖e‖")}
    for col, end in ((c1, "largest"), (c2, "smallest")):
        table = charts.top_tokens_frame(top, end, scope)
        col.markdown(f"**{snames[rid]}: {end} offsets**")
        col.dataframe(table, hide_index=True, column_config=num, height=35 * (len(table) + 1) + 3)
    st.caption(
        "ADePT computes each token's offset from its embedding: which tokens does it move most, which least? "
        "(DePT has no per-token offsets to rank.)"
    )

# --- 5.3 layer-1 attention: frozen backbone next to each run, grouped by the input they were measured on
groups: dict[tuple, list[str]] = {}
for rid, res in stored.items():
    if res.get("attention"):
        groups.setdefault(tuple(res["attention"]["tokens"]), []).append(rid)
for i, (tokens, rids) in enumerate(groups.items()):
    att0 = stored[rids[0]]["attention"]
    panels = {"frozen backbone": att0["frozen"]}
    panels.update({snames[r]: stored[r]["attention"]["attention"] for r in rids})
    changes = {snames[r]: stored[r]["attention"]["relative_change"] for r in rids}
    shares = {
        snames[r]: sum(stored[r]["attention"]["to_prompt"]) / max(1, len(stored[r]["attention"]["to_prompt"]))
        for r in rids
    }
    st.plotly_chart(
        charts.attention_heatmaps(list(tokens), panels, changes=changes, prompt_share=shares),
        key=f"offsets.paper.attention.{i}",
    )
    st.caption(
        "Layer 1, averaged over heads, on the task's first validation example (queries down, keys across). "
        "Each row is renormalised over the input tokens, leaving out what goes to the soft prompt. Look for: PT "
        "can only rescale rows, so its map matches the frozen one (relative change ≈ 0, with relative positions); "
        "DePT's and ADePT's offsets change which tokens attend to which."
    )

# --- latency per example: PT, DePT, ADePT and ADePT folded into the embedding table, at the run's budget
lat_runs = {rid: res["latency"] for rid, res in stored.items() if res.get("latency")}
if lat_runs:
    st.markdown("**Latency per example** (batch 1, at each run's parameter budget)")
    cols = st.columns(2)
    for i, (rid, lat) in enumerate(lat_runs.items()):
        cols[i % 2].plotly_chart(
            charts.latency_bars(lat, title=f"measured with {snames[rid]}", height=320),
            key=f"offsets.paper.latency.{rid}",
        )
    st.caption(
        "Median over rounds (bars) and each round (circles) on this machine's CPU. Look for: ADePT folded into "
        "the embedding table costs what PT costs at the same prompt length, and PT's longer prompt makes it the "
        "slowest. Small differences are noise on a busy machine."
    )

with st.expander("Key numbers of the stored analyses"):
    for rid, res in stored.items():
        st.markdown(f"**{snames[rid]}** (analysed in {res['meta'].get('total_seconds', 0):.0f} s)")
        st.text("\n".join(analysis.summary_lines(res)))
