"""A fresh store for every reliability test (the helpers are in helpers.py)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture()
def store(tmp_path, monkeypatch, _template_db):
    """A fresh store + queue home (``MLFLOW_TRACKING_URI``, ``ADEPT_HOME``) under tmp_path; returns the home.
    ``ADEPT_THREADS=1`` so that a run trained here and one trained in a child process compute the same
    floats."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(_template_db, home / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("ADEPT_THREADS", "1")
    monkeypatch.delenv("ADEPT_MAX_CONCURRENT", raising=False)
    return home
