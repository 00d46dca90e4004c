"""Figures of the dashboard: pure functions from DataFrames / plain lists to plotly figures.

No Streamlit here, so every figure is tested on its numbers (tests/test_charts.py). Conventions:

* ``history`` frames are :func:`adept.tracking.metric_history`'s long format: ``run_id, key, step, value``.
* ``runs`` frames are rows of :func:`adept.tracking.runs_dataframe` (``method``, ``run_name``,
  ``params.<k>``, ``metrics.<k>``, ...).
* One colour per method everywhere (PT blue, DePT orange, ADePT green); seeds of one method differ by dash.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

METHOD_ORDER = ("pt", "dept", "adept")
METHOD_LABELS = {"pt": "PT", "dept": "DePT", "adept": "ADePT"}
METHOD_COLORS = {"pt": "#4C78A8", "dept": "#F58518", "adept": "#54A24B"}
OTHER_COLOR = "#8C8C8C"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
# Categorical colours for tokens in the projection scatter (method colours are kept for methods).
TOKEN_PALETTE = (
    "#E45756",
    "#4C78A8",
    "#72B7B2",
    "#F58518",
    "#54A24B",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#2E86AB",
    "#A23B72",
    "#3B8B5A",
)
TEMPLATE = "plotly_white"


# --------------------------------------------------------------------------------------------------------
# Small helpers


def method_label(method: str) -> str:
    """``"adept"`` -> ``"ADePT"``; unknown names are returned unchanged."""
    return METHOD_LABELS.get(str(method).lower(), str(method))


def method_color(method: str) -> str:
    return METHOD_COLORS.get(str(method).lower(), OTHER_COLOR)


def _method_rank(method: str) -> tuple[int, str]:
    m = str(method).lower()
    return (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m)


def _layout(fig: go.Figure, title: str = "", *, height: int = 360, **kwargs) -> go.Figure:
    """Common look: white template, title top left, legend under the plot (never over the title)."""
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0, xanchor="left") if title else None,
        height=height,
        margin=dict(l=10, r=10, t=45 if title else 15, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0),
        **kwargs,
    )
    return fig


def empty_figure(message: str, title: str = "", height: int = 300) -> go.Figure:
    """A blank figure that says why it is blank (no data yet, nothing selected)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font=dict(size=14, color=OTHER_COLOR),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=height)


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
    out["_rank"] = out[group_col].map(lambda m: _method_rank(str(m).split(" · ")[0]))
    return out.sort_values(["_rank", group_col]).drop(columns="_rank").reset_index(drop=True)[cols]


def _run_styles(run_ids: Sequence[str], methods: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """``run_id -> (colour, dash)``: colour by method, dash by the run's index within its method."""
    seen: Counter = Counter()
    styles = {}
    for rid in run_ids:
        m = (methods or {}).get(rid, "")
        styles[rid] = (method_color(m), DASHES[seen[m] % len(DASHES)])
        seen[m] += 1
    return styles


# --------------------------------------------------------------------------------------------------------
# Curves


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
) -> go.Figure:
    """One line per run of metric ``key`` against the optimizer step.

    ``labels``: run_id -> legend name (default: the first 8 characters of the id); ``methods``: run_id ->
    method (sets the colour). With ``smoothing`` > 0 each run gets a faint raw line (no legend entry, name
    ``"<label> (raw)"``) under its :func:`ema`-smoothed line. Runs are drawn in ``labels`` order, then by id.
    """
    if history.empty or key not in set(history["key"]):
        return empty_figure(f"No {key} points logged yet.", title, height)
    data = history[history["key"] == key].sort_values(["run_id", "step"])
    present = list(dict.fromkeys(data["run_id"]))
    order = [r for r in (labels or {}) if r in present] + sorted(
        r for r in present if r not in (labels or {})
    )
    styles = _run_styles(order, methods)
    fig = go.Figure()
    for rid in order:
        run = data[data["run_id"] == rid]
        name = (labels or {}).get(rid, rid[:8])
        color, dash = styles[rid]
        steps, values = run["step"].tolist(), run["value"].tolist()
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
                hovertemplate=f"{name}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=yaxis_title or key)
    return _layout(fig, title, height=height)


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


