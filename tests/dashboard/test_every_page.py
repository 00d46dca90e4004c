"""Every page on an empty store and a broken one (messages, never tracebacks), and the sidebar."""

from __future__ import annotations

import math

import pytest

from .helpers import app, errors, figures


@pytest.mark.parametrize("page", [None, "runs", "compare", "offsets", "try_model", "evidence"])
def test_every_page_on_an_empty_store(store, tmp_path, monkeypatch, page):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    at = app(page)
    assert not errors(at)
    if page:
        assert any("No runs in this store yet" in i.value or "No finished" in i.value for i in at.info)
    else:
        assert len(figures(at)) == 1  # the budget table works without any run


def test_unreadable_store_is_an_error_message(store, tmp_path, monkeypatch):
    bad = tmp_path / "not-a-db"
    bad.write_text("this is not sqlite")
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{bad}")
    at = app("runs")
    assert any(e.startswith("Reading the MLflow store") for e in errors(at))


def test_sidebar_names_the_store_and_the_mlflow_ui_command(store):
    at = app()
    uri = f"sqlite:///{store['home']}/mlflow.db"
    assert any(uri in c.value for c in at.sidebar.caption)
    assert any(c.value.startswith(f"mlflow ui --backend-store-uri {uri}") for c in at.sidebar.code)
    assert math.isclose(len(at.sidebar.get("link_button")), 1)
