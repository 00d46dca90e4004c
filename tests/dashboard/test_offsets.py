"""Offsets page: position-based (DePT) versus input-adaptive (ADePT) offsets, live and from stored analyses."""

from __future__ import annotations

import pytest

from .helpers import app, errors, figure, figures, runs_df, table_with


def _best_run(method: str) -> str:
    df = runs_df()
    rows = df[(df["method"] == method) & (df["status"] == "FINISHED") & (df["metrics.best/step"] > 0)]
    assert not rows.empty, f"no {method} run whose best adapter is trained"
    return rows["run_id"].iloc[0]


def test_offsets_position_based_versus_input_adaptive(store):
    adept_id, dept_id = _best_run("adept"), _best_run("dept")
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([adept_id, dept_id]).run()
    assert not at.exception and not errors(at)

    # Per-token norms of the default text: 'the' and 'film' occur twice.
    heat = figure(at, "Per-token offset size")["data"][0]
    tokens = heat["text"][0]
    rows = dict(zip(heat["y"], heat["z"]))
    assert list(heat["y"])[0].startswith("dept")  # PT, DePT, ADePT order on the page
    z_adept = next(z for name, z in rows.items() if name.startswith("adept"))
    z_dept = next(z for name, z in rows.items() if name.startswith("dept"))
    first, second = [i for i, t in enumerate(tokens) if t == "film"]
    assert z_adept[first] == pytest.approx(z_adept[second], rel=1e-6)  # ADePT: the token decides
    assert abs(z_dept[first] - z_dept[second]) > 1e-6  # DePT: the position decides

    shift = figure(at, "Same token, different position")["data"]
    by_name = {t["name"]: t["y"] for t in shift}
    labels = {t["name"] for t in shift}
    adept_line = next(by_name[n] for n in labels if n.startswith("adept"))
    dept_line = next(by_name[n] for n in labels if n.startswith("dept"))
    assert max(adept_line) < 1e-6 and min(dept_line) > 1e-4

    summary = table_with(at, "distinct offsets").set_index("method")
    assert summary.loc["ADePT", "same token moved: max ‖ΔΔ‖"] < 1e-6
    assert summary.loc["DePT", "same token moved: max ‖ΔΔ‖"] > 1e-4
    assert summary.loc["DePT", "same slot, other inputs: var"] == pytest.approx(0.0, abs=1e-12)
    assert summary.loc["ADePT", "same slot, other inputs: var"] > 0
    assert summary.loc["DePT", "distinct offsets"] == summary.loc["DePT", "positions"]
    assert summary.loc["ADePT", "distinct offsets"] > summary.loc["ADePT", "positions"]

    # The numbers are adept.analysis's, on the first 64 validation examples.
    from adept import analysis

    model, encoder, task, _ = analysis.load_run_model(dept_id)
    ids, mask = analysis.encode_examples(model, encoder, task.splits["validation"][:64])
    tpp = analysis.tokens_per_position(ids, mask, model.dept_positions(mask))
    bars = figure(at, f"{summary.loc['DePT', 'run']}: different tokens per position offset")["data"][0]
    assert bars["x"] == tpp["row"] and bars["y"] == tpp["distinct_tokens"]
    pca = analysis.offset_pca(model, ids, mask)
    scatter = figure(at, f"{summary.loc['DePT', 'run']}: offsets, PCA")
    assert sum(len(t["x"]) for t in scatter["data"]) == pca["num_points"]


def test_offsets_bad_text_is_a_message_not_a_traceback(store):
    at = app("offsets")
    at.text_area(key="offsets.text").set_value("   ").run()
    assert not at.exception
    assert any("The text is empty" in e for e in errors(at))


def test_offsets_task_example_button_fills_the_text(store):
    from adept.tasks import load_task

    at = app("offsets")
    at.number_input(key="offsets.example_index").set_value(3).run()
    at.button(key="offsets.use_example").click().run()
    task = load_task("rotten-tomatoes")
    assert at.text_area(key="offsets.text").value == task.source_text(task.splits["validation"][3])
    assert not errors(at)


SMALL_ANALYSIS = {"stats_examples": 16, "pilot_examples": 8, "attention_tokens": 12, "latency_examples": 2,
                  "latency_repeats": 1}


@pytest.fixture(scope="module")
def analysed(store):
    """A DePT and an ADePT run analysed in-process with small sizes (what `python -m adept analyze` stores)."""
    from adept import analysis

    return {m: analysis.analyze_run(_best_run(m), sizes=SMALL_ANALYSIS) for m in ("dept", "adept")}