# --------------------------------------------------------------------------------------------------------
# Per-method summaries of finished runs


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
    colors = [method_color(g.split(" · ")[0]) for g in groups]
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
    pts["_rank"] = pts[group_col].map(lambda m: _method_rank(str(m).split(" · ")[0]))
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
    return _layout(
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
    df["_rank"] = df["method"].map(_method_rank)
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
    return _layout(fig, title, height=height, showlegend=False)  # run names say the method


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
    return _layout(fig, title, height=height, barmode="overlay")


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


# --------------------------------------------------------------------------------------------------------
# Offsets


def offset_norm_bars(
    tokens: Sequence[str],
    norms: Sequence[float],
    *,
    method: str = "",
    title: str = "",
    yaxis_title: str = "‖Δ‖ (offset norm)",
    height: int = 320,
) -> go.Figure:
    """One bar per input token (in order) with its offset norm; tokens label the x axis (repeated tokens
    keep their own bar, so the x axis is the token index with the token as tick text)."""
    if len(tokens) != len(norms):
        raise ValueError(f"{len(tokens)} tokens but {len(norms)} norms: they must align one to one.")
    idx = list(range(len(tokens)))
    fig = go.Figure(
        go.Bar(
            x=idx,
            y=[float(v) for v in norms],
            name=method_label(method) or "offset norm",
            marker_color=method_color(method),
            customdata=list(tokens),
            hovertemplate="%{customdata} (token %{x})<br>%{y:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(tickmode="array", tickvals=idx, ticktext=list(tokens), tickangle=-45)
    fig.update_yaxes(title_text=yaxis_title, rangemode="tozero")
    return _layout(fig, title, height=height)


def offset_norm_heatmap(
    rows: Mapping[str, tuple[Sequence[str], Sequence[float]]],
    *,
    title: str = "",
    colorbar_title: str = "‖Δ‖",
    height: int | None = None,
) -> go.Figure:
    """Rows = runs (label -> (tokens, norms)), columns = token positions; the tokens of the first row label
    the x axis. Shorter rows are padded with blanks. Compare how methods spread offsets over one input."""
    if not rows:
        return empty_figure("Pick at least one run.", title)
    labels = list(rows)
    width = max(len(t) for t, _ in rows.values())
    z = [[float(v) for v in norms] + [None] * (width - len(norms)) for _, norms in rows.values()]
    first = list(rows[labels[0]][0])
    ticks = first + [""] * (width - len(first))
    text = [[*toks, *[""] * (width - len(toks))] for toks, _ in rows.values()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(width)),
            y=labels,
            colorscale="Viridis",
            text=text,
            colorbar=dict(title=colorbar_title),
            hovertemplate="%{y}<br>%{text} (token %{x})<br>%{z:.4g}<extra></extra>",
        )
    )
    fig.update_xaxes(tickmode="array", tickvals=list(range(width)), ticktext=ticks, tickangle=-45)
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=height or 140 + 45 * len(labels))


def lines_by_label(
    series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]],
    *,
    x_title: str,
    y_title: str,
    title: str = "",
    methods: Mapping[str, str] | None = None,
    markers: bool = True,
    height: int = 340,
) -> go.Figure:
    """One line per label (label -> (x, y)), coloured by ``methods[label]``; ``None`` values leave gaps."""
    if not series:
        return empty_figure("Nothing to show yet.", title, height)
    styles = _run_styles(list(series), methods)
    fig = go.Figure()
    for label, (x, y) in series.items():
        color, dash = styles[label]
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=[None if v is None else float(v) for v in y],
                name=label,
                mode="lines+markers" if markers else "lines",
                line=dict(color=color, dash=dash, width=2),
                hovertemplate=f"{label}<br>{x_title} %{{x}}<br>%{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return _layout(fig, title, height=height)


def offset_vs_position(
    series: Mapping[str, tuple[Sequence[int], Sequence[float | None]]],
    *,
    y_title: str = "mean ‖Δ‖",
    title: str = "",
    methods: Mapping[str, str] | None = None,
    height: int = 340,
) -> go.Figure:
    """Offset size (or variance) by input position, one line per run: label -> (positions, values)."""
    return lines_by_label(
        series,
        x_title="position (slot)",
        y_title=y_title,
        title=title,
        methods=methods,
        markers=False,
        height=height,
    )


