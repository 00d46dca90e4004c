"""app/charts.py: every figure checked on its numbers (no Streamlit, no MLflow)."""

import math

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
