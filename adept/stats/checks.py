"""Input checks and quantiles shared by the statistics: scores as (seeds, examples) arrays, predictions per
seed, confidence / counts / probabilities, the normal and Student-t quantiles."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from statistics import NormalDist

import numpy as np

MetricFn = Callable[[np.ndarray, np.ndarray], float]

EXACT_MAX = 16  # sign-flip test: enumerate all 2^m patterns when m nonzero differences <= this
_CHUNK_CELLS = 1 << 22  # bootstrap chunk: resamples x examples cells per block (bounded memory)
SLOPE_AGAINST = ("k", "log2(1+k)")


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0):
        raise ValueError(f"confidence must be strictly between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    return c


def _check_count(value: int, name: str, minimum: int = 100) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_probability(value: float, name: str) -> float:
    v = float(value)
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}.")
    return v


def _scores_2d(x, name: str) -> np.ndarray:
    """Per-example scores as a float ``(seeds, examples)`` array; ``(examples,)`` becomes one seed."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric per-example scores, shape (examples,) or (seeds, examples).") \
            from err
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (examples,) or (seeds, examples), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: it needs at least one seed and one example.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite scores: drop or fix those examples first.")
    return arr


def _pair_2d(a, b) -> tuple[np.ndarray, np.ndarray]:
    a2, b2 = _scores_2d(a, "a"), _scores_2d(b, "b")
    if a2.shape != b2.shape:
        raise ValueError(f"a and b must have the same shape (same seeds, same examples in the same order), "
                         f"got {np.shape(a)} and {np.shape(b)}.")
    return a2, b2


def _to_array(values, name: str) -> np.ndarray:
    """A 1-D array of per-example predictions or references; elements that are lists (several gold answers)
    stay whole in an object array."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        arr = values
    else:
        seq = list(values)
        arr = None
        try:
            arr = np.asarray(seq)
        except ValueError:
            pass
        if arr is None or arr.ndim != 1:
            arr = np.empty(len(seq), dtype=object)
            for i, v in enumerate(seq):
                arr[i] = v
    if arr.size == 0:
        raise ValueError(f"{name} is empty: it needs at least one example.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _is_row(v) -> bool:
    return isinstance(v, list | tuple | np.ndarray) and not isinstance(v, str | bytes)


def _predictions_2d(predictions, n: int, name: str) -> list[np.ndarray]:
    """Predictions as one array per seed: a 2-D array or a sequence of per-seed sequences = seeds x examples,
    anything else one seed."""
    if isinstance(predictions, np.ndarray) and predictions.ndim == 2:
        rows = [predictions[i] for i in range(predictions.shape[0])]
    else:
        seq = list(predictions)
        rows = seq if seq and all(_is_row(v) for v in seq) else [seq]
    if not rows:
        raise ValueError(f"{name} is empty.")
    out = [_to_array(r, name) for r in rows]
    for i, r in enumerate(out):
        if len(r) != n:
            raise ValueError(f"{name} seed {i} has {len(r)} predictions for {n} references: the same test "
                             f"examples, in the same order, are needed.")
    return out


def _z(p: float) -> float:
    """Standard normal quantile ``Phi^{-1}(p)``."""
    return NormalDist().inv_cdf(p)


@lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """Student-t quantile ``t_df^{-1}(p)`` (numpy only). Closed forms for df = 1, 2; otherwise bisection on
    ``F(x) = 1/2 + int_0^x c (1 + u^2/df)^{-(df+1)/2} du``, ``c = Gamma((df+1)/2) / (sqrt(df pi) Gamma(df/2))``,
    integrated by Simpson's rule (error < 1e-9 for df >= 3)."""
    p = _check_probability(p, "p")
    if int(df) != df or df < 1:
        raise ValueError(f"df must be a positive integer, got {df!r}.")
    df = int(df)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(x: float) -> float:
        u = np.linspace(0.0, x, 4001)
        f = c * (1 + u * u / df) ** (-(df + 1) / 2)
        h = x / 4000
        return 0.5 + h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2