def tokens_per_position_bars(
    rows: Sequence[int],
    distinct_tokens: Sequence[int],
    *,
    title: str = "",
    method: str = "dept",
    height: int = 320,
) -> go.Figure:
    """How many different tokens read each DePT position offset (one bar per table row that was used)."""
    if not rows:
        return empty_figure("No positions used.", title, height)
    fig = go.Figure(
        go.Bar(
            x=list(rows),
            y=list(distinct_tokens),
            marker_color=method_color(method),
            name="distinct tokens",
            hovertemplate="position %{x}<br>%{y} different tokens<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="position (DePT table row)")
    fig.update_yaxes(title_text="different tokens sharing it", rangemode="tozero")
    return _layout(fig, title, height=height)


def projection_scatter(
    x: Sequence[float],
    y: Sequence[float],
    tokens: Sequence[str],
    *,
    top_k: int = 10,
    title: str = "",
    explained: Sequence[float] | None = None,
    height: int = 420,
) -> go.Figure:
    """2-D projection of offsets, one point per token occurrence, coloured by token: the ``top_k`` most
    frequent tokens get a colour and a legend entry each (most frequent first), all others are grey
    ("other tokens"). ``explained``: variance ratio of the two axes, shown in the axis titles."""
    if not (len(x) == len(y) == len(tokens)):
        raise ValueError(
            f"x, y and tokens must have one entry per point, got {len(x)}, {len(y)}, {len(tokens)}."
        )
    if not tokens:
        return empty_figure("No points.", title, height)
    counts = Counter(tokens)
    top = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]
    fig = go.Figure()
    rest = [i for i, t in enumerate(tokens) if t not in set(top)]
    if rest:
        fig.add_trace(
            go.Scatter(
                x=[x[i] for i in rest],
                y=[y[i] for i in rest],
                mode="markers",
                name="other tokens",
                marker=dict(color="#C8C8C8", size=6, opacity=0.6),
                text=[tokens[i] for i in rest],
                hovertemplate="%{text}<extra>other</extra>",
            )
        )
    for k, tok in enumerate(top):
        idx = [i for i, t in enumerate(tokens) if t == tok]
        fig.add_trace(
            go.Scatter(
                x=[x[i] for i in idx],
                y=[y[i] for i in idx],
                mode="markers",
                name=f"{tok!r} ×{counts[tok]}",
                marker=dict(
                    color=TOKEN_PALETTE[k % len(TOKEN_PALETTE)], size=9, line=dict(width=0.5, color="white")
                ),
                hovertemplate=f"{tok!r}<extra></extra>",
            )
        )
    ex = list(explained or [])
    fig.update_xaxes(title_text="PC 1" + (f" ({100 * ex[0]:.0f} % of variance)" if len(ex) > 0 else ""))
    fig.update_yaxes(title_text="PC 2" + (f" ({100 * ex[1]:.0f} % of variance)" if len(ex) > 1 else ""))
    fig = _layout(fig, title, height=height)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
    return fig


# --------------------------------------------------------------------------------------------------------
# Stored paper analyses (``adept.analysis.analyze_run``'s JSON, PAPER.md section 5)

VARIANT_LABELS = {"pt": "PT", "dept": "DePT", "adept": "ADePT", "adept_folded": "ADePT folded"}
PILOT_COLUMNS = ["run_id", "label", "method", "padding_side", "k", "value"]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def pilot_frame(pilots: Mapping[str, Mapping], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Long format of stored pilot experiments (``run_id -> analysis/pilot.json``): one row per run, padding side
    and k, with the primary metric as ``value``. Columns :data:`PILOT_COLUMNS`."""
    rows = []
    for rid, pilot in pilots.items():
        metric = pilot["metric"]
        for side, metrics in pilot["results"].items():
            for k, v in zip(pilot["ks"], metrics.get(metric, [])):
                rows.append((rid, (labels or {}).get(rid, rid[:8]), pilot["method"], side, int(k), v))
    return pd.DataFrame(rows, columns=PILOT_COLUMNS)


def pilot_by_k(
    pilot: pd.DataFrame,
    *,
    metric: str = "metric",
    padding_side: str | None = None,
    title: str = "",
    height: int = 380,
) -> go.Figure:
    """The pilot experiment (PAPER.md 5.1): test metric against k, the tokens prepended at test time only.

    ``pilot``: long frame ``run_id, method, padding_side, k, value`` (optional ``label``), e.g.
    :func:`pilot_frame`. Per method a mean line over its runs with a ±std band (sample std, when it has 2+
    runs), and every run as a marker. ``padding_side`` keeps only that side's rows."""
    df = pilot
    if padding_side is not None and "padding_side" in df:
        df = df[df["padding_side"] == padding_side]
    df = df.dropna(subset=["value"]) if not df.empty else df
    if df.empty:
        return empty_figure("No stored pilot experiment for these runs.", title, height)
    fig = go.Figure()
    for method in sorted(df["method"].unique(), key=_method_rank):
        part = df[df["method"] == method]
        color, name = method_color(method), method_label(method)
        g = part.groupby("k")["value"]
        stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()}).sort_index()
        ks = stats.index.tolist()
        n_runs = part["run_id"].nunique()
        if n_runs > 1:
            std = stats["std"].fillna(0.0)
            fig.add_trace(
                go.Scatter(
                    x=ks + ks[::-1],
                    y=(stats["mean"] + std).tolist() + (stats["mean"] - std).tolist()[::-1],
                    fill="toself",
                    fillcolor=_rgba(color, 0.18),
                    mode="lines",
                    line=dict(width=0),
                    name=f"{name} ± std",
                    legendgroup=method,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=stats["mean"].tolist(),
                mode="lines",
                name=f"{name} (mean of {n_runs} run{'s' if n_runs > 1 else ''})",
                legendgroup=method,
                line=dict(color=color, width=3),
                customdata=stats[["std", "n"]].fillna(0.0).values.tolist(),
                hovertemplate=f"{name}<br>k %{{x}}<br>mean %{{y:.4g}} ± %{{customdata[0]:.3g}} "
                "(n=%{customdata[1]})<extra></extra>",
            )
        )
        labels = part["label"] if "label" in part else part["run_id"].str[:8]
        fig.add_trace(
            go.Scatter(
                x=part["k"].tolist(),
                y=part["value"].tolist(),
                mode="markers",
                name=f"{name} runs",
                legendgroup=method,
                showlegend=False,
                marker=dict(color=color, size=7, opacity=0.7, line=dict(width=1, color="white")),
                text=labels.astype(str).tolist(),
                hovertemplate="%{text}<br>k %{x}<br>%{y:.4g}<extra></extra>",
            )
        )
    ks = sorted(df["k"].unique())
    fig.update_xaxes(title_text="k: tokens prepended at test time", tickmode="array", tickvals=ks)
    fig.update_yaxes(title_text=metric)
    return _layout(fig, title, height=height)


