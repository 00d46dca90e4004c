"""Training curves: metric against the optimizer step, one line per run, optionally EMA-smoothed.

``history`` frames are :func:`adept.tracking.metric_history`'s long format: ``run_id, key, step, value``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from app.charts.style import empty_figure, layout, run_styles


def ema(values: Sequence[float], weight: float) -> list[float]:
    """Debiased exponential moving average, TensorBoard's smoothing.

    ``m_t = w m_{t-1} + (1 - w) x_t`` with ``m_0 = 0``, reported as ``s_t = m_t / (1 - w^t)`` (so the first
    point equals the first value, and a constant series stays constant). ``w = 0`` returns the values.
    Non-finite values are passed through and do not update the average.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight {weight!r} must be in [0, 1): 0 is off, 0.9 is strong.")
    out: list[float] = []
    m, t = 0.0, 0
    for x in values:
        x = float(x)
        if not math.isfinite(x):
            out.append(x)
            continue
        t += 1
        m = weight * m + (1.0 - weight) * x
        out.append(m / (1.0 - weight**t) if weight > 0 else x)
    return out


def line_curves(
    history: pd.DataFrame,
    key: str,
    *,
    labels: Mapping[str, str] | None = None,
    methods: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
    title: str = "",
    yaxis_title: str | None = None,
    markers: bool = False,
    height: int = 360,
    colors: Mapping[str, str] | None = None,
    x: str = "step",
    log_y: bool = False,
) -> go.Figure:
    """One line per run of metric ``key`` against the optimizer step.

    ``labels``: run_id -> legend name (default: the first 8 characters of the id); ``methods``: run_id ->
    method (sets the colour). With ``smoothing`` > 0 each run gets a faint raw line (no legend entry, name
    ``"<label> (raw)"``) under its :func:`ema`-smoothed line. Runs are drawn in ``labels`` order, then by id.
    ``colors``: run_id -> colour, overriding the method's (group-by on Compare). ``x``: ``"step"`` or
    ``"wall"`` (seconds since the run's first point of this metric). ``log_y``: a log-scale y axis.
    """
    if x not in ("step", "wall"):
        raise ValueError(f"x must be 'step' or 'wall', got {x!r}.")
    if history.empty or key not in set(history["key"]):
        return empty_figure(f"No {key} points logged yet.", title, height)
    data = history[history["key"] == key].sort_values(["run_id", "step"])
    present = list(dict.fromkeys(data["run_id"]))
    order = [r for r in (labels or {}) if r in present] + sorted(
        r for r in present if r not in (labels or {})
    )
    styles = run_styles(order, methods)
    fig = go.Figure()
    for rid in order:
        run = data[data["run_id"] == rid]
        name = (labels or {}).get(rid, rid[:8])
        color, dash = styles[rid]
        color = (colors or {}).get(rid, color)
        if x == "wall":
            ts = pd.to_datetime(run["timestamp"], utc=True)
            steps = ((ts - ts.min()).dt.total_seconds()).round(3).tolist()
        else:
            steps = run["step"].tolist()
        values = run["value"].tolist()
        mode = "lines+markers" if markers or len(steps) == 1 else "lines"
        if smoothing > 0:
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=values,
                    name=f"{name} (raw)",
                    mode="lines",
                    showlegend=False,
                    legendgroup=rid,
                    opacity=0.25,
                    line=dict(color=color, width=1, dash=dash),
                    hoverinfo="skip",
                )
            )
            values = ema(values, smoothing)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                name=name,
                mode=mode,
                legendgroup=rid,
                line=dict(color=color, width=2, dash=dash),
                hovertemplate=f"{name}<br>{'step' if x == 'step' else 's'} %{{x}}<br>%{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="step" if x == "step" else "wall time since the first point (s)")
    fig.update_yaxes(title_text=(yaxis_title or key) + (" (log scale)" if log_y else ""),
                     type="log" if log_y else None)
    return layout(fig, title, height=height)


def loss_curves(
    history: pd.DataFrame, *, key: str = "train/loss", smoothing: float = 0.0, **kwargs
) -> go.Figure:
    """Training-loss curves (``train/loss``), optionally EMA-smoothed (see :func:`line_curves`)."""
    kwargs.setdefault("title", "Training loss")
    kwargs.setdefault("yaxis_title", "loss")
    return line_curves(history, key, smoothing=smoothing, **kwargs)


def eval_curves(history: pd.DataFrame, key: str, **kwargs) -> go.Figure:
    """Validation-metric curves (e.g. ``val/accuracy``) with a marker at every evaluation."""
    kwargs.setdefault("title", f"Validation {key.split('/', 1)[-1]}")
    kwargs.setdefault("yaxis_title", key.split("/", 1)[-1])
    return line_curves(history, key, markers=True, **kwargs)
