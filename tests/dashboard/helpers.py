"""What the dashboard tests share: running the app under AppTest and reading what it drew."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
TIMEOUT = 180


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def figure(at: AppTest, title: str) -> dict:
    found = [f for f in figures(at) if (f["layout"].get("title") or {}).get("text") == title]
    assert found, (
        f"no figure titled {title!r}: {[(f['layout'].get('title') or {}).get('text') for f in figures(at)]}"
    )
    return found[0]


def runs_df():
    from adept import tracking

    return tracking.runs_dataframe()


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first st.dataframe on the page that has ``column`` (AppTest does not expose their keys)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no dataframe with column {column!r}"
    return found[0]


def errors(at) -> list[str]:
    return [e.value for e in at.error]