def _bin_centers(edges: Sequence[float]) -> tuple[list[float], list[float]]:
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    return centers, widths


def relative_norm_histograms(
    hists: Mapping[str, Mapping],
    *,
    methods: Mapping[str, str] | None = None,
    title: str = "",
    x_title: str = "‖Δ‖ / ‖e‖ per token",
    height: int = 340,
) -> go.Figure:
    """Overlaid histograms, one bar trace per run (label -> ``{"edges", "counts"}``, e.g.
    ``offset_stats.relative_histogram``); bar heights are the share of the run's tokens (%) so runs with
    different token counts compare."""
    hists = {k: h for k, h in hists.items() if h and h.get("counts")}
    if not hists:
        return empty_figure("No offset histogram stored.", title, height)
    fig = go.Figure()
    for label, h in hists.items():
        centers, widths = _bin_centers(h["edges"])
        total = sum(h["counts"]) or 1
        color = method_color((methods or {}).get(label, ""))
        fig.add_trace(
            go.Bar(
                x=centers,
                y=[100.0 * c / total for c in h["counts"]],
                width=widths,
                name=label,
                marker=dict(color=color, line=dict(width=0)),
                opacity=0.55,
                customdata=list(h["counts"]),
                hovertemplate=f"{label}<br>%{{x:.3g}}<br>%{{y:.1f}} %% of tokens (%{{customdata}})<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=x_title, rangemode="tozero")
    fig.update_yaxes(title_text="% of tokens")
    return _layout(fig, title, height=height, barmode="overlay", bargap=0)


def offset_profile_with_lengths(
    profiles: Mapping[str, tuple[Sequence[int], Sequence[float | None]]],
    lengths: Mapping | None,
    *,
    methods: Mapping[str, str] | None = None,
    title: str = "",
    height: int = 360,
) -> go.Figure:
    """Offset norm by position, one line per run (label -> (rows, norms), ``offset_stats.position_profile``),
    over the histogram of real input lengths (``offset_stats.input_lengths``: ``{"lengths", "counts"}``) as
    grey bars on a secondary y axis: positions past the usual lengths are padding, which DePT's rows there
    never learn from."""
    if not profiles:
        return empty_figure("No DePT / ADePT run with a stored offset profile.", title, height)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if lengths and lengths.get("counts"):
        fig.add_trace(
            go.Bar(
                x=list(lengths["lengths"]),
                y=list(lengths["counts"]),
                name="inputs of this length",
                marker_color="#BDBDBD",
                opacity=0.6,
                hovertemplate="%{y} inputs of %{x} tokens<extra></extra>",
            ),
            secondary_y=True,
        )
    styles = _run_styles(list(profiles), methods)
    for label, (rows, norms) in profiles.items():
        color, dash = styles[label]
        fig.add_trace(
            go.Scatter(
                x=list(rows),
                y=[None if v is None else float(v) for v in norms],
                name=label,
                mode="lines",
                line=dict(color=color, dash=dash, width=2),
                hovertemplate=f"{label}<br>position %{{x}}<br>‖Δ‖ %{{y:.4g}}<extra></extra>",
            ),
            secondary_y=False,
        )
    fig.update_xaxes(title_text="position j  /  input length (tokens)")
    fig.update_yaxes(title_text="mean ‖Δ‖ at position j", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="inputs", rangemode="tozero", showgrid=False, tickmode="auto", secondary_y=True)
    return _layout(fig, title, height=height, bargap=0.1)


def attention_heatmaps(
    tokens: Sequence[str],
    panels: Mapping[str, Sequence[Sequence[float]]],
    *,
    changes: Mapping[str, float] | None = None,
    prompt_share: Mapping[str, float] | None = None,
    renormalize: bool = True,
    title: str = "",
    cols: int = 2,
    panel_height: int = 400,
) -> go.Figure:
    """Head-averaged layer-1 attention maps over one input's ``tokens`` (queries down, keys across), one
    panel per label (e.g. ``"frozen"`` then each run), ``cols`` per row, one colour scale for all.

    ``renormalize``: divide each row by its sum, i.e. show how a query splits the attention it gives to the
    input tokens (a soft prompt also takes some, ``prompt_share``: label -> mean share, shown in the panel
    title). That is what the relative-attention change compares, so PT, which only rescales rows, looks like
    the frozen model. ``changes``: label -> relative-attention change vs frozen, in the panel titles and the
    figure title."""
    if not panels or not tokens:
        return empty_figure("No attention map stored.", title, panel_height)
    n = len(tokens)
    for label, z in panels.items():
        if len(z) != n or any(len(r) != n for r in z):
            raise ValueError(f"attention map {label!r} is not {n} x {n} (one row and column per token).")
    changes, shares = dict(changes or {}), dict(prompt_share or {})

    def rows_of(z):
        rows = [[float(v) for v in row] for row in z]
        if renormalize:
            rows = [[v / sum(row) for v in row] if sum(row) > 0 else row for row in rows]
        return rows

    maps = {label: rows_of(z) for label, z in panels.items()}
    labels = list(maps)
    cols = max(1, min(cols, len(labels)))
    nrows = math.ceil(len(labels) / cols)
    names = []
    for lab in labels:
        notes = [f"relative change {changes[lab]:.3g}" if lab in changes else "",
                 f"{100 * shares[lab]:.0f} % to the prompt" if lab in shares else ""]
        note = ", ".join(x for x in notes if x)
        names.append(f"{lab}<br><span style='font-size:11px'>{note or ' '}</span>")  # 2 lines: titles align
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=names, horizontal_spacing=0.14,
                        vertical_spacing=min(0.3, 0.6 / nrows))
    zmax = max(max(max(r) for r in z) for z in maps.values()) or 1.0
    idx = list(range(n))
    small = dict(size=9) if n > 24 else {}
    for i, label in enumerate(labels):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(
            go.Heatmap(
                z=maps[label],
                x=idx,
                y=idx,
                zmin=0.0,
                zmax=zmax,
                colorscale="Viridis",
                showscale=i == 0,
                colorbar=dict(title="attention", thickness=12),
                customdata=[[(tokens[q], tokens[k]) for k in idx] for q in idx],
                hovertemplate=f"{label}<br>%{{customdata[0]}} → %{{customdata[1]}}<br>%{{z:.3f}}<extra></extra>",
                name=label,
            ),
            row=r,
            col=c,
        )
        fig.update_xaxes(tickmode="array", tickvals=idx, ticktext=list(tokens), tickangle=-60, tickfont=small,
                         row=r, col=c)
        fig.update_yaxes(tickmode="array", tickvals=idx, ticktext=list(tokens), autorange="reversed",
                         tickfont=small, row=r, col=c)
    if not title:
        title = "Layer-1 attention (head-averaged" + (", rows renormalised over the input)" if renormalize else ")")
        if changes:
            title += "<br><sup>relative change vs frozen: " + ", ".join(
                f"{lab} {v:.3g}" for lab, v in changes.items()
            ) + "</sup>"
    fig = _layout(fig, title, height=nrows * panel_height + 90)
    fig.update_layout(margin=dict(t=150))
    fig.update_annotations(yshift=8)
    return fig


def latency_bars(lat: Mapping, *, title: str = "", height: int = 340) -> go.Figure:
    """Per-example inference latency (``analysis/latency.json``): a bar at the median over rounds for PT,
    DePT, ADePT and ADePT folded into the embedding table, with every round as a point. The variant that is
    the run itself is marked "(this run)"."""
    models = (lat or {}).get("models") or {}
    if not models:
        return empty_figure("No latency stored.", title, height)
    order = [m for m in VARIANT_LABELS if m in models] + [m for m in models if m not in VARIANT_LABELS]
    variants = lat.get("variants") or {}
    names = [
        VARIANT_LABELS.get(m, m).replace(" ", "<br>")
        + ("<br>(this run)" if (variants.get(m) or {}).get("from_run") else "")
        for m in order
    ]
    colors = [method_color(m.split("_")[0]) for m in order]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[models[m]["median_ms"] for m in order],
            marker=dict(color=colors, pattern_shape=["/" if m.endswith("_folded") else "" for m in order]),
            opacity=0.8,
            name="median over rounds",
            text=[f"{models[m]['median_ms']:.3g} ms" for m in order],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{x}<br>median %{y:.3g} ms<extra></extra>",
        )
    )
    px, py = [], []
    for m, name in zip(order, names):
        for v in models[m].get("rounds_ms", []):
            px.append(name)
            py.append(v)
    fig.add_trace(
        go.Scatter(
            x=px,
            y=py,
            mode="markers",
            name="rounds",
            marker=dict(color="#222", size=7, symbol="circle-open", line=dict(width=1.5)),
            hovertemplate="%{x}<br>round: %{y:.3g} ms<extra></extra>",
        )
    )
    n, reps = lat.get("num_examples"), lat.get("repeats")
    fig.update_yaxes(title_text="ms per example (batch 1)", rangemode="tozero")
    if n and reps:
        fig.update_xaxes(title_text=f"{n} examples × {reps} rounds, {lat.get('threads', 1)} thread(s)")
    return _layout(fig, title, height=height, showlegend=False)  # bars = median, circles = rounds


def top_tokens_frame(top_tokens: Mapping | None, end: str = "largest", scope: str = "seen") -> pd.DataFrame:
    """ADePT's tokens with the largest / smallest offsets (``offset_stats.top_tokens[scope][end]``, scope
    ``"seen"``: tokens of the analysed examples, ``"vocabulary"``: every vocabulary row) as a table:
    ``token, ‖Δ‖, ‖Δ‖/‖e‖`` and ``count`` (seen only). Empty when not stored (DePT, PT)."""
    rows = ((top_tokens or {}).get(scope) or {}).get(end) or []
    cols = ["token", "‖Δ‖", "‖Δ‖/‖e‖"] + (["count"] if any("count" in r for r in rows) else [])
    out = pd.DataFrame(
        [
            {"token": repr(r["token"]), "‖Δ‖": r["offset_norm"], "‖Δ‖/‖e‖": r["relative"], "count": r.get("count")}
            for r in rows
        ],
        columns=["token", "‖Δ‖", "‖Δ‖/‖e‖", "count"],
    )
    return out[cols]
