"""Downloads under every Compare chart: the chart's data as CSV (one row per point, read from the figure's
own traces, so the file holds exactly what is drawn) and the chart itself as a self-contained HTML file.

PNG: plotly's ``to_image`` needs the kaleido package, which this install does not have, so there is no PNG
button here; the camera icon in each chart's toolbar (top right, on hover) saves a PNG in the browser.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

PNG_NOTE = "PNG: the camera icon in the chart's toolbar (top right, on hover)."


def figure_frame(fig: go.Figure) -> pd.DataFrame:
    """Every point of every trace: ``trace, x, y`` (plus ``label`` for traces with per-point text);
    parallel coordinates give one column per axis."""
    rows = []
    for trace in fig.data:
        if trace.type == "parcoords":
            return pd.DataFrame({d["label"]: list(d["values"]) for d in trace.dimensions})
        xs = list(trace.x) if getattr(trace, "x", None) is not None else []
        ys = list(trace.y) if getattr(trace, "y", None) is not None else []
        texts = getattr(trace, "text", None)
        texts = list(texts) if isinstance(texts, (list, tuple)) else [None] * max(len(xs), len(ys))
        for i in range(max(len(xs), len(ys))):
            rows.append({"trace": trace.name or "", "x": xs[i] if i < len(xs) else None,
                         "y": ys[i] if i < len(ys) else None, "label": texts[i] if i < len(texts) else None})
    df = pd.DataFrame(rows, columns=["trace", "x", "y", "label"])
    return df.drop(columns="label") if df["label"].isna().all() else df


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def html_bytes(fig: go.Figure) -> bytes:
    """The figure as one HTML file that works offline (plotly.js inlined)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def buttons(fig: go.Figure, name: str, key: str, data: pd.DataFrame | None = None) -> None:
    """CSV and HTML download buttons for ``fig`` (``data``: a better CSV than the traces, e.g. raw points)."""
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="center")
    # Callables: the files are built when the button is clicked, not on every redraw (the HTML is ~5 MB).
    c1.download_button("CSV", lambda: csv_bytes(data if data is not None else figure_frame(fig)),
                       f"{slug(name)}.csv", "text/csv", key=f"{key}.csv", icon=":material/download:",
                       width="stretch", on_click="ignore", help=f"The data of “{name}”, one row per point.")
    c2.download_button("HTML", lambda: html_bytes(fig), f"{slug(name)}.html", "text/html", key=f"{key}.html",
                       icon=":material/download:", width="stretch", on_click="ignore",
                       help="The interactive chart as one file (works offline).")
    c3.caption(PNG_NOTE)
