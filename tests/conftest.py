"""Shared test setup: offline, quiet, and tiny backbones built once per session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

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
