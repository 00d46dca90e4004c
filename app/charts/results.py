"""Finished runs compared by method: final metric (mean ± std over seeds, every run a point), trainable
parameters, time per step and in all, and the equal-budget table.

``runs`` frames are rows of :func:`adept.tracking.runs_dataframe` (``method``, ``run_name``, ``params.<k>``,
``metrics.<k>``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.charts.style import (
    METHOD_LABELS,
    empty_figure,
    group_colors,
    layout,
    method_color,
    method_label,
    method_rank,
)


def group_stats(runs: pd.DataFrame, value_col: str, group_col: str = "method") -> pd.DataFrame:
    """Per group (default: method): ``n``, ``mean``, ``std`` (sample std, ddof = 1; NaN for one run),
    ``min``, ``max`` of ``value_col`` over the runs that have a value. Methods in PT, DePT, ADePT order."""
    cols = [group_col, "n", "mean", "std", "min", "max"]
    if runs.empty or value_col not in runs or group_col not in runs:
        return pd.DataFrame(columns=cols)
    df = runs[[group_col, value_col]].copy()
    df[value_col] = pd.to_numeric(df[value_col], errors="coerce")
    df = df.dropna(subset=[value_col])
    if df.empty:
        return pd.DataFrame(columns=cols)
    g = df.groupby(group_col, sort=False)[value_col]
    out = pd.DataFrame(
        {"n": g.count(), "mean": g.mean(), "std": g.std(ddof=1), "min": g.min(), "max": g.max()}
    )
    out = out.reset_index()
    out["_rank"] = out[group_col].map(lambda m: method_rank(str(m).split(" · ")[0]))
    return out.sort_values(["_rank", group_col]).drop(columns="_rank").reset_index(drop=True)[cols]


def _group_bars(
    fig: go.Figure,
    runs: pd.DataFrame,
    value_col: str,
    group_col: str,
    label_col: str,
    *,
    row: int | None = None,
    col: int | None = None,
    fmt: str = ".4g",
    show_legend: bool = True,
    unit: str = "",
    show_text: bool = True,
) -> pd.DataFrame:
    """Add a mean bar (error bar = std over runs) per group and one point per run; returns the stats."""
    stats = group_stats(runs, value_col, group_col)
    if stats.empty:
        return stats
    groups = stats[group_col].astype(str).tolist()
    palette = group_colors(groups)
    colors = [palette[g] for g in groups]
    std = [0.0 if pd.isna(s) else float(s) for s in stats["std"]]
    text = [
        f"{m:{fmt}}{unit}" + (f" ± {s:{fmt}}" if n > 1 else "") + f" (n={n})"
        for m, s, n in zip(stats["mean"], std, stats["n"])
    ]
    where = {} if row is None else {"row": row, "col": col}
    fig.add_trace(
        go.Bar(
            x=[method_label(g) if g in METHOD_LABELS else g for g in groups],
            y=stats["mean"].tolist(),
            name="mean ± std over seeds",
            marker_color=colors,
            opacity=0.75,
            error_y=dict(type="data", array=std, visible=True, color="#444"),
            text=text if show_text else None,
            textposition="inside",
            insidetextanchor="start",
            textfont=dict(size=13),
            showlegend=show_legend,
            legendgroup="mean",
            hovertemplate="%{x}<br>mean %{y:" + fmt + "}<extra></extra>",
        ),
        **where,
    )
    pts = runs[[group_col, value_col] + ([label_col] if label_col in runs else [])].copy()
    pts[value_col] = pd.to_numeric(pts[value_col], errors="coerce")
    pts = pts.dropna(subset=[value_col])
    pts["_rank"] = pts[group_col].map(lambda m: method_rank(str(m).split(" · ")[0]))
    pts = pts.sort_values(["_rank", group_col], kind="stable")
    names = pts[label_col].astype(str).tolist() if label_col in pts else [""] * len(pts)
    fig.add_trace(
        go.Scatter(
            x=[method_label(g) if g in METHOD_LABELS else g for g in pts[group_col].astype(str)],
            y=pts[value_col].tolist(),
            mode="markers",
            name="runs (one per seed)",
            marker=dict(color="#222", size=8, symbol="circle-open", line=dict(width=2)),
            text=names,
            showlegend=show_legend,
            legendgroup="runs",
            hovertemplate="%{text}<br>%{y:" + fmt + "}<extra></extra>",
        ),
        **where,
    )
    return stats


def final_metric_by_method(
    runs: pd.DataFrame,
    metric_col: str,
    *,
    group_col: str = "method",
    label_col: str = "run_name",
    title: str = "",
    height: int = 380,
) -> go.Figure:
    """Final metric (e.g. ``metrics.test/accuracy``) per method: a bar at the mean over seeds with the sample
    std as error bar, and every run as a point on it. Groups are ordered PT, DePT, ADePT."""
    fig = go.Figure()
    stats = _group_bars(fig, runs, metric_col, group_col, label_col)
    if stats.empty:
        return empty_figure(
            f"No run has {metric_col.removeprefix('metrics.')} yet (it is logged at the end).", title, height
        )
    fig.update_yaxes(title_text=metric_col.removeprefix("metrics."))
    return layout(
        fig,
        title or f"Final {metric_col.removeprefix('metrics.')} by method",
        height=height,
        barmode="overlay",
    )


def trainable_params_bars(
    runs: pd.DataFrame,
    *,
    value_col: str = "params.trainable_params",
    label_col: str = "run_name",
    title: str = "Trainable parameters",
    height: int = 340,
) -> go.Figure:
    """Trainable parameters (prompt + offsets [+ head]) per run, coloured by method."""
    if runs.empty or value_col not in runs:
        return empty_figure("No parameter counts logged yet.", title, height)
    df = runs.copy()
    df["_v"] = pd.to_numeric(df[value_col], errors="coerce")
    df = df.dropna(subset=["_v"])
    if df.empty:
        return empty_figure("No parameter counts logged yet.", title, height)
    df["_rank"] = df["method"].map(method_rank)
    df = df.sort_values(["_rank", label_col], kind="stable")
    fig = go.Figure()
    for method, part in df.groupby("method", sort=False):
        fig.add_trace(
            go.Bar(
                x=part[label_col].astype(str).tolist(),
                y=part["_v"].astype(int).tolist(),
                name=method_label(method),
                marker_color=method_color(method),
                text=[f"{int(v):,}" for v in part["_v"]],
                textposition="outside",
                hovertemplate="%{x}<br>%{y:,} trainable<extra></extra>",
            )
        )
    fig.update_yaxes(title_text="parameters", rangemode="tozero")
    return layout(fig, title, height=height, showlegend=False)  # run names say the method


def time_bars(
    runs: pd.DataFrame,
    *,
    group_col: str = "method",
    label_col: str = "run_name",
    step_col: str = "metrics.time/mean_step_s",
    total_col: str = "metrics.time/total_s",
    title: str = "Time",
    height: int = 360,
) -> go.Figure:
    """Two panels, mean ± std over seeds per method with one point per run: seconds per optimizer step,
    and total wall time of the run (training + evaluation)."""
    if runs.empty or (step_col not in runs and total_col not in runs):
        return empty_figure("No timings logged yet (they are logged when a run ends).", title, height)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("seconds per step", "total seconds"))
    a = (
        _group_bars(
            fig, runs, step_col, group_col, label_col, row=1, col=1, fmt=".3g", unit=" s", show_text=False
        )
        if step_col in runs
        else pd.DataFrame()
    )
    b = (
        _group_bars(
            fig,
            runs,
            total_col,
            group_col,
            label_col,
            row=1,
            col=2,
            fmt=".3g",
            unit=" s",
            show_legend=a.empty,
            show_text=False,
        )
        if total_col in runs
        else pd.DataFrame()
    )
    if a.empty and b.empty:
        return empty_figure("No timings logged yet (they are logged when a run ends).", title, height)
    return layout(fig, title, height=height, barmode="overlay")


def budget_table(
    rows: Sequence[Mapping], budget: int | None = None, *, title: str = "", height: int = 150
) -> go.Figure:
    """The equal-budget table (rows of :func:`adept.budget.equal_budget_table`: method, l, r, params,
    unused) as a figure: prompt length, rank, trainable parameters and the share of the budget used."""
    methods = [method_label(r["method"]) for r in rows]
    ls = [int(r["l"]) for r in rows]
    rs = ["—" if r["method"] == "pt" else int(r["r"]) for r in rows]
    params = [int(r["params"]) for r in rows]
    share = [f"{100.0 * p / budget:.1f} %" if budget else "—" for p in params]
    fills = [[method_color(r["method"]) for r in rows]] + [["#F7F7F7"] * len(rows)] * 4
    fig = go.Figure(
        go.Table(
            header=dict(
                values=["method", "prompt tokens l", "rank r", "trainable params", "of budget"],
                fill_color="#E8E8E8",
                align="left",
                font=dict(size=13),
            ),
            cells=dict(
                values=[methods, ls, rs, [f"{p:,}" for p in params], share],
                align="left",
                height=28,
                fill_color=fills,
                font=dict(size=13, color=[["white"] * len(rows)] + [["#222"] * len(rows)] * 4),
            ),
            columnwidth=[1, 1.2, 0.8, 1.4, 1],
        )
    )
    fig.update_layout(margin=dict(l=0, r=0, t=30 if title else 0, b=0), height=height, title=title or None)
    return fig
