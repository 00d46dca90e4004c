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
