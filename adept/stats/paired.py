"""Paired differences of per-example scores: interval (two-way bootstrap) and p-value (sign-flip test)."""

from __future__ import annotations

import numpy as np

from adept.stats.bootstrap import _bootstrap_text, _mean_replicates, _rngs, _two_way_bootstrap
from adept.stats.checks import _check_confidence, _check_count, _pair_2d
from adept.stats.permutation import _sign_flip


def _paired(d: np.ndarray, *, confidence: float, n_boot: int, n_perm: int, seed: int | None) -> dict:
    """Interval and p-value of ``mean(d)`` for validated paired differences ``d`` (S, n)."""
    S, n = d.shape
    boot_rng, perm_rng = _rngs(seed)
    boot = _two_way_bootstrap(d.mean(axis=1), _mean_replicates(d), n, confidence=confidence, n_boot=n_boot,
                              rng=boot_rng)
    p_examples, how = _sign_flip(d.mean(axis=0), n_perm, perm_rng)
    if S == 1:
        p, test = p_examples, f"two-sided paired {how} on per-example differences"
    else:
        # The sign flip over examples treats these S training runs as fixed: it cannot see seed-to-seed spread
        # and would call a difference that a new seed may reverse "significant". Use the larger of it and the
        # two-way bootstrap's p-value, which carries the seed variance (and so agrees with the interval).
        p = max(p_examples, boot["p_boot"])
        test = (f"two-sided p = the larger of the two-way bootstrap's and a paired {how} on per-example "
                f"differences averaged over seeds (p_examples)")
    return {"diff": boot["estimate"], **boot, "p_value": p, "p_examples": p_examples, "n_seeds": S,
            "n_examples": n, "confidence": confidence, "method": f"{_bootstrap_text(S, n, n_boot)}; {test}"}


def paired_difference(a, b, *, confidence: float = 0.95, n_boot: int = 2000, n_perm: int = 10_000,
                      seed: int | None = 0) -> dict:
    """``mean(a) - mean(b)`` for two methods' per-example scores on the same examples, with its two-way
    bootstrap interval and a paired sign-flip p-value (module docstring).

    ``a``, ``b``: the same shape, ``(examples,)`` or ``(seeds, examples)``; column ``j`` is the same test
    example in both, row ``i`` of ``a`` is paired with row ``i`` of ``b`` (seeds paired by index). Returns
    ``diff`` (in the scores' units; = ``estimate``), ``low``, ``high``, ``p_value``, ``mean_a``, ``mean_b``,
    ``se``, ``seed_share``, ``n_seeds``, ``n_examples``, ``confidence``, ``method``.
    """
    a2, b2 = _pair_2d(a, b)
    confidence = _check_confidence(confidence)
    n_boot, n_perm = _check_count(n_boot, "n_boot"), _check_count(n_perm, "n_perm")
    out = _paired(a2 - b2, confidence=confidence, n_boot=n_boot, n_perm=n_perm, seed=seed)
    return {**out, "mean_a": float(a2.mean()), "mean_b": float(b2.mean())}
