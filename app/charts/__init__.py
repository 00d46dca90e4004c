"""Figures of the dashboard: pure functions from DataFrames / plain lists to plotly figures.

No Streamlit here, so every figure is tested on its numbers (tests/test_charts.py). Pages use them as
``from app import charts; charts.X``; the modules hold one topic each:

* :mod:`~app.charts.style`: method colours and labels, the common layout, the empty figure.
* :mod:`~app.charts.curves`: EMA smoothing, training-loss and validation curves.
* :mod:`~app.charts.results`: finished runs by method (final metric, parameters, time, budget table).
* :mod:`~app.charts.offsets`: offsets computed live from a run's adapter (per token, by position, PCA).
* :mod:`~app.charts.parallel`: parallel coordinates of config fields against a metric.
* :mod:`~app.charts.analyses`: a run's stored analyses (pilot, histograms, attention, latency, top tokens).

Conventions:

* ``history`` frames are :func:`adept.tracking.metric_history`'s long format: ``run_id, key, step, value``.
* ``runs`` frames are rows of :func:`adept.tracking.runs_dataframe` (``method``, ``run_name``,
  ``params.<k>``, ``metrics.<k>``, ...).
* One colour per method everywhere (PT blue, DePT orange, ADePT green); seeds of one method differ by dash.
"""

from app.charts.analyses import (
    PILOT_COLUMNS,
    VARIANT_LABELS,
    attention_heatmaps,
    latency_bars,
    offset_profile_with_lengths,
    pilot_by_k,
    pilot_frame,
    relative_norm_histograms,
    top_tokens_frame,
)
from app.charts.curves import ema, eval_curves, line_curves, loss_curves
from app.charts.offsets import (
    TOKEN_PALETTE,
    lines_by_label,
    offset_norm_bars,
    offset_norm_heatmap,
    offset_vs_position,
    projection_scatter,
    tokens_per_position_bars,
)
from app.charts.parallel import parallel_coordinates
from app.charts.results import budget_table, final_metric_by_method, group_stats, time_bars, trainable_params_bars
from app.charts.style import (
    DASHES,
    METHOD_COLORS,
    METHOD_LABELS,
    METHOD_ORDER,
    OTHER_COLOR,
    TEMPLATE,
    empty_figure,
    group_colors,
    method_color,
    method_label,
)

__all__ = [
    "DASHES",
    "METHOD_COLORS",
    "METHOD_LABELS",
    "METHOD_ORDER",
    "OTHER_COLOR",
    "PILOT_COLUMNS",
    "TEMPLATE",
    "TOKEN_PALETTE",
    "VARIANT_LABELS",
    "attention_heatmaps",
    "budget_table",
    "ema",
    "empty_figure",
    "eval_curves",
    "final_metric_by_method",
    "group_colors",
    "group_stats",
    "latency_bars",
    "line_curves",
    "lines_by_label",
    "loss_curves",
    "method_color",
    "method_label",
    "offset_norm_bars",
    "offset_norm_heatmap",
    "offset_profile_with_lengths",
    "offset_vs_position",
    "parallel_coordinates",
    "pilot_by_k",
    "pilot_frame",
    "projection_scatter",
    "relative_norm_histograms",
    "time_bars",
    "tokens_per_position_bars",
    "top_tokens_frame",
    "trainable_params_bars",
]
