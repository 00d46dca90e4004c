"""Power and sensitivity: variance components of paired differences, the smallest detectable difference and
the number of seeds a chosen difference needs."""

from __future__ import annotations

import math

from adept.stats.checks import _check_probability, _pair_2d, _z


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
