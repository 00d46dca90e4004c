"""Statistics for comparing methods over seeds x test examples: intervals, p-values, power, slopes.

numpy only (no scipy). Every result is a plain ``dict`` of Python numbers and short strings, ready for
MLflow, JSON or a Streamlit table; :func:`verdict` turns a difference into words.

**Data.** A method's per-example scores ``x[s, j]`` (1/0 correctness, a token F1, a squared error ...)
for seed ``s = 1..S`` (training runs) and test example ``j = 1..n``, shape ``(n,)`` (one seed) or
``(S, n)``. Seeds and examples are *crossed*: every seed is scored on the same ``n`` test examples, in
the same order. Two methods are compared on the same examples (column ``j`` of ``a`` and of ``b`` is the
same example) and their seeds are **paired by index** (row ``i`` of ``a`` with row ``i`` of ``b``); when
the seeds are unrelated training runs, any pairing is fine, the difference of two means does not depend
on it. The estimand is the mean over the population of training runs and test examples; the estimate is
``theta = mean_s t_s`` with ``t_s`` the seed's statistic on all examples (its mean score, its metric,
``mean(a_s) - mean(b_s)`` ...).

**Variance over seeds x examples.** The two-way random-effects model ``x[s, j] = theta + u_s + v_j + e_sj``
(seed effect, example effect, seed-by-example interaction, e.g. the examples that flip between runs) gives

    Var(theta_hat) = sigma_u^2 / S + sigma_v^2 / n + sigma_e^2 / (S n).

**Two-way bootstrap** (all intervals here). Draw ``B`` resamples of the examples, ``n`` indices with
replacement, the *same* indices for every seed, for both methods of a pair and for every ``k`` of a slope
(so every pairing is kept), and ``B`` resamples of the seeds, ``S`` indices with replacement. Then

    X_b = mean_s T_s(J*_b) - theta_hat                        (examples: ~ sigma_v^2/n + sigma_e^2/(S n))
    Y_b = mean_{s in I*_b} t_s - theta_hat                     (seeds: ~ (S-1)/S * s_t^2 / S)
    theta*_b = theta_hat + X_b + kappa Y_b
    kappa = t_{S-1}(q) / z(q) * sqrt(S/(S-1) * max(0, s_t^2 - sigma_e^2/n) / s_t^2),   q = (1 + confidence)/2

with ``s_t^2`` the sample variance (ddof 1) of the ``t_s`` (expected ``sigma_u^2 + sigma_e^2/n``) and
``sigma_e^2/n = S/(S-1) * (mean_s Var_b T_s(J*) - Var_b mean_s T_s(J*))`` from the same resamples. The
interval is the percentile interval of ``theta*_b``: ``(1-confidence)/2`` and ``(1+confidence)/2``.

Why not simply recompute the mean on the resampled seeds x examples (the "pigeonhole" bootstrap, Owen
2007)? It counts the interaction up to three times and the seed part (S-1)/S times too little; with
Bernoulli scores, where seed-to-seed churn is large, its 95% intervals covered the truth 97-100% of the
time in simulation (3-5 seeds x 300-400 examples). Resampling examples independently inside each seed
is wrong the other way: the same test examples in every seed make ``sigma_v^2`` count S times too
little. ``kappa`` removes the interaction's second count from the seed part, undoes the (S-1)/S plug-in
shrinkage, and widens the seed part by ``t_{S-1}/z`` because ``sigma_u^2`` from S seeds has S-1 degrees
of freedom (3 seeds: t_2 = 4.30 against 1.96). In simulation: without that factor 3-seed intervals
covered ~87% when seeds dominate the variance, with it 90-94%, and 94-98% when seeds do not dominate.
Few seeds stay the weak point: with 2-3 seeds and a dominant seed variance expect ~90% coverage from a
95% interval; ``seed_share`` in the result says how much of the bootstrap variance is the seeds'.
With one seed there is no seed part: the interval is conditional on that training run (it assumes zero
between-seed variance), and the method text says so.

**p-values** test ``H0: the two methods are exchangeable on each example``: a two-sided paired sign-flip
permutation test on ``d_j = mean_s (a[s, j] - b[s, j])`` with statistic ``|mean_j d_j|``. With ``m <= 16``
nonzero ``d_j`` all ``2^m`` sign patterns are enumerated (exact ``p = #{|T*| >= |T|} / 2^m``); otherwise
``n_perm`` random flips give ``p = (#{|T*| >= |T|} + 1) / (n_perm + 1)``. For a metric the two methods'
predictions are swapped per example (in every seed at once). The test is conditional on the trained runs
(it does not see seed-to-seed variation), so with few seeds a small p may come with an interval that
includes 0; :func:`verdict` then reports no detectable difference.

**Power.** From the ANOVA of ``d[s, j] = a - b``: ``MS_S = n sum_s (d_s. - d..)^2/(S-1)``,
``MS_J = S sum_j (d_.j - d..)^2/(n-1)``, ``MS_E = sum (d_sj - d_s. - d_.j + d..)^2/((S-1)(n-1))`` give
``sigma_e^2 = MS_E``, ``sigma_u^2 = max(0, (MS_S - MS_E)/n)``, ``sigma_v^2 = max(0, (MS_J - MS_E)/S)``, and
(normal approximation, two-sided level ``alpha``)

    MDD = (z_{1-alpha/2} + z_{power}) * sqrt(sigma_u^2/S + sigma_v^2/n + sigma_e^2/(S n)).

With one seed ``sigma_v^2 + sigma_e^2 = Var_j(d_j)`` (ddof 1) and ``sigma_u^2`` is assumed 0. The number
of seeds needed for a difference ``delta`` (same ``n``) is the smallest ``S'`` with
``sigma_u^2/S' + sigma_v^2/n + sigma_e^2/(S' n) <= (delta / (z_{1-alpha/2} + z_{power}))^2``.

**Slopes** (the pilot: test score against ``k`` tokens prepended at test time). The least-squares slope
of the mean score against ``x_k`` (``k`` by default, or ``log2(1 + k)``) is linear in the scores:
``beta = sum_k w_k ybar_k`` with ``w_k = (x_k - xbar) / sum_k (x_k - xbar)^2``. So each seed x example has a
slope contribution ``g[s, j] = sum_k w_k y_k[s, j]``, ``beta = mean(g)``, and a slope (a slope difference)
is a mean (a paired difference) of ``g``: same bootstrap, same test, the same examples for every ``k``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from statistics import NormalDist

import numpy as np

__all__ = [
    "holm",
    "mean_interval",
    "metric_interval",
    "minimum_detectable_difference",
    "paired_difference",
    "paired_metric_difference",
    "seeds_needed",
    "sign_flip_p_value",
    "slope",
    "slope_difference",
    "t_quantile",
    "variance_components",
    "verdict",
]

MetricFn = Callable[[np.ndarray, np.ndarray], float]

EXACT_MAX = 16  # sign-flip test: enumerate all 2^m patterns when m nonzero differences <= this
_CHUNK_CELLS = 1 << 22  # bootstrap chunk: resamples x examples cells per block (bounded memory)
SLOPE_AGAINST = ("k", "log2(1+k)")


# --------------------------------------------------------------------------------------------------
# Validation


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


# --------------------------------------------------------------------------------------------------
# Quantiles


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


# --------------------------------------------------------------------------------------------------
# The two-way bootstrap engine


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
    return {"estimate": est, "low": float(low), "high": float(high), "se": math.sqrt(total),
            "seed_share": float((kappa * Y).var() / total) if total > 0 else 0.0}


def _bootstrap_text(S: int, n: int, n_boot: int) -> str:
    if S == 1:
        return (f"bootstrap over {n} examples ({n_boot} resamples, percentile interval; one seed: conditional on "
                f"that run, between-seed variance assumed 0)")
    return (f"two-way bootstrap over {S} seeds x {n} examples ({n_boot} resamples, percentile interval, "
            f"seed part variance-corrected with t({S - 1}))")


# --------------------------------------------------------------------------------------------------
# Permutation tests


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


# --------------------------------------------------------------------------------------------------
# Means and paired differences


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


def _paired(d: np.ndarray, *, confidence: float, n_boot: int, n_perm: int, seed: int | None) -> dict:
    """Interval and p-value of ``mean(d)`` for validated paired differences ``d`` (S, n)."""
    S, n = d.shape
    boot_rng, perm_rng = _rngs(seed)
    boot = _two_way_bootstrap(d.mean(axis=1), _mean_replicates(d), n, confidence=confidence, n_boot=n_boot,
                              rng=boot_rng)
    p, how = _sign_flip(d.mean(axis=0), n_perm, perm_rng)
    return {"diff": boot["estimate"], **boot, "p_value": p, "n_seeds": S, "n_examples": n,
            "confidence": confidence,
            "method": f"{_bootstrap_text(S, n, n_boot)}; two-sided paired {how} on per-example differences"
                      + (" averaged over seeds" if S > 1 else "")}


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


# --------------------------------------------------------------------------------------------------
# Metrics that are not a mean of per-example scores


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
    p, how = _swap_test(metric_fn, pa, pb, refs, boot["estimate"], n_perm, perm_rng)
    return {"diff": boot["estimate"], **boot, "p_value": p, "mean_a": float(ma.mean()), "mean_b": float(mb.mean()),
            "n_seeds": S, "n_examples": n, "confidence": confidence,
            "method": f"{_bootstrap_text(S, n, n_boot)} of the metric; two-sided paired {how}"}


# --------------------------------------------------------------------------------------------------
# Multiple comparisons


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


# --------------------------------------------------------------------------------------------------
# Power and sensitivity


def variance_components(a, b) -> dict:
    """ANOVA variance components of the paired differences ``d = a - b`` (module docstring, *Power*).

    Returns ``seed`` (sigma_u^2), ``example`` (sigma_v^2), ``interaction`` (sigma_e^2; with one seed
    ``example`` holds sigma_v^2 + sigma_e^2 and ``interaction`` is None), ``n_seeds``, ``n_examples`` and
    ``se`` = sqrt(sigma_u^2/S + sigma_v^2/n + sigma_e^2/(S n)) (one seed: sigma_u^2 taken as 0).
    """
    a2, b2 = _pair_2d(a, b)
    d = a2 - b2
    S, n = d.shape
    if n < 2:
        raise ValueError("Variance components need at least 2 examples.")
    if S == 1:
        var = float(d[0].var(ddof=1))
        return {"seed": None, "example": var, "interaction": None, "n_seeds": 1, "n_examples": n,
                "se": math.sqrt(var / n)}
    row, col, grand = d.mean(axis=1), d.mean(axis=0), d.mean()
    ms_s = n * float(((row - grand) ** 2).sum()) / (S - 1)
    ms_j = S * float(((col - grand) ** 2).sum()) / (n - 1)
    ms_e = float(((d - row[:, None] - col[None, :] + grand) ** 2).sum()) / ((S - 1) * (n - 1))
    su2, sv2 = max(0.0, (ms_s - ms_e) / n), max(0.0, (ms_j - ms_e) / S)
    return {"seed": su2, "example": sv2, "interaction": ms_e, "n_seeds": S, "n_examples": n,
            "se": math.sqrt(su2 / S + sv2 / n + ms_e / (S * n))}


def _z_sum(alpha: float, power: float) -> float:
    return _z(1 - _check_probability(alpha, "alpha") / 2) + _z(_check_probability(power, "power"))


def minimum_detectable_difference(a, b, *, alpha: float = 0.05, power: float = 0.8) -> dict:
    """The smallest true ``mean(a) - mean(b)`` these seeds and examples detect with probability ``power`` in a
    two-sided level-``alpha`` test: ``MDD = (z_{1-alpha/2} + z_{power}) * SE`` with
    ``SE^2 = sigma_u^2/S + sigma_v^2/n + sigma_e^2/(S n)`` estimated from the observed paired differences
    (normal approximation; :func:`variance_components`).

    With one seed the between-seed variance cannot be estimated and is **assumed 0**: the MDD is then a lower
    bound (``note`` says so). Returns ``mdd`` (scores' units; None with a ``note`` when the differences have no
    variance), ``se``, ``alpha``, ``power``, ``components``, ``n_seeds``, ``n_examples``, ``note``.
    """
    comp = variance_components(a, b)
    zs = _z_sum(alpha, power)
    note = "normal approximation; optimistic with few seeds (sigma_u^2 has S-1 degrees of freedom)"
    if comp["n_seeds"] == 1:
        note = "one seed: between-seed variance assumed 0, so this is a lower bound; " + note
    mdd: float | None = zs * comp["se"]
    if comp["se"] == 0:
        mdd, note = None, "the paired differences have no variance: the MDD cannot be estimated"
    return {"mdd": mdd, "se": comp["se"], "alpha": alpha, "power": power, "components": comp,
            "n_seeds": comp["n_seeds"], "n_examples": comp["n_examples"], "note": note}


def seeds_needed(a, b, difference: float, *, alpha: float = 0.05, power: float = 0.8) -> dict:
    """How many seeds (with the same examples) a two-sided level-``alpha`` test needs to detect a true
    ``difference`` with probability ``power``: the smallest ``S'`` with
    ``sigma_u^2/S' + sigma_v^2/n + sigma_e^2/(S' n) <= (difference / (z_{1-alpha/2} + z_{power}))^2``.

    Returns ``seeds`` (an int; ``math.inf`` when the example part ``sigma_v^2/n`` alone is too large, i.e. more
    *examples* are needed; None when it cannot be estimated: one seed gives no between-seed variance and
    cannot separate the example and interaction parts, so run at least 2 seeds), ``reason``, ``se_target``,
    ``components``, ``alpha``, ``power``.
    """
    delta = abs(float(difference))
    if not math.isfinite(delta) or delta == 0:
        raise ValueError(f"difference must be a nonzero finite number, got {difference!r}.")
    comp = variance_components(a, b)
    target = (delta / _z_sum(alpha, power)) ** 2
    out = {"alpha": alpha, "power": power, "difference": delta, "se_target": math.sqrt(target), "components": comp}
    if comp["n_seeds"] == 1:
        return {**out, "seeds": None, "reason": "one seed: the between-seed variance cannot be estimated; run at "
                                                "least 2 seeds (seeds paired by index)"}
    if comp["se"] == 0:
        return {**out, "seeds": 1, "reason": "the paired differences have no variance: any seed shows them"}
    n = comp["n_examples"]
    per_seed = comp["seed"] + comp["interaction"] / n
    room = target - comp["example"] / n
    if room <= 0:
        return {**out, "seeds": math.inf,
                "reason": f"the example part alone (sigma_v^2/n, SE {math.sqrt(comp['example'] / n):.3g}) exceeds "
                          f"the target SE {math.sqrt(target):.3g}: more test examples are needed, not seeds"}
    seeds = max(1, math.ceil(per_seed / room - 1e-12))
    return {**out, "seeds": seeds,
            "reason": "normal approximation from the observed variance components; optimistic with few seeds"}


# --------------------------------------------------------------------------------------------------
# Slopes (the pilot experiment)


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


# --------------------------------------------------------------------------------------------------
# Words


def _fmt(x: float, ref: float) -> str:
    """``x`` with decimals suited to the magnitude ``ref`` of the numbers shown together (2.3, 0.023, 45.0)."""
    digits = 1 if ref <= 0 else max(1, 1 - math.floor(math.log10(ref)))
    s = f"{x:.{digits}f}"
    return "0" + s[2:] if s.startswith("-0") and float(s) == 0 else s


def _fmt_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3g}" if p < 0.1 else f"p = {p:.2f}"  # 0.0497 stays below 0.05 when read


def verdict(result: Mapping, *, higher_is_better: bool = True, names: tuple[str, str] = ("A", "B"),
            unit: str = "points", scale: float = 1.0, alpha: float | None = None) -> str:
    """Words for a difference result (``diff = A - B``, ``low``, ``high``, ``confidence``, optional
    ``p_value``), e.g. ``"A is ahead of B by 2.3 points (95% CI 0.4 to 4.1, p = 0.02)."``.

    A method is called ahead only when the interval excludes 0 *and* (when there is one) ``p < alpha``
    (default ``1 - confidence``); an interval that includes 0 is always "no detectable difference".
    ``scale`` multiplies the numbers (100 turns 0/1 accuracy differences into percentage points); ``unit``
    follows them ("" for none). ``higher_is_better=False`` for losses and errors: then ahead means lower.
    A one-seed result (``n_seeds == 1``) gets a sentence saying run-to-run variation is not included.
    """
    missing = [k for k in ("diff", "low", "high", "confidence") if k not in result]
    if missing:
        raise ValueError(f"verdict needs a difference result with diff, low, high and confidence; missing {missing}.")
    if len(names) != 2:
        raise ValueError(f"names must be two names (A, B), got {names!r}.")
    a_name, b_name = (str(n) for n in names)
    conf = _check_confidence(result["confidence"])
    alpha = 1 - conf if alpha is None else _check_probability(alpha, "alpha")
    diff, low, high = (float(result[k]) * scale for k in ("diff", "low", "high"))
    p = result.get("p_value")
    ref = max(abs(diff), abs(low), abs(high))
    u = f" {unit}" if unit else ""
    pct = f"{100 * conf:g}%"
    p_txt = f", {_fmt_p(float(p))}" if p is not None else ""
    caveat = " One seed: run-to-run variation is not in the interval." if result.get("n_seeds") == 1 else ""
    if low <= 0 <= high:
        text = (f"no detectable difference between {a_name} and {b_name}: {a_name} - {b_name} = "
                f"{_fmt(diff, ref)}{u}, the {pct} interval ({_fmt(low, ref)}, {_fmt(high, ref)}) includes 0{p_txt}")
        if p is not None and float(p) < alpha:
            text += (" (the per-example test holds for these training runs only; the seed-to-seed spread keeps 0 "
                     "in the interval)")
        return text + "." + caveat
    if p is not None and float(p) >= alpha:
        return (f"inconclusive: {a_name} - {b_name} = {_fmt(diff, ref)}{u}, the {pct} interval ({_fmt(low, ref)}, "
                f"{_fmt(high, ref)}) excludes 0 but the paired permutation test gives {_fmt_p(float(p))}." + caveat)
    positive = low > 0  # the interval excludes 0: it lies above (A - B > 0) or below it
    winner, loser = (a_name, b_name) if positive == higher_is_better else (b_name, a_name)
    sign = 1.0 if positive else -1.0  # the advantage as a positive number, its interval likewise
    lo_adv, hi_adv = sorted((sign * low, sign * high))
    direction = "" if higher_is_better else "; lower is better"
    return (f"{winner} is ahead of {loser} by {_fmt(sign * diff, ref)}{u} ({pct} CI {_fmt(lo_adv, ref)} to "
            f"{_fmt(hi_adv, ref)}{p_txt}{direction})." + caveat)
