"""app/charts/: every figure checked on its numbers (no Streamlit, no MLflow)."""

import ast
import math
from pathlib import Path

import pandas as pd
import pytest

from app import charts


def _history() -> pd.DataFrame:
    rows = []
    for rid, vals in (("run-a", [1.0, 2.0, 3.0]), ("run-b", [4.0, 4.0, 4.0])):
        rows += [(rid, "train/loss", s, v) for s, v in enumerate(vals, start=1)]
    rows += [("run-a", "val/accuracy", 2, 60.0), ("run-a", "val/accuracy", 3, 70.0)]
    return pd.DataFrame(rows, columns=["run_id", "key", "step", "value"])


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": list("abcdefg"),
            "run_name": ["pt-s0", "pt-s1", "dept-s0", "dept-s1", "adept-s0", "adept-s1", "adept-s2"],
            "method": ["pt", "pt", "dept", "dept", "adept", "adept", "adept"],
            "metrics.test/accuracy": [80.0, 82.0, 84.0, 86.0, 85.0, 87.0, 89.0],
            "metrics.time/mean_step_s": [0.5, 0.7, 0.4, 0.4, 0.45, 0.45, 0.45],
            "metrics.time/total_s": [60.0, 62.0, 50.0, 52.0, 55.0, 57.0, 59.0],
            "params.trainable_params": ["76800", "76800", "76800", "76800", "76051", "76051", "76051"],
        }
    )