def test_offsets_paper_analyses_are_charts(store, analysed):
    dept, adept = analysed["dept"], analysed["adept"]
    dept_id, adept_id = dept["meta"]["run_id"], adept["meta"]["run_id"]
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([adept_id, dept_id]).run()
    assert not at.exception and not errors(at)
    assert not [b for b in at.button if b.label == "Analyse in the background"]  # both are analysed
    assert any(h.value == "Paper analyses" for h in at.subheader)

    titles = [(f["layout"].get("title") or {}).get("text") or "" for f in figures(at)]
    pilot = figure(at, next(t for t in titles if t.startswith("Pilot: tokens prepended")))
    means = {t["legendgroup"]: t["y"] for t in pilot["data"] if t["mode"] == "lines"}
    metric = adept["pilot"]["metric"]
    assert means["adept"] == pytest.approx(adept["pilot"]["results"]["right"][metric])  # one analysed run each
    assert means["dept"] == pytest.approx(dept["pilot"]["results"]["right"][metric])
    assert sorted({x for t in pilot["data"] for x in t["x"]}) == list(adept["pilot"]["ks"])

    hist = figure(at, "Offset size relative to the token embedding")["data"]
    assert [t["type"] for t in hist] == ["bar", "bar"]
    assert sum(hist[0]["customdata"]) == dept["offset_stats"]["num_tokens"]
    prof = figure(at, "Offset norm by position, over the input lengths")["data"]
    assert prof[0]["type"] == "bar" and prof[0]["yaxis"] == "y2"
    assert prof[0]["y"] == dept["offset_stats"]["input_lengths"]["counts"]
    assert prof[1]["y"] == pytest.approx(dept["offset_stats"]["position_profile"]["offset_norm"])

    att = figure(at, next(t for t in titles if t.startswith("Layer-1 attention")))
    n = len(adept["attention"]["tokens"])
    assert 0 < n <= SMALL_ANALYSIS["attention_tokens"]
    assert len(att["data"]) == 3 and all(len(h["z"]) == n and len(h["z"][0]) == n for h in att["data"])
    assert f"{adept['attention']['relative_change']:.3g}" in att["layout"]["title"]["text"]

    lat = [f for t, f in zip(titles, figures(at)) if t.startswith("measured with")]
    assert len(lat) == 2 and list(lat[0]["data"][0]["x"])[:3] == ["PT", "DePT<br>(this run)", "ADePT"]
    assert lat[0]["data"][0]["y"][1] == pytest.approx(dept["latency"]["models"]["dept"]["median_ms"])
    top = table_with(at, "‖Δ‖/‖e‖")
    assert top["‖Δ‖"].tolist() == [r["offset_norm"] for r in adept["offset_stats"]["top_tokens"]["seen"]["largest"]]
    captions = " ".join(c.value for c in at.caption)
    assert "The paper expects DePT's metric to fall faster than ADePT's as k grows. These runs show" in captions
    assert any(w in captions for w in ("consistent with it", "against it", "not enough to tell"))
    assert "one seed" in captions and "Grey bars" in captions  # one analysed run per method
    bands = [t for t in pilot["data"] if t.get("fill") == "toself"]
    assert {t["legendgroup"] for t in bands} == {"dept", "adept"}  # bootstrap bands from the per-example results
    assert "adept_folded / pt_short" in captions


def test_offsets_unanalysed_run_offers_the_command_and_a_background_analysis(store, analysed, monkeypatch):
    from adept import analysis, launcher

    df = runs_df()
    pt_id = df[(df["method"] == "pt") & (df["status"] == "FINISHED")]["run_id"].iloc[0]
    assert analysis.load_analysis(pt_id) is None
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([pt_id]).run()
    assert not at.exception and not errors(at)
    assert f"python -m adept analyze {pt_id}" in [c.value for c in at.code]
    started = []

    def fake_start(run_id, tracking_uri=None):  # the real one is tested in test_launcher.py
        started.append(run_id)
        log = launcher.analysis_log_path(run_id, tracking_uri)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("[analyze] offset_stats: 0.1 s\n")
        return log

    monkeypatch.setattr(launcher, "start_analysis", fake_start)
    log = launcher.analysis_log_path(pt_id)
    try:
        at.button(key=f"offsets.analyze.{pt_id}").click().run()
        assert started == [pt_id] and not at.exception
        assert any(i.value == f"analysing… (log: {log})" for i in at.info)
        assert not [b for b in at.button if b.label == "Analyse in the background"]
        # The analysed runs of the same backbone and task still give the pooled pilot chart.
        assert any((f["layout"].get("title") or {}).get("text", "").startswith("Pilot") for f in figures(at))
    finally:
        log.unlink(missing_ok=True)
