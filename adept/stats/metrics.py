"""Metrics that are not a mean of per-example scores (F1, macro-F1, Matthews, Pearson): the metric itself is
bootstrapped over the examples (and seeds), and a paired difference gets a swap-permutation p-value."""

from __future__ import annotations

import math

import numpy as np

from adept.stats.bootstrap import _bootstrap_text, _rngs, _two_way_bootstrap
from adept.stats.checks import MetricFn, _check_confidence, _check_count, _predictions_2d, _to_array
from adept.stats.permutation import _swap_test


def _metric(metric_fn: MetricFn, preds: np.ndarray, refs: np.ndarray) -> float:
    value = float(metric_fn(preds, refs))
    if not math.isfinite(value):
        raise ValueError(f"metric_fn returned {value} on the full data: it must return a finite number.")
    return value


def metric_interval(metric_fn: MetricFn, predictions, references, *, confidence: float = 0.95,
                    n_boot: int = 2000, seed: int | None = 0) -> dict:
    """One method's metric (F1, macro-F1, Matthews, Pearson ...) with its two-way bootstrap interval.

    ``metric_fn(predictions, references) -> float`` is any callable of the project's form (``adept.tasks``
    metrics; ``functools.partial(macro_f1, num_classes=3)``); it receives numpy arrays (object arrays for
    lists of answers) and is called ``n_boot x seeds`` times. ``predictions``: one sequence per seed
    (a ``(seeds, examples)`` array or a list of per-seed sequences) or a single sequence; ``references``:
    ``(examples,)``, shared by all seeds. The estimate is the mean over seeds of each seed's metric.
    Returns ``value`` (= ``estimate``), ``low``, ``high``, ``se``, ``seed_share``, ``n_seeds``, ``n_examples``,
    ``confidence``, ``method``.
    """
    refs = _to_array(references, "references")
    preds = _predictions_2d(predictions, refs.size, "predictions")
    confidence = _check_confidence(confidence)
    n_boot = _check_count(n_boot, "n_boot")
    S, n = len(preds), refs.size
    t = np.array([_metric(metric_fn, p, refs) for p in preds])

    def replicate(idx: np.ndarray) -> np.ndarray:
        return np.array([[metric_fn(p[row], refs[row]) for p in preds] for row in idx], dtype=float)

    boot = _two_way_bootstrap(t, replicate, n, confidence=confidence, n_boot=n_boot, rng=_rngs(seed)[0])
    return {"value": boot["estimate"], **boot, "n_seeds": S, "n_examples": n, "confidence": confidence,
            "method": _bootstrap_text(S, n, n_boot) + " of the metric"}


def paired_metric_difference(metric_fn: MetricFn, pred_a, pred_b, references, *, confidence: float = 0.95,
                             n_boot: int = 2000, n_perm: int = 1000, seed: int | None = 0) -> dict:
    """``metric(A) - metric(B)`` on the same examples, with its two-way bootstrap interval (the metric itself
    recomputed on every resample, the same examples for both) and a paired swap-permutation p-value.

    ``pred_a``, ``pred_b``: as :func:`metric_interval`'s ``predictions``, the same seeds x examples, seeds
    paired by index. The p-value swaps A's and B's predictions on random examples (every seed at once),
    exact when the ``m`` examples where they differ allow ``2^m <= n_perm``. Cost: ``metric_fn`` is called
    ``2 x seeds x (n_boot + n_perm)`` times. Returns the keys of :func:`paired_difference` (``mean_a`` /
    ``mean_b`` are the two metrics).
    """
    refs = _to_array(references, "references")
    pa = _predictions_2d(pred_a, refs.size, "pred_a")
    pb = _predictions_2d(pred_b, refs.size, "pred_b")
    if len(pa) != len(pb):
        raise ValueError(f"pred_a has {len(pa)} seeds and pred_b {len(pb)}: seeds are paired by index, give both "
                         f"the same seeds.")
    confidence = _check_confidence(confidence)
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    S, n = len(pa), refs.size
    ma = np.array([_metric(metric_fn, p, refs) for p in pa])
    mb = np.array([_metric(metric_fn, p, refs) for p in pb])

    def replicate(idx: np.ndarray) -> np.ndarray:
        return np.array([[metric_fn(x[row], refs[row]) - metric_fn(y[row], refs[row]) for x, y in zip(pa, pb)]
                         for row in idx], dtype=float)

    boot_rng, perm_rng = _rngs(seed)
    boot = _two_way_bootstrap(ma - mb, replicate, n, confidence=confidence, n_boot=n_boot, rng=boot_rng)
    p_examples, how = _swap_test(metric_fn, pa, pb, refs, boot["estimate"], n_perm, perm_rng)
    # As in paired_difference: with seeds, the swap test alone cannot see their spread.
    p = p_examples if S == 1 else max(p_examples, boot["p_boot"])
    test = f"two-sided paired {how}" + ("" if S == 1 else ", or the two-way bootstrap's p-value when larger")
    return {"diff": boot["estimate"], **boot, "p_value": p, "p_examples": p_examples, "mean_a": float(ma.mean()),
            "mean_b": float(mb.mean()), "n_seeds": S, "n_examples": n, "confidence": confidence,
            "method": f"{_bootstrap_text(S, n, n_boot)} of the metric; {test}"}
