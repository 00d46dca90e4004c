"""What a run's offsets do, computed live from its adapter: offset size per token of one input, by position,
how many tokens share one DePT position, and a 2-D projection of the offsets coloured by token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from app.charts.style import empty_figure, label_lines, layout, method_color, method_label

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
    return layout(fig, title, height=height)


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
    return layout(fig, title, height=height or 140 + 45 * len(labels))


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
    fig = go.Figure(label_lines(series, methods, mode="lines+markers" if markers else "lines", x_name=x_title))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return layout(fig, title, height=height)


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
    return layout(fig, title, height=height)


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
    fig = layout(fig, title, height=height)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02))
    return fig
