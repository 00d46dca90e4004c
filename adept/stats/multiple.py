"""Multiple comparisons: Holm-Bonferroni adjusted p-values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    With ``p_(1) <= ... <= p_(m)``: ``p~_(i) = max_{k <= i} min(1, (m - k + 1) p_(k))`` (monotone in the sorted
    order, capped at 1). Reject ``H_(i)`` at level alpha when ``p~_(i) <= alpha``; controls the family-wise
    error rate. An empty input gives an empty list.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a flat sequence, got shape {p.shape}.")
    if p.size == 0:
        return []
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1] (no NaN), got {p.tolist()}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]
