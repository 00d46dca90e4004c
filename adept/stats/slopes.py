"""Slopes for the pilot experiment: the score against k prepended tokens, per method and as a paired difference."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from adept.stats.bootstrap import mean_interval
from adept.stats.checks import SLOPE_AGAINST, _check_confidence, _check_count, _scores_2d
from adept.stats.paired import _paired


def _slope_contributions(scores_by_k: Mapping, against: str, name: str) -> tuple[list[float], np.ndarray, np.ndarray]:
    """``(ks, g, means_by_k)``: ``g[s, j] = sum_k w_k y_k[s, j]``, ``w_k = (x_k - xbar) / sum (x_k - xbar)^2``."""
    if against not in SLOPE_AGAINST:
        raise ValueError(f"against must be one of {SLOPE_AGAINST}, got {against!r}.")
    if not isinstance(scores_by_k, Mapping) or len(scores_by_k) < 2:
        raise ValueError(f"{name} must map at least two values of k to per-example scores.")
    keys = list(scores_by_k)
    try:
        values = [float(k) for k in keys]  # JSON keys may be strings: "16" sorts as 16, not before "2"
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: the keys must be numbers k >= 0, got {keys}.") from err
    if not all(math.isfinite(v) and v >= 0 for v in values) or len(set(values)) != len(values):
        raise ValueError(f"{name}: the keys must be distinct numbers k >= 0, got {keys}.")
    order = sorted(range(len(keys)), key=values.__getitem__)
    kv = np.array([values[i] for i in order])
    x = kv if against == "k" else np.log2(1 + kv)
    ys = [_scores_2d(scores_by_k[keys[i]], f"{name}[{keys[i]!r}]") for i in order]
    if len({y.shape for y in ys}) != 1:
        raise ValueError(f"{name}: every k needs the same seeds x examples, got shapes "
                         f"{[y.shape for y in ys]} for k = {kv.tolist()}.")
    w = (x - x.mean()) / float(((x - x.mean()) ** 2).sum())
    g = np.tensordot(w, np.stack(ys), axes=1)
    return kv.tolist(), g, np.array([float(y.mean()) for y in ys])


def slope(scores_by_k: Mapping, *, against: str = "k", confidence: float = 0.95, n_boot: int = 2000,
          seed: int | None = 0) -> dict:
    """Least-squares slope of the mean score against ``k`` (or ``log2(1+k)``) with its two-way bootstrap
    interval, the same example resample for every ``k`` (they are the same test examples).

    ``scores_by_k``: ``{k: scores}``, scores ``(examples,)`` or ``(seeds, examples)``, the same shape for every
    ``k`` (the same seeds and examples). Returns ``slope`` (score units per unit of ``against``; =
    ``estimate``), ``low``, ``high``, ``intercept``, ``ks``, ``means_by_k``, ``against``, ``se``, ``seed_share``,
    ``n_seeds``, ``n_examples``, ``confidence``, ``method``.
    """
    ks, g, means = _slope_contributions(scores_by_k, against, "scores_by_k")
    out = mean_interval(g, confidence=confidence, n_boot=n_boot, seed=seed)
    out.pop("mean")
    x = np.array(ks) if against == "k" else np.log2(1 + np.array(ks))
    return {"slope": out["estimate"], **out, "intercept": float(means.mean() - out["estimate"] * x.mean()),
            "ks": ks, "means_by_k": means.tolist(), "against": against,
            "method": f"least-squares slope against {against}; {out['method']}"}


def slope_difference(scores_by_k_a: Mapping, scores_by_k_b: Mapping, *, against: str = "k",
                     confidence: float = 0.95, n_boot: int = 2000, n_perm: int = 10_000,
                     seed: int | None = 0) -> dict:
    """``slope(A) - slope(B)`` (e.g. DePT minus ADePT in the pilot) with its two-way bootstrap interval and a
    paired sign-flip p-value on the per-example slope contributions (seeds and examples paired by index).

    Both mappings need the same ``k`` values and the same shape. Returns the keys of
    :func:`paired_difference` (``diff`` per unit of ``against``) plus ``slope_a``, ``slope_b``, ``ks``,
    ``against``.
    """
    ks_a, ga, _ = _slope_contributions(scores_by_k_a, against, "scores_by_k_a")
    ks_b, gb, _ = _slope_contributions(scores_by_k_b, against, "scores_by_k_b")
    if ks_a != ks_b:
        raise ValueError(f"Both methods need the same k values, got {ks_a} and {ks_b}.")
    if ga.shape != gb.shape:
        raise ValueError(f"Both methods need the same seeds x examples, got {ga.shape} and {gb.shape}.")
    confidence = _check_confidence(confidence)
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    out = _paired(ga - gb, confidence=confidence, n_boot=n_boot, n_perm=n_perm, seed=seed)
    return {**out, "slope_a": float(ga.mean()), "slope_b": float(gb.mean()), "ks": ks_a, "against": against,
            "method": f"difference of least-squares slopes against {against}; {out['method']}"}
