"""The dashboard's look: one colour and label per method, the common layout, and the figure that says why it
is blank. Every other chart module draws with these, so PT, DePT and ADePT look the same on every page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

METHOD_ORDER = ("pt", "dept", "adept")
METHOD_LABELS = {"pt": "PT", "dept": "DePT", "adept": "ADePT"}
METHOD_COLORS = {"pt": "#4C78A8", "dept": "#F58518", "adept": "#54A24B"}
OTHER_COLOR = "#8C8C8C"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")  # seeds of one method
TEMPLATE = "plotly_white"
# Groups that are not methods (group-by a config field): a qualitative palette, method colours left out.
GROUP_PALETTE = ("#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B", "#4C78A8", "#F58518",
                 "#54A24B", "#BAB0AC")


def method_label(method: str) -> str:
    """``"adept"`` -> ``"ADePT"``; unknown names are returned unchanged."""
    return METHOD_LABELS.get(str(method).lower(), str(method))


def method_color(method: str) -> str:
    return METHOD_COLORS.get(str(method).lower(), OTHER_COLOR)


def group_colors(groups) -> dict[str, str]:
    """``group -> colour``: method colours for method groups (PT, DePT, ADePT, or "ADePT · ..."), a palette
    colour per other group in order of first appearance."""
    out: dict[str, str] = {}
    i = 0
    for g in dict.fromkeys(str(g) for g in groups):
        head = g.split(" · ")[0]
        lower = {v.lower(): k for k, v in METHOD_LABELS.items()}.get(head.lower(), head.lower())
        if lower in METHOD_COLORS:
            out[g] = METHOD_COLORS[lower]
        else:
            out[g] = GROUP_PALETTE[i % len(GROUP_PALETTE)]
            i += 1
    return out


def method_rank(method: str) -> tuple[int, str]:
    m = str(method).lower()
    return (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m)


def layout(fig: go.Figure, title: str = "", *, height: int = 360, **kwargs) -> go.Figure:
    """Common look: white template, title top left, legend under the plot (never over the title)."""
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0, xanchor="left") if title else None,
        height=height,
        margin=dict(l=10, r=10, t=45 if title else 15, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0),
        **kwargs,
    )
    # Small numbers as 10⁻⁵ / 2×10⁻⁵, not SI prefixes ("10µ" reads as a unit); the same on colour bars.
    fig.update_xaxes(exponentformat="power")
    fig.update_yaxes(exponentformat="power")
    for trace in fig.data:
        if "colorbar" in trace:
            trace.colorbar.exponentformat = "power"
        elif "marker" in trace and getattr(trace.marker, "showscale", None):  # never add a colour bar
            trace.marker.colorbar.exponentformat = "power"
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
    return layout(fig, title, height=height)


def run_styles(run_ids: Sequence[str], methods: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """``run_id -> (colour, dash)``: colour by method, dash by the run's index within its method."""
    seen: Counter = Counter()
    styles = {}
    for rid in run_ids:
        m = (methods or {}).get(rid, "")
        styles[rid] = (method_color(m), DASHES[seen[m] % len(DASHES)])
        seen[m] += 1
    return styles


def label_lines(
    series: Mapping[str, tuple[Sequence, Sequence[float | None]]],
    methods: Mapping[str, str] | None,
    *,
    mode: str,
    x_name: str,
    y_name: str = "",
) -> list[go.Scatter]:
    """One line per label (label -> (x, y)), styled by :func:`run_styles`; ``None`` values leave gaps. The
    hover reads ``label, <x_name> x, <y_name>y``."""
    styles = run_styles(list(series), methods)
    traces = []
    for label, (x, y) in series.items():
        color, dash = styles[label]
        traces.append(
            go.Scatter(
                x=list(x),
                y=[None if v is None else float(v) for v in y],
                name=label,
                mode=mode,
                line=dict(color=color, dash=dash, width=2),
                hovertemplate=f"{label}<br>{x_name} %{{x}}<br>{y_name}%{{y:.4g}}<extra></extra>",
            )
        )
    return traces
