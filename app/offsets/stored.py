"""A run's stored analyses (see docs/analyses.md), computed once per run by ``python -m adept analyze RUN_ID``
(or the page's button, as a background process) and stored with the run as ``analysis/*.json``: this module
only reads and draws them. The pilot experiment is pooled over every analysed run like the selected ones."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app import charts, common

STALE_LOG_S = 600  # a background analysis whose log is this old without a result is gone


@st.cache_data(ttl=10, show_spinner=False)
def stored_analysis(run_id: str, store: str) -> dict | None:
    """``adept.analysis.load_analysis`` (``store`` keys the cache: tests and users switch stores)."""
    return common.module("analysis").load_analysis(run_id)


@st.cache_data(ttl=30, show_spinner=False)
def stored_pilot(run_id: str, store: str) -> dict | None:
    """Only the pilot experiment of a completely analysed run (meta.json is written last)."""
    analysis, tracking = common.module("analysis"), common.module("tracking")
    if tracking.load_json_artifact(run_id, f"{analysis.ANALYSIS_DIR}/meta.json") is None:
        return None
    return tracking.load_json_artifact(run_id, f"{analysis.ANALYSIS_DIR}/pilot.json")


@st.cache_data(ttl=30, show_spinner=False)
def stored_pilot_examples(run_id: str, store: str) -> dict | None:
    """The per-example pilot results of an analysed run (``analysis/pilot_examples.json``), or None."""
    analysis, tracking = common.module("analysis"), common.module("tracking")
    return tracking.load_json_artifact(run_id, f"{analysis.ANALYSIS_DIR}/pilot_examples.json")


@st.cache_data(ttl=30, show_spinner=False)
def pilot_evidence(runs: tuple[tuple[str, str, int], ...], store: str) -> dict | None:
    """``adept.analysis.pilot_evidence`` over ``(run_id, method, seed)`` runs with per-example pilots; None when
    none has them or their pilots cannot be pooled (different ks or examples: the message is shown instead)."""
    analysis = common.module("analysis")
    items = []
    for rid, method, seed in runs:
        pilot, examples = stored_pilot(rid, store), stored_pilot_examples(rid, store)
        if pilot and examples:
            items.append({"run_id": rid, "method": method, "seed": seed, "pilot": {**pilot, "per_example": examples}})
    if not items:
        return None
    try:
        return analysis.pilot_evidence(items)
    except ValueError as exc:
        return {"error": str(exc)}


def _seed(usable: pd.DataFrame, rid: str) -> int:
    row = usable[usable["run_id"] == rid]
    col = "params.seed" if "params.seed" in usable else "seed"
    try:
        return int(row[col].iloc[0]) if col in row and len(row) else 0
    except (TypeError, ValueError):
        return 0


def read_stored(by_method: list[str], labels: dict[str, str], uri: str) -> dict[str, dict]:
    """``run_id -> stored analysis`` of the runs that have one."""
    stored = {}
    for rid in by_method:
        ok, res = common.attempt(stored_analysis, rid, uri, what=f"Reading the analyses of {labels[rid]}")
        if ok and res:
            stored[rid] = res
    return stored


def analyse_buttons(pending: list[str], labels: dict[str, str], uri: str) -> None:
    """Per run without a stored analysis: the command, and a button that starts it as its own process (or
    its progress, or why it failed); the page reloads itself when a running analysis has stored its result."""
    analysis, launcher, tracking = (common.module(m) for m in ("analysis", "launcher", "tracking"))
    waiting = []
    for rid in pending:
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
                ok, _ = common.attempt(
                    launcher.start_analysis, rid, uri, what=f"Starting the analysis of {labels[rid]}"
                )
                if ok:
                    st.rerun()

    if waiting:

        @st.fragment(run_every=3)
        def watch_analyses() -> None:
            """Reload the page once a background analysis has stored its results (meta.json is written last)."""
            for rid in waiting:
                if tracking.load_json_artifact(rid, f"{analysis.ANALYSIS_DIR}/meta.json") is not None:
                    stored_analysis.clear()
                    stored_pilot.clear()  # the pilot chart over seeds shows the new run at once, too
                    st.rerun(scope="app")

        watch_analyses()


def pilot_charts(usable: pd.DataFrame, info: pd.DataFrame, labels: dict[str, str], uri: str) -> None:
    """The pilot experiment (docs/analyses.md 4: tokens prepended at test time), one chart per backbone and
    task of the selected runs, pooled over every analysed run of that backbone, task and budget (seeds give a
    spread); runs at another budget (an ablation, say) are not the paper's equal-budget comparison."""
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
        ev = pilot_evidence(tuple((rid, p["method"], _seed(usable, rid)) for rid, p in pilots.items()), uri)
        ev_side = (ev or {}).get("sides", {}).get(side) if ev and "error" not in ev else None
        metric = ev["metric"] if ev_side else first["metric"]
        bands = {m: v["bands"] for m, v in ev_side["methods"].items()} if ev_side else None
        st.plotly_chart(
            charts.pilot_by_k(
                charts.pilot_frame(pilots, labels, metric=metric) if ev_side else frame,
                metric=f"test {metric}",
                padding_side=side,
                bands=bands,
                title=f"Pilot: tokens prepended at test time ({task_name}, {backbone}, {side} padding)",
            ),
            key=f"offsets.pilot.{backbone}.{task_name}",
        )
        band_text = ("band = 95% two-way bootstrap interval over seeds x examples" if ev_side
                     else "band = ±std over runs (no per-example results stored: re-analyse with --force for "
                          "intervals)")
        st.caption(
            f"Every analysed run of {backbone} on {task_name} at the same budget ({len(pilots)} runs, "
            f"{'/'.join(map(str, n_ex))} test examples each; line = mean, {band_text}, dots = runs), "
            f"k copies of “{first['neutral_text']}” prepended."
        )
        if ev and "error" in ev:
            st.info(f"No intervals: {ev['error']}")
        if ev_side:
            rows = [{"method": m.upper() if m != "adept" else "ADePT",
                     "runs": len(v["runs"]),
                     "slope (points per token)": f"{v['slope']['slope']:+.3f}",
                     "95% interval": f"[{v['slope']['low']:+.3f}, {v['slope']['high']:+.3f}]"}
                    for m, v in ev_side["methods"].items() if v.get("slope")]
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True)
            st.caption(ev_side["caption"])


