"""The two-way bootstrap over seeds x examples (the package text explains the estimator) and one method's mean
score with its interval (:func:`mean_interval`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from adept.stats.checks import _CHUNK_CELLS, _check_confidence, _check_count, _scores_2d, _z, t_quantile


def _rngs(seed: int | None) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for the bootstrap and the permutation test (changing n_boot keeps the p-value)."""
    boot, perm = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(boot), np.random.default_rng(perm)


def _example_resamples(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """``n_boot`` resamples of ``n`` example indices (with replacement) in blocks of bounded size."""
    rows = max(1, min(n_boot, _CHUNK_CELLS // n))
    done = 0
    while done < n_boot:
        b = min(rows, n_boot - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def _mean_replicates(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``idx (b, n) -> (b, S)``: every seed's mean of ``x`` over each resample, as counts @ x.T / n."""
    n = x.shape[1]

    def replicate(idx: np.ndarray) -> np.ndarray:
        b = idx.shape[0]
        counts = np.bincount((idx + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n)
        return counts.reshape(b, n).astype(float) @ x.T / n

    return replicate


def _two_way_bootstrap(t: np.ndarray, replicate: Callable[[np.ndarray], np.ndarray], n: int, *,
                       confidence: float, n_boot: int, rng: np.random.Generator) -> dict:
    """The module docstring's two-way bootstrap: ``t`` (S,) per-seed statistics on all examples,
    ``replicate(idx)`` their values on example resamples. Returns estimate, low, high, se, seed_share."""
    S = t.shape[0]
    est = float(t.mean())
    Z = np.concatenate([replicate(idx) for idx in _example_resamples(rng, n, n_boot)])
    if not np.all(np.isfinite(Z)):
        raise ValueError("The statistic is NaN or infinite on some bootstrap resamples (e.g. a metric undefined "
                         "when a resample has one class): make the metric return a number there.")
    X = Z.mean(axis=1) - est
    kappa, Y = 0.0, np.zeros(n_boot)
    if S > 1:
        Y = t[rng.integers(0, S, size=(n_boot, S))].mean(axis=1) - est
        s2 = float(t.var(ddof=1))
        interaction = S / (S - 1) * max(0.0, float(Z.var(axis=0, ddof=1).mean() - Z.mean(axis=1).var(ddof=1)))
        if s2 > 0:
            q = (1 + confidence) / 2
            kappa = math.sqrt(S / (S - 1) * max(0.0, s2 - interaction) / s2) * t_quantile(q, S - 1) / _z(q)
    reps = est + X + kappa * Y
    low, high = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    total = float(reps.var())
    # Two-sided bootstrap p-value of "the statistic is 0": how often the centred replicates reach |est|
    # (+1 correction); with seeds it carries their variance, so it agrees with the interval.
    p_boot = float((np.count_nonzero(np.abs(reps - est) >= abs(est)) + 1) / (n_boot + 1))
    return {"estimate": est, "low": float(low), "high": float(high), "se": math.sqrt(total), "p_boot": p_boot,
            "seed_share": float((kappa * Y).var() / total) if total > 0 else 0.0}


def _bootstrap_text(S: int, n: int, n_boot: int) -> str:
    if S == 1:
        return (f"bootstrap over {n} examples ({n_boot} resamples, percentile interval; one seed: conditional on "
                f"that run, between-seed variance assumed 0)")
    return (f"two-way bootstrap over {S} seeds x {n} examples ({n_boot} resamples, percentile interval, "
            f"seed part variance-corrected with t({S - 1}))")


def mean_interval(scores, *, confidence: float = 0.95, n_boot: int = 2000, seed: int | None = 0) -> dict:
    """One method's mean score over seeds x examples with its two-way bootstrap interval.

    ``scores``: shape ``(examples,)`` or ``(seeds, examples)``. Returns ``mean`` (= ``estimate``, mean over
    seeds of each seed's mean over examples), ``low``, ``high``, ``se``, ``seed_share`` (the share of the
    bootstrap variance from seeds), ``n_seeds``, ``n_examples``, ``confidence``, ``method``.
    """
    x = _scores_2d(scores, "scores")
    confidence = _check_confidence(confidence)
    n_boot = _check_count(n_boot, "n_boot")
    S, n = x.shape
    boot = _two_way_bootstrap(x.mean(axis=1), _mean_replicates(x), n, confidence=confidence, n_boot=n_boot,
                              rng=_rngs(seed)[0])
    return {"mean": boot["estimate"], **boot, "n_seeds": S, "n_examples": n, "confidence": confidence,
            "method": _bootstrap_text(S, n, n_boot)}
