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
(it does not see seed-to-seed variation): with two or more seeds :func:`paired_difference` therefore
returns as ``p_value`` the larger of it and the two-way bootstrap's p-value
(``(#{|rep - est| >= |est|} + 1) / (n_boot + 1)``), which carries the seed variance, and keeps the
sign-flip value as ``p_examples``; :func:`paired_metric_difference` does the same with its swap test.

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

**Modules.** ``checks`` (inputs, quantiles), ``bootstrap`` (the engine, :func:`mean_interval`), ``permutation``
(sign-flip and swap tests), ``paired`` (:func:`paired_difference`), ``metrics`` (:func:`metric_interval`,
:func:`paired_metric_difference`), ``multiple`` (:func:`holm`), ``power`` (:func:`minimum_detectable_difference`,
:func:`seeds_needed`), ``slopes`` (:func:`slope`, :func:`slope_difference`), ``verdict``; all re-exported here.
"""

from __future__ import annotations

from adept.stats.bootstrap import mean_interval
from adept.stats.checks import t_quantile
from adept.stats.metrics import metric_interval, paired_metric_difference
from adept.stats.multiple import holm
from adept.stats.paired import paired_difference
from adept.stats.permutation import sign_flip_p_value
from adept.stats.power import minimum_detectable_difference, seeds_needed, variance_components
from adept.stats.slopes import slope, slope_difference
from adept.stats.verdict import verdict

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
