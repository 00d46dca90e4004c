"""Splitting helpers shared by every task source: a seeded stratified train / validation / test split, the
``max_examples`` cap, and the one-line split sizes of a task description."""

from __future__ import annotations

import random
from collections.abc import Sequence

from adept.tasks.task import SPLITS, Example


def stratified_split(labels: Sequence, seed: int, fractions=(0.1, 0.1)) -> dict[str, list[int]]:
    """Indices for train / validation / test: per class (in sorted class order) a seeded shuffle, then
    ``round(n * f)`` for validation and for test; the rest is train. Each split is then shuffled."""
    rng = random.Random(seed)
    by_class: dict = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for y in sorted(by_class):
        idx = by_class[y]
        rng.shuffle(idx)
        n_val, n_test = (int(len(idx) * f + 0.5) for f in fractions)
        out["test"] += idx[:n_test]
        out["validation"] += idx[n_test:n_test + n_val]
        out["train"] += idx[n_test + n_val:]
    for s in SPLITS:
        rng.shuffle(out[s])
    return out


def cap_examples(examples: list[Example], max_examples: int | None, seed: int) -> list[Example]:
    """At most ``max_examples``: a seeded random subset, kept in its original order."""
    if max_examples is None or len(examples) <= max_examples:
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), max_examples))
    return [examples[i] for i in keep]


def split_sizes(splits: dict[str, list]) -> str:
    """``"train 8 / validation 1 / test 1"`` (with thousands separators)."""
    return " / ".join(f"{s} {len(splits[s]):,}" for s in SPLITS)