def test_chart_modules_never_import_streamlit():
    """Figures stay pure functions: no chart module imports Streamlit (pages draw, charts compute)."""
    for path in sorted(Path(charts.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "streamlit" for m in imported), path.name


def test_ema_matches_hand_computed_debiased_average():
    # m1 = .5, s1 = .5/.5 = 1; m2 = .25 + 1 = 1.25, s2 = 1.25/.75; m3 = .625 + 1.5 = 2.125, s3 = 2.125/.875
    assert charts.ema([1, 2, 3], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert charts.ema([5, 5, 5, 5], 0.9) == pytest.approx([5, 5, 5, 5])  # constant stays constant
    assert charts.ema([1, 2, 3], 0.0) == [1.0, 2.0, 3.0]
    out = charts.ema([1.0, float("nan"), 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx((0.25 + 1.5) / 0.75)
    with pytest.raises(ValueError, match="smoothing"):
        charts.ema([1.0], 1.0)


def test_loss_curves_one_trace_per_run_named_and_coloured_by_method():
    fig = charts.loss_curves(
        _history(),
        labels={"run-b": "dept-s0", "run-a": "adept-s0"},
        methods={"run-a": "adept", "run-b": "dept"},
    )
    assert [t.name for t in fig.data] == ["dept-s0", "adept-s0"]  # labels order
    assert list(fig.data[1].y) == [1.0, 2.0, 3.0] and list(fig.data[1].x) == [1, 2, 3]
    assert fig.data[0].line.color == charts.METHOD_COLORS["dept"]
    assert fig.data[1].line.color == charts.METHOD_COLORS["adept"]


def test_loss_curves_smoothing_adds_faint_raw_line_under_the_smoothed_one():
    fig = charts.loss_curves(_history(), labels={"run-a": "a", "run-b": "b"}, smoothing=0.5)
    assert [t.name for t in fig.data] == ["a (raw)", "a", "b (raw)", "b"]
    assert list(fig.data[0].y) == [1.0, 2.0, 3.0] and fig.data[0].showlegend is False
    assert list(fig.data[1].y) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert list(fig.data[3].y) == pytest.approx([4.0, 4.0, 4.0])


def test_eval_curves_and_missing_key_gives_explaining_empty_figure():
    fig = charts.eval_curves(_history(), "val/accuracy", labels={"run-a": "a"})
    assert len(fig.data) == 1 and list(fig.data[0].y) == [60.0, 70.0] and "markers" in fig.data[0].mode
    empty = charts.eval_curves(_history(), "val/f1")
    assert len(empty.data) == 0 and "No val/f1" in empty.layout.annotations[0].text


def test_group_stats_mean_and_sample_std_in_method_order():
    stats = charts.group_stats(_runs().iloc[::-1], "metrics.test/accuracy")
    assert stats["method"].tolist() == ["pt", "dept", "adept"]
    assert stats["n"].tolist() == [2, 2, 3]
    assert stats["mean"].tolist() == pytest.approx([81.0, 85.0, 87.0])
    assert stats["std"].tolist() == pytest.approx([math.sqrt(2), math.sqrt(2), 2.0])
    one = charts.group_stats(_runs().iloc[:1], "metrics.test/accuracy")
    assert one["n"].tolist() == [1] and math.isnan(one["std"].iloc[0])


def test_final_metric_by_method_bar_means_error_bars_and_every_seed_as_a_point():
    fig = charts.final_metric_by_method(_runs(), "metrics.test/accuracy")
    bars, points = fig.data
    assert bars.type == "bar" and points.type == "scatter"
    assert list(bars.x) == ["PT", "DePT", "ADePT"]
    assert list(bars.y) == pytest.approx([81.0, 85.0, 87.0])
    assert list(bars.error_y.array) == pytest.approx([math.sqrt(2), math.sqrt(2), 2.0])
    assert "87 ± 2 (n=3)" in bars.text[2]
    assert len(points.y) == 7 and sorted(points.y) == sorted(_runs()["metrics.test/accuracy"])
    assert list(points.x).count("ADePT") == 3


def test_final_metric_single_seed_has_zero_error_bar_and_no_plus_minus():
    fig = charts.final_metric_by_method(_runs().iloc[[0, 2]], "metrics.test/accuracy")
    assert list(fig.data[0].error_y.array) == [0.0, 0.0]
    assert "±" not in fig.data[0].text[0]
    assert len(charts.final_metric_by_method(_runs(), "metrics.test/f1").data) == 0


def test_trainable_params_bars_one_trace_per_method_with_counts():
    fig = charts.trainable_params_bars(_runs())
    assert [t.name for t in fig.data] == ["PT", "DePT", "ADePT"]
    assert list(fig.data[2].y) == [76051, 76051, 76051]
    assert list(fig.data[2].text) == ["76,051"] * 3


def test_time_bars_two_panels_with_group_means():
    fig = charts.time_bars(_runs())
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 2 and len(fig.data) == 4
    assert list(bars[0].y) == pytest.approx([0.6, 0.4, 0.45])
    assert list(bars[1].y) == pytest.approx([61.0, 51.0, 57.0])
    assert bars[1].xaxis == "x2"


def test_budget_table_figure_cells():
    rows = [
        {"method": "pt", "l": 100, "r": 0, "params": 76800, "unused": 0},
        {"method": "dept", "l": 60, "r": 30, "params": 76800, "unused": 0},
        {"method": "adept", "l": 60, "r": 19, "params": 76051, "unused": 749},
    ]
    fig = charts.budget_table(rows, budget=76800)
    cells = fig.data[0].cells.values
    assert list(cells[0]) == ["PT", "DePT", "ADePT"]
    assert list(cells[1]) == [100, 60, 60] and list(cells[2]) == ["—", 30, 19]
    assert list(cells[3]) == ["76,800", "76,800", "76,051"]
    assert list(cells[4]) == ["100.0 %", "100.0 %", "99.0 %"]


def test_offset_norm_bars_keep_repeated_tokens_apart():
    fig = charts.offset_norm_bars(["the", "cat", "the"], [0.5, 1.0, 0.5], method="adept")
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.data[0].y) == [0.5, 1.0, 0.5]
    assert list(fig.layout.xaxis.ticktext) == ["the", "cat", "the"]
    with pytest.raises(ValueError, match="align"):
        charts.offset_norm_bars(["a"], [1.0, 2.0])


def test_offset_norm_heatmap_rows_per_run_padded():
    fig = charts.offset_norm_heatmap({"DePT": (["a", "b", "c"], [1, 2, 3]), "ADePT": (["a", "b"], [4, 5])})
    z = fig.data[0].z
    assert list(fig.data[0].y) == ["DePT", "ADePT"]
    assert list(z[0]) == [1.0, 2.0, 3.0] and list(z[1]) == [4.0, 5.0, None]
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c"]


def test_offset_vs_position_and_lines_keep_gaps():
    fig = charts.offset_vs_position(
        {"DePT": ([0, 1, 2], [0.0, 0.0, None]), "ADePT": ([0, 1, 2], [0.1, 0.2, 0.3])},
        methods={"DePT": "dept", "ADePT": "adept"},
    )
    assert [t.name for t in fig.data] == ["DePT", "ADePT"]
    assert list(fig.data[0].y) == [0.0, 0.0, None]
    assert fig.data[1].line.color == charts.METHOD_COLORS["adept"]


def test_tokens_per_position_bars():
    fig = charts.tokens_per_position_bars([0, 1, 5], [3, 7, 1])
    assert list(fig.data[0].x) == [0, 1, 5] and list(fig.data[0].y) == [3, 7, 1]


def test_projection_scatter_colours_top_tokens_and_greys_the_rest():
    tokens = ["the", "the", "the", "a", "a", "cat", "dog"]
    xs = list(range(7))
    fig = charts.projection_scatter(xs, [0] * 7, tokens, top_k=2, explained=[0.6, 0.25])
    assert [t.name for t in fig.data] == ["other tokens", "'the' ×3", "'a' ×2"]
    assert list(fig.data[0].x) == [5, 6] and list(fig.data[1].x) == [0, 1, 2]
    assert fig.layout.xaxis.title.text == "PC 1 (60 % of variance)"
    with pytest.raises(ValueError, match="one entry per point"):
        charts.projection_scatter([0], [0, 1], ["a"])


# ---------------------------------------------------------------------------------------- stored analyses


def _pilot(method: str, values: list[float], left: list[float] | None = None) -> dict:
    results = {"right": {"accuracy": values, "f1": [0.0] * len(values)}}
    if left is not None:
        results["left"] = {"accuracy": left, "f1": [0.0] * len(left)}
    return {"method": method, "metric": "accuracy", "ks": [0, 1, 2], "results": results, "num_examples": 8}


def test_pilot_frame_long_format_per_run_side_and_k():
    df = charts.pilot_frame(
        {"r1": _pilot("dept", [80.0, 70.0, 60.0], left=[1.0, 2.0, 3.0]), "r2": _pilot("adept", [80.0, 80.0, 81.0])},
        labels={"r1": "dept-s0"},
    )
    assert list(df.columns) == charts.PILOT_COLUMNS and len(df) == 9
    left = df[(df["run_id"] == "r1") & (df["padding_side"] == "left")]
    assert left["k"].tolist() == [0, 1, 2] and left["value"].tolist() == [1.0, 2.0, 3.0]
    assert set(df[df["run_id"] == "r1"]["label"]) == {"dept-s0"} and set(df[df["run_id"] == "r2"]["label"]) == {"r2"}


def test_pilot_by_k_mean_line_std_band_and_runs_as_markers():
    df = charts.pilot_frame(
        {
            "d0": _pilot("dept", [80.0, 70.0, 60.0], left=[0.0, 0.0, 0.0]),
            "d1": _pilot("dept", [82.0, 74.0, 66.0], left=[0.0, 0.0, 0.0]),
            "a0": _pilot("adept", [81.0, 81.0, 81.0]),
        }
    )
    fig = charts.pilot_by_k(df, metric="test accuracy", padding_side="right")
    band, dept_mean, dept_runs, adept_mean, adept_runs = fig.data  # ADePT (1 run) has no band
    assert band.fill == "toself" and band.showlegend is False
    assert list(band.x) == [0, 1, 2, 2, 1, 0]
    s = [math.sqrt(2), math.sqrt(8), math.sqrt(18)]  # sample std of (80, 82), (70, 74), (60, 66)
    assert list(band.y) == pytest.approx([81 + s[0], 72 + s[1], 63 + s[2], 63 - s[2], 72 - s[1], 81 - s[0]])
    assert list(dept_mean.y) == pytest.approx([81.0, 72.0, 63.0]) and dept_mean.mode == "lines"
    assert dept_mean.line.color == charts.METHOD_COLORS["dept"] and "2 runs" in dept_mean.name
    assert dept_runs.mode == "markers" and sorted(dept_runs.y) == [60.0, 66.0, 70.0, 74.0, 80.0, 82.0]
    assert list(adept_mean.y) == [81.0, 81.0, 81.0] and len(adept_runs.y) == 3
    assert fig.layout.yaxis.title.text == "test accuracy"
    # The other padding side: only DePT stored it.
    left = charts.pilot_by_k(df, padding_side="left")
    assert {t.legendgroup for t in left.data} == {"dept"}
    assert len(charts.pilot_by_k(df, padding_side="nowhere").data) == 0  # explained empty figure


def test_pilot_by_k_draws_bootstrap_bands_when_given():
    df = charts.pilot_frame({"d0": _pilot("dept", [80.0, 70.0, 60.0]), "a0": _pilot("adept", [81.0, 81.0, 81.0])})
    bands = {"dept": [{"k": 0, "low": 76.0, "high": 84.0}, {"k": 1, "low": 66.0, "high": 74.0},
                      {"k": 2, "low": 55.0, "high": 65.0}],
             "adept": [{"k": k, "low": 78.0, "high": 84.0} for k in (0, 1, 2)]}
    fig = charts.pilot_by_k(df, padding_side="right", bands=bands)
    fills = [t for t in fig.data if t.fill == "toself"]
    assert {t.legendgroup for t in fills} == {"dept", "adept"}  # one run each, yet a band: the bootstrap's
    dept = next(t for t in fills if t.legendgroup == "dept")
    assert list(dept.x) == [0, 1, 2, 2, 1, 0] and list(dept.y) == [84.0, 74.0, 65.0, 55.0, 66.0, 76.0]
    assert "95% interval" in dept.name


def test_relative_norm_histograms_overlay_one_bar_trace_per_run_as_shares():
    fig = charts.relative_norm_histograms(
        {
            "dept-s0": {"edges": [0.0, 0.5, 1.0], "counts": [3, 1]},
            "adept-s0": {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [1, 1, 2]},
        },
        methods={"dept-s0": "dept", "adept-s0": "adept"},
    )
    assert [t.type for t in fig.data] == ["bar", "bar"] and fig.layout.barmode == "overlay"
    assert list(fig.data[0].x) == [0.25, 0.75] and list(fig.data[0].width) == [0.5, 0.5]
    assert list(fig.data[0].y) == [75.0, 25.0] and list(fig.data[1].y) == [25.0, 25.0, 50.0]
    assert fig.data[1].marker.color == charts.METHOD_COLORS["adept"]
    assert len(charts.relative_norm_histograms({}).data) == 0


def test_offset_profile_lines_over_input_lengths_on_secondary_axis():
    fig = charts.offset_profile_with_lengths(
        {"dept-s0": ([0, 1, 2, 3], [0.5, 0.4, 0.0, 0.0]), "adept-s0": ([0, 1, 2, 3], [0.2, 0.3, None, None])},
        {"lengths": [1, 2], "counts": [5, 7]},
        methods={"dept-s0": "dept", "adept-s0": "adept"},
    )
    bars, dept, adept = fig.data
    assert bars.type == "bar" and list(bars.x) == [1, 2] and list(bars.y) == [5, 7]
    assert bars.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"  # the lengths use the secondary axis
    assert dept.yaxis == "y" and list(dept.y) == [0.5, 0.4, 0.0, 0.0]
    assert list(adept.y) == [0.2, 0.3, None, None] and adept.line.color == charts.METHOD_COLORS["adept"]
    no_lengths = charts.offset_profile_with_lengths({"x": ([0], [1.0])}, None)
    assert [t.type for t in no_lengths.data] == ["scatter"]


def test_attention_heatmaps_side_by_side_with_token_labels_and_change_in_title():
    tokens = ["a", "b", "a"]
    frozen = [[1 / 3] * 3 for _ in range(3)]
    run = [[0.25, 0.125, 0.125], [0.05, 0.4, 0.05], [0.0, 0.0, 0.5]]  # half of each row went to the prompt
    fig = charts.attention_heatmaps(
        tokens, {"frozen": frozen, "adept-s0": run}, changes={"adept-s0": 0.123}, prompt_share={"adept-s0": 0.5}
    )
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert [len(t.z) for t in fig.data] == [3, 3] and all(len(r) == 3 for t in fig.data for r in t.z)
    assert fig.data[1].xaxis == "x2" and fig.data[1].yaxis == "y2"  # side by side
    # Rows renormalised over the input tokens: the prompt's share is taken out.
    assert [list(r) for r in fig.data[1].z] == [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]]
    assert fig.data[0].zmax == fig.data[1].zmax == 1.0 and fig.data[0].zmin == 0.0  # one colour scale
    assert list(fig.layout.xaxis.ticktext) == tokens and list(fig.layout.yaxis2.ticktext) == tokens
    assert fig.layout.yaxis.autorange == "reversed"  # first token on top
    assert "relative change vs frozen: adept-s0 0.123" in fig.layout.title.text
    assert "relative change 0.123, 50 % to the prompt" in fig.layout.annotations[1].text
    raw = charts.attention_heatmaps(tokens, {"frozen": frozen, "run": run}, renormalize=False)
    assert list(raw.data[1].z[0]) == [0.25, 0.125, 0.125]
    grid = charts.attention_heatmaps(tokens, {k: frozen for k in "pqr"})
    assert grid.data[2].xaxis == "x3" and grid.layout.height > fig.layout.height  # 2 per row: a second row
    with pytest.raises(ValueError, match="3 x 3"):
        charts.attention_heatmaps(tokens, {"frozen": [[1.0]]})


def test_latency_bars_medians_in_variant_order_with_rounds_as_points():
    lat = {
        "num_examples": 4,
        "repeats": 2,
        "threads": 1,
        "models": {
            "adept_folded": {"median_ms": 1.0, "rounds_ms": [1.0, 1.2]},
            "pt": {"median_ms": 2.0, "rounds_ms": [2.0, 2.5]},
            "dept": {"median_ms": 1.5, "rounds_ms": [1.4, 1.6]},
            "adept": {"median_ms": 1.6, "rounds_ms": [1.5, 1.7]},
        },
        "variants": {"adept": {"from_run": True}},
    }
    bars, rounds = charts.latency_bars(lat).data
    assert list(bars.x) == ["PT", "DePT", "ADePT<br>(this run)", "ADePT<br>folded"]
    assert list(bars.y) == [2.0, 1.5, 1.6, 1.0]
    assert list(bars.marker.color) == [charts.METHOD_COLORS[m] for m in ("pt", "dept", "adept", "adept")]
    assert rounds.mode == "markers" and len(rounds.y) == 8 and list(rounds.x).count("ADePT<br>folded") == 2
    assert len(charts.latency_bars({}).data) == 0


def test_top_tokens_frame_largest_and_smallest():
    top = {
        "seen": {
            "largest": [{"id": 5, "token": "film", "offset_norm": 2.0, "relative": 0.5, "count": 3}],
            "smallest": [{"id": 6, "token": " ,", "offset_norm": 0.1, "relative": 0.01, "count": 9}],
        },
        "vocabulary": {"largest": [{"id": 7, "token": "x", "offset_norm": 3.0, "relative": 0.9}], "smallest": []},
    }
    big = charts.top_tokens_frame(top, "largest")
    assert list(big.columns) == ["token", "‖Δ‖", "‖Δ‖/‖e‖", "count"]
    assert big.iloc[0].tolist() == ["'film'", 2.0, 0.5, 3]
    assert charts.top_tokens_frame(top, "smallest")["token"].tolist() == ["' ,'"]  # repr shows the space
    vocab = charts.top_tokens_frame(top, "largest", "vocabulary")
    assert list(vocab.columns) == ["token", "‖Δ‖", "‖Δ‖/‖e‖"] and vocab["‖Δ‖"].tolist() == [3.0]
    assert charts.top_tokens_frame(None).empty