def analyses_charts(stored: dict[str, dict], info: pd.DataFrame, labels: dict[str, str]) -> None:
    """Offset sizes (histogram, profile over the input lengths), top tokens, layer-1 attention, latency and
    the key numbers of the runs with a stored analysis."""
    analysis = common.module("analysis")
    snames = {rid: labels[rid] for rid in stored}
    smethods = {snames[rid]: info.loc[rid, "method"] for rid in stored}

    # --- Offset sizes (docs/analyses.md 1.2, 1.3, 1.5): histogram of ||Δ||/||e||, the offset norm by position
    # over the input lengths, and ADePT's tokens with the largest / smallest offsets
    with_offsets = {
        rid: res for rid, res in stored.items() if res["meta"]["method"] != "pt" and res.get("offset_stats")
    }
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

    # --- Layer-1 attention (docs/analyses.md 5): the frozen backbone next to each run, grouped by the input
    # they were measured on
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

    # --- Latency per example (docs/analyses.md 6): PT, DePT, ADePT and ADePT folded into the embedding table
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
            "Median over rounds (bars) and each round (circles) on this machine's CPU; \"PT, ADePT's l\" is the bare "
            "backbone reading a prompt as long as ADePT's. The paper expects folded ADePT to cost what PT with the "
            "same prompt length costs, and less than PT at the equal budget. These measurements show:"
        )
        for rid, lat in lat_runs.items():
            verdicts = [v for v in (lat.get("verdicts") or {}).values() if v]
            st.caption(f"{snames[rid]}: " + (" ".join(verdicts) if verdicts else
                                              "no intervals stored (analysed before repeated rounds were kept: "
                                              "re-analyse with --force)."))

    with st.expander("Key numbers of the stored analyses"):
        for rid, res in stored.items():
            st.markdown(f"**{snames[rid]}** (analysed in {res['meta'].get('total_seconds', 0):.0f} s)")
            st.text("\n".join(analysis.summary_lines(res)))
