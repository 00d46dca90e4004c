"""Each method's metric with its interval (a point with error bars per method), from a computed comparison
(:func:`adept.comparison.compare_group`); a method without an interval is drawn as a hollow point and says so."""

from __future__ import annotations

import plotly.graph_objects as go

from app.charts.style import empty_figure, layout, method_color, method_rank


def metric_intervals(result: dict, *, height: int = 320) -> go.Figure:
    """One point per method at its metric, error bars from ``low`` to ``high`` (the result's confidence)."""
    methods = sorted(result.get("methods") or [], key=lambda m: method_rank(m["method"]))  # PT, DePT, ADePT
    if not methods:
        return empty_figure("No finished runs with this metric.")
    fig = go.Figure()
    pct = f"{100 * result['confidence']:g} %"
    for m in methods:
        has = m["low"] is not None
        fig.add_trace(go.Scatter(
            x=[m["name"]], y=[m["value"]], mode="markers", name=m["name"],
            marker=dict(size=12, color=method_color(m["method"]), symbol="circle" if has else "circle-open"),
            error_y=dict(type="data", symmetric=False, array=[m["high"] - m["value"]] if has else [0],
                         arrayminus=[m["value"] - m["low"]] if has else [0], visible=has),
            hovertemplate=(f"{m['name']}: %{{y:.2f}}" + (f" ({pct} interval {m['low']:.2f} to {m['high']:.2f}, "
                                                          if has else " (no interval, ")
                           + f"{m['n_seeds']} seed(s))<extra></extra>"),
        ))
    fig.update_yaxes(title=result["metric"])
    return layout(fig, f"{result['metric']}: each method with its {pct} interval", height=height, showlegend=False)
