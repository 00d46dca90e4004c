"""Shared test setup: offline, quiet, and tiny backbones built once per session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny():
    """``tiny("tiny-llama")`` -> a cached frozen tiny backbone (never mutated by the methods)."""
    from adept.backbones import load_backbone

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load_backbone(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One finished run (ADePT on tiny-llama, 2 steps) in its own store, trained once per session:
    ``(run_id, home, None)``. The store's environment is set only while it trains; a test that reads the run
    sets ``ADEPT_HOME`` and ``MLFLOW_TRACKING_URI`` to ``home`` with its own monkeypatch."""
    from adept.training import train

    home = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADEPT_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
        res = train({"method": "adept", "backbone": "tiny-llama", "task": "rotten-tomatoes", "max_steps": 2,
                     "eval_every": 2, "eval_examples": 8, "test_examples": 8, "batch_size": 4, "warmup_steps": 0,
                     "max_length": 48, "zero_shot": False, "experiment": "analysis-test", "lr_offsets": 0.05},
                    progress=False)
    return res["run_id"], home, None


@pytest.fixture(scope="session")
def _template_db(pytestconfig, tmp_path_factory):
    """An empty, migrated MLflow sqlite file (creating one costs seconds of migrations; copying it costs
    nothing), kept in pytest's cache per MLflow version, or for this session under ``-p no:cacheprovider``."""
    import os
    import shutil

    import mlflow

    from adept import tracking

    cache = getattr(pytestconfig, "cache", None)
    name = f"adept-mlflow-{mlflow.__version__}"
    folder = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    cached = folder / "mlflow.db"
    if not cached.exists():
        build = tmp_path_factory.mktemp("template")
        tracking.get_client(f"sqlite:///{build / 'mlflow.db'}").search_experiments()
        shutil.copy(build / "mlflow.db", cached.with_suffix(".tmp"))
        os.replace(cached.with_suffix(".tmp"), cached)
    return cached


@pytest.fixture()
def store(tmp_path, monkeypatch, _template_db):
    """A fresh store + queue home under tmp_path (MLFLOW_TRACKING_URI, ADEPT_HOME); returns the home. Test
    files with other needs define their own ``store``."""
    import shutil

    home = tmp_path / "mlruns"
    home.mkdir()
    shutil.copy(_template_db, home / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.delenv("ADEPT_MAX_CONCURRENT", raising=False)
    return home
