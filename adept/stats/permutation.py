"""Paired permutation tests: the sign-flip test on per-example differences and the swap test for a metric."""

from __future__ import annotations

import numpy as np

from adept.stats.checks import _CHUNK_CELLS, EXACT_MAX, MetricFn, _check_count


def sign_flip_p_value(differences, *, n_perm: int = 10_000, seed: int | None = 0) -> tuple[float, str]:
    """Two-sided paired sign-flip test of ``H0: d_j symmetric about 0`` with ``T = |mean_j d_j|``.

    ``differences``: per-example paired differences ``d_j`` (1-D). Exact over all ``2^m`` sign patterns of the
    ``m`` nonzero ``d_j`` when ``m <= 16`` (``p = #{|T*| >= |T|} / 2^m``), else ``n_perm`` random flips with the
    +1 correction ``p = (#{|T*| >= |T|} + 1) / (n_perm + 1)``. Returns ``(p, how)``, ``how`` naming the branch.
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"differences must be a non-empty 1-D array, got shape {d.shape}.")
    if not np.all(np.isfinite(d)):
        raise ValueError("differences contain NaN or infinite values.")
    n_perm = _check_count(n_perm, "n_perm")
    return _sign_flip(d, n_perm, np.random.default_rng(seed))


def _sign_flip(d: np.ndarray, n_perm: int, rng: np.random.Generator) -> tuple[float, str]:
    n = d.size
    observed = abs(d.sum())
    # ties: sums equal up to rounding count as "at least as extreme"
    thresh = observed - 1e-9 * max(float(np.abs(d).sum()), 1e-300)
    nz = d[d != 0]
    m = nz.size
    if m == 0:
        return 1.0, "exact sign-flip test (all differences are 0)"
    if m <= EXACT_MAX:
        bits = (np.arange(2 ** m)[:, None] >> np.arange(m)[None, :]) & 1
        sums = np.abs((1 - 2 * bits) @ nz)
        return float(np.mean(sums >= thresh)), f"exact sign-flip test ({2 ** m} patterns)"
    count, done, total = 0, 0, float(d.sum())
    rows = max(1, min(n_perm, _CHUNK_CELLS // n))
    while done < n_perm:
        b = min(rows, n_perm - done)
        # random bits, 1 = flip: sum_j eps_j d_j = sum_j d_j - 2 sum_{flipped} d_j
        flips = np.unpackbits(np.frombuffer(rng.bytes(b * ((n + 7) // 8)), dtype=np.uint8).reshape(b, -1),
                              axis=1, count=n)
        count += int(np.count_nonzero(np.abs(total - 2.0 * (flips.astype(float) @ d)) >= thresh))
        done += b
    return (count + 1) / (n_perm + 1), f"sign-flip test ({n_perm} random flips)"


def _swap_test(metric_fn: MetricFn, pa: list[np.ndarray], pb: list[np.ndarray], refs: np.ndarray, observed: float,
               n_perm: int, rng: np.random.Generator) -> tuple[float, str]:
    """Two-sided paired permutation test for a metric difference: swap A's and B's predictions on each example
    (all seeds at once); exact over the ``m`` examples where they differ when ``2^m <= n_perm``."""
    n = refs.size

    def stat(swap: np.ndarray) -> float:
        vals = [metric_fn(np.where(swap, b_s, a_s), refs) - metric_fn(np.where(swap, a_s, b_s), refs)
                for a_s, b_s in zip(pa, pb)]
        return abs(float(np.mean(vals)))

    thresh = abs(observed) - 1e-9 * max(abs(observed), 1.0)
    differ = np.flatnonzero(np.any([a_s != b_s for a_s, b_s in zip(pa, pb)], axis=0))
    m = differ.size
    if m == 0:
        return 1.0, "exact swap test (the predictions are identical)"
    if 2 ** m <= n_perm:
        count = 0
        for pattern in range(2 ** m):
            swap = np.zeros(n, dtype=bool)
            swap[differ] = (pattern >> np.arange(m)) & 1
            count += stat(swap) >= thresh
        return count / 2 ** m, f"exact swap test ({2 ** m} patterns)"
    count = sum(stat(rng.integers(0, 2, size=n).astype(bool)) >= thresh for _ in range(n_perm))
    return (count + 1) / (n_perm + 1), f"swap permutation test ({n_perm} random swaps)"
