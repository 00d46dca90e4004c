"""One store for every dashboard test, built once for this package (real tiny runs, see :func:`store`).

The store (package fixture) holds PT / DePT / ADePT x 2 seeds trained for 12 steps on tiny-bert (real
metrics, adapters and timings), one FAILED run, one RUNNING run whose process is a `sleep` we own (so Stop
has something real to signal), and one queued run. Launch tests queue real runs through adept.launcher
with the worker start patched out (for every test here: pages reconcile first, and reconcile restarts a lost
worker when runs are queued), so nothing trains in the background, and stop them again.

The files run in name order on the one store: test_runs.py comes last because its Stop and Re-run tests
cancel the queued run and signal the running one, which the other pages' tests count.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import streamlit as st


@pytest.fixture(scope="package")
def store(tmp_path_factory):
    home = tmp_path_factory.mktemp("app-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADEPT_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
        mp.setenv("ADEPT_MAX_CONCURRENT", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        from adept import tracking
        from app.seed import seed_store

        ids = seed_store(running=True, queued=True)
        # The RUNNING run's "training process" is a sleep we own: Stop may SIGTERM it, never pytest itself.
        sleeper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        tracking.get_client().set_tag(ids["running"][0], tracking.TAG_PID, str(sleeper.pid))
        tracking.get_client().set_tag(
            ids["running"][0], tracking.TAG_PID_START, tracking.process_start_ticks(sleeper.pid) or ""
        )
        try:
            yield {"home": home, **ids}
        finally:
            sleeper.kill()
            sleeper.wait()


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    """enqueue() creates real SCHEDULED runs and queue files, but no worker process starts them (neither does
    the reconcile every page runs first, which restarts a lost worker when runs are queued)."""
    from adept import launcher

    monkeypatch.setattr(launcher, "ensure_worker", lambda *a, **k: None)
