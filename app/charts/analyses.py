"""The stored analyses of a run (``adept.analysis.analyze_run``'s JSON, see docs/analyses.md): the pilot
experiment, offset-size histograms, the offset profile over the input lengths, layer-1 attention maps,
inference latency and the tokens with the largest / smallest offsets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.charts.style import empty_figure, label_lines, layout, method_color, method_label, method_rank

VARIANT_LABELS = {"pt": "PT", "dept": "DePT", "adept": "ADePT", "adept_folded": "ADePT folded",
                  "pt_short": "PT, ADePT's l"}
PILOT_COLUMNS = ["run_id", "label", "method", "padding_side", "k", "value"]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band(x: list, upper: list, lower: list, color: str, name: str, group: str) -> go.Scatter:
    """A filled band between ``upper`` and ``lower`` over ``x`` (no legend entry; grouped with its line)."""
    return go.Scatter(x=x + x[::-1], y=upper + lower[::-1], fill="toself", fillcolor=_rgba(color, 0.18),
                      mode="lines", line=dict(width=0), name=name, legendgroup=group, showlegend=False,
                      hoverinfo="skip")


def pilot_frame(pilots: Mapping[str, Mapping], labels: Mapping[str, str] | None = None,
                metric: str | None = None) -> pd.DataFrame:
    """Long format of stored pilot experiments (``run_id -> analysis/pilot.json``): one row per run, padding side
    and k, with the primary metric as ``value``. Columns :data:`PILOT_COLUMNS`."""
    rows = []
    for rid, pilot in pilots.items():
        name = metric or pilot["metric"]
        for side, metrics in pilot["results"].items():
            for k, v in zip(pilot["ks"], metrics.get(name, [])):
                rows.append((rid, (labels or {}).get(rid, rid[:8]), pilot["method"], side, int(k), v))
    return pd.DataFrame(rows, columns=PILOT_COLUMNS)


def pilot_by_k(
    pilot: pd.DataFrame,
    *,
    metric: str = "metric",
    padding_side: str | None = None,
    bands: Mapping[str, Sequence[Mapping]] | None = None,
    title: str = "",
    height: int = 380,
) -> go.Figure:
    """The pilot experiment (docs/analyses.md, section 4): test metric against k, the tokens prepended at test
    time only.

    ``pilot``: long frame ``run_id, method, padding_side, k, value`` (optional ``label``), e.g.
    :func:`pilot_frame`. Per method a mean line over its runs, and every run as a marker. The band: with
    ``bands`` (method -> ``[{"k", "low", "high"}]``, :func:`adept.analysis.pilot_stats.bands`) the bootstrap
    interval over seeds x examples; without, ±std over runs (sample std, when a method has 2+ runs).
    ``padding_side`` keeps only that side's rows."""
    df = pilot
    if padding_side is not None and "padding_side" in df:
        df = df[df["padding_side"] == padding_side]
    df = df.dropna(subset=["value"]) if not df.empty else df
    if df.empty:
        return empty_figure("No stored pilot experiment for these runs.", title, height)
    fig = go.Figure()
    for method in sorted(df["method"].unique(), key=method_rank):
        part = df[df["method"] == method]
        color, name = method_color(method), method_label(method)
        g = part.groupby("k")["value"]
        stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()}).sort_index()
        ks = stats.index.tolist()
        n_runs = part["run_id"].nunique()
        band = (bands or {}).get(method)
        if band:
            lo = {int(b["k"]): b["low"] for b in band}
            hi = {int(b["k"]): b["high"] for b in band}
            band_ks = [k for k in ks if k in lo]
            fig.add_trace(_band(band_ks, [hi[k] for k in band_ks], [lo[k] for k in band_ks], color,
                                f"{name} 95% interval", method))
        elif n_runs > 1:
            std = stats["std"].fillna(0.0)
            fig.add_trace(_band(ks, (stats["mean"] + std).tolist(), (stats["mean"] - std).tolist(), color,
                                f"{name} ± std", method))
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
    return layout(fig, title, height=height)


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
    return layout(fig, title, height=height, barmode="overlay", bargap=0)


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
    for trace in label_lines(profiles, methods, mode="lines", x_name="position", y_name="‖Δ‖ "):
        fig.add_trace(trace, secondary_y=False)
    fig.update_xaxes(title_text="position j  /  input length (tokens)")
    fig.update_yaxes(title_text="mean ‖Δ‖ at position j", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="inputs", rangemode="tozero", showgrid=False, tickmode="auto", secondary_y=True)
    return layout(fig, title, height=height, bargap=0.1)


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
    fig = layout(fig, title, height=nrows * panel_height + 90)
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
    return layout(fig, title, height=height, showlegend=False)  # bars = median, circles = rounds


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
