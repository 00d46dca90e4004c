"""Compare page: a sweep's final metric by method, its curves, parameters and time; picked runs; the link."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from .helpers import MAIN, TIMEOUT, app, figure, runs_df, table_with


def test_compare_sweep_groups_final_metric_by_method(store):
    at = app("compare")
    assert at.multiselect(key="compare.sweeps").value == ["seeded-sweep"]
    df = runs_df()
    sweep = df[df["sweep"] == "seeded-sweep"]
    done = sweep[sweep["status"] == "FINISHED"]  # a re-run copies the sweep tag (test_runs.py cancels one)
    final = figure(at, "Final test/accuracy by method")
    bars, points = final["data"]
    assert bars["x"] == ["PT", "DePT", "ADePT"]
    means = done.groupby("method")["metrics.test/accuracy"].mean()
    stds = done.groupby("method")["metrics.test/accuracy"].std(ddof=1)
    assert bars["y"] == pytest.approx([means[m] for m in ("pt", "dept", "adept")])
    assert bars["error_y"]["array"] == pytest.approx([stds[m] for m in ("pt", "dept", "adept")])
    assert sorted(points["y"]) == pytest.approx(sorted(done["metrics.test/accuracy"]))
    stats = table_with(at, "runs")
    assert stats["runs"].tolist() == [2, 2, 2]
    assert stats["mean"].tolist() == pytest.approx([round(means[m], 2) for m in ("pt", "dept", "adept")])

    with_loss = sweep[sweep["metrics.train/loss"].notna()]
    n = len(with_loss)
    loss = figure(at, "Training loss")  # smoothing 0.6 by default: a faint raw line under each smoothed one
    assert len(loss["data"]) == 2 * n and sum(t["name"].endswith("(raw)") for t in loss["data"]) == n
    at.slider(key="compare.smoothing").set_value(0.0).run()
    loss = figure(at, "Training loss")
    assert len(loss["data"]) == n
    from app.common import run_labels

    assert {t["name"] for t in loss["data"]} == {run_labels(df)[r] for r in with_loss["run_id"]}
    params = figure(at, "Trainable parameters")
    assert sorted(v for t in params["data"] for v in t["y"]) == sorted(
        sweep["params.trainable_params"].dropna().astype(int)
    )
    time_fig = figure(at, "Time")
    step_bars = [t for t in time_fig["data"] if t["type"] == "bar"][0]
    step_means = done.groupby("method")["metrics.time/mean_step_s"].mean()
    assert step_bars["y"] == pytest.approx([step_means[m] for m in ("pt", "dept", "adept")])


def test_compare_opens_the_sweep_named_in_the_link(store):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/compare.py")
    at.query_params["sweep"] = "seeded-sweep"
    at.run()
    assert not at.exception
    assert at.radio(key="compare.mode").value == "Sweeps"
    assert at.multiselect(key="compare.sweeps").value == ["seeded-sweep"]


def test_compare_picked_runs_and_eval_curves(store):
    from adept import tracking

    picked = store["finished"][:2]
    at = app("compare")
    at.radio(key="compare.mode").set_value("Pick runs").run()
    at.multiselect(key="compare.runs").set_value(picked).run()
    ev = figure(at, "Validation accuracy")
    hist = tracking.metric_history(picked, ["val/accuracy"])
    assert len(ev["data"]) == 2
    got = sorted(v for t in ev["data"] for v in t["y"])
    assert got == pytest.approx(sorted(hist["value"]))
    at.multiselect(key="compare.runs").set_value([]).run()
    assert any("Pick at least one run" in i.value for i in at.info)


def test_compare_group_by_a_config_field_diff_table_parallel_coordinates_and_exports(store):
    from adept import tracking
    from app.compare import export

    at = app("compare")
    # The seeded sweep varies method and seed (and what the solver picked): those are the diff columns.
    diff = table_with(at, "method")
    assert {"method", "seed"} <= set(diff.columns) and "backbone" not in diff.columns
    at.selectbox(key="compare.group_by").set_value("seed").run()
    assert at.query_params["by"] in ("seed", ["seed"])
    final = figure(at, "Final test/accuracy by seed")
    bars = final["data"][0]
    assert bars["x"] == ["seed=0", "seed=1"]
    done = runs_df()[lambda d: (d["sweep"] == "seeded-sweep") & (d["status"] == "FINISHED")]
    means = done.groupby("seed")["metrics.test/accuracy"].mean()
    assert bars["y"] == pytest.approx([means[0], means[1]])
    loss = figure(at, "Training loss")
    seed_colors = {t["line"]["color"] for t in loss["data"] if not t["name"].endswith("(raw)")}
    assert len(seed_colors) == 2  # one colour per seed, not per method
    pc = figure(at, "Parallel coordinates")
    dims = pc["data"][0]["dimensions"]
    assert [d["label"] for d in dims][-1] == "test/accuracy"
    assert sorted(dims[-1]["values"]) == pytest.approx(sorted(done["metrics.test/accuracy"]))
    assert "method" in [d["label"] for d in dims]
    # Log scale and wall-clock x.
    at.toggle(key="compare.log_loss").set_value(True).run()
    at.radio(key="compare.x").set_value("wall time").run()
    loss = figure(at, "Training loss")
    assert loss["layout"]["yaxis"]["type"] == "log"
    assert "wall time" in loss["layout"]["xaxis"]["title"]["text"]
    first = next(t for t in loss["data"] if not t["name"].endswith("(raw)"))
    assert first["x"][0] == 0 and all(b >= a for a, b in zip(first["x"], first["x"][1:]))
    # Downloads: a CSV and an HTML button under every chart; the CSV holds what the chart draws.
    keys = [b.proto.id for b in at.get("download_button")]
    assert len(keys) >= 2 * 6
    import plotly.graph_objects as go

    fig = go.Figure(final["data"], final["layout"])
    frame = export.figure_frame(fig)
    assert sorted(frame[frame["trace"] == "runs (one per seed)"]["y"]) == pytest.approx(
        sorted(done["metrics.test/accuracy"]))
    page = export.html_bytes(fig)
    assert b"<html>" in page[:100] and b"accuracy by seed" in page
    hist = tracking.metric_history(list(done["run_id"]), ["train/loss"])
    assert len(hist) > 0
