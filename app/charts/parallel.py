"""Parallel coordinates over a sweep's varied config fields and a metric: one line per run, coloured by the
metric, so the settings that go with good runs line up (plotly's ``Parcoords``)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from app.charts.style import empty_figure, layout


def parallel_coordinates(
    axes: Sequence[tuple[str, list[float], list[float] | None, list[str] | None]],
    metric_name: str,
    metric_values: list[float],
    *,
    title: str = "",
    height: int = 420,
) -> go.Figure:
    """``axes``: ``(label, values, tickvals, ticktext)`` per field (ticks for text fields coded 0..k-1, None
    for numbers); the last axis and the colour are ``metric_values``. Runs without the metric are left out."""
    keep = [i for i, v in enumerate(metric_values) if v is not None and v == v]
    if not keep:
        return empty_figure(f"No run has {metric_name} yet.", title, height)
    if not axes:
        return empty_figure("The picked runs do not differ in any config field.", title, height)
    dims = []
    for label, values, tickvals, ticktext in axes:
        d = dict(label=label, values=[values[i] for i in keep])
        if tickvals is not None:
            d.update(tickvals=tickvals, ticktext=ticktext)
        dims.append(d)
    metric = [float(metric_values[i]) for i in keep]
    dims.append(dict(label=metric_name, values=metric))
    fig = go.Figure(
        go.Parcoords(
            line=dict(color=metric, colorscale="Viridis", showscale=True,
                      colorbar=dict(title=dict(text=metric_name, side="right"))),
            dimensions=dims,
            labelangle=0,
            labelside="bottom",
        )
    )
    fig = layout(fig, title, height=height)
    fig.update_layout(margin=dict(l=60, r=60, t=70 if title else 40, b=40))
    return fig
