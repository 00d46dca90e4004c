"""A comparison computed: each method's metric with its interval, every pair's difference with its interval,
Holm-adjusted p-value and verdict, and the power figures (smallest detectable difference; seeds and examples
needed for a chosen difference).

From per-example predictions (the basis ``"predictions"``) intervals come from the two-way bootstrap over seeds
x test examples (:mod:`adept.stats`); metrics that are not a mean of per-example scores (F1, Matthews, Pearson)
are bootstrapped themselves. Runs without predictions (logged before they existed) fall back to the spread of
the logged metric over seeds (basis ``"seed spread"``: a t interval over seeds, which leaves out the test
examples' sampling error) and the result says so in ``note``. All numbers are in the metric's own 0-100 units.
"""

from __future__ import annotations

import math

import numpy as np

from adept import stats
from adept.comparison.data import Arm, Group
from adept.comparison.metric_fns import mean_field, metric_fn, prediction_arrays
from adept.predictions import check_same_examples, score_matrix

ALPHA, POWER = 0.05, 0.8


def _zsum() -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)


def _usable(group: Group) -> tuple[list[list[dict]], str]:
    """Per arm the payloads to use, and why runs were left out ('' when none was)."""
    kept = [[p for p in arm.payloads if p] for arm in group.arms]
    dropped = sum(len(a.payloads) - len(k) for a, k in zip(group.arms, kept))
    if not all(kept):
        return [], ""
    check_same_examples([p for k in kept for p in k])
    note = f"{dropped} run(s) without stored predictions left out. " if dropped else ""
    return kept, note


def compare_group(group: Group, metric: str = "test/accuracy", *, confidence: float = 0.95, n_boot: int = 2000,
                  target_diff: float | None = None, seed: int = 0) -> dict:
    """The comparison of ``group`` on ``metric`` (``test/<name>``). Keys: ``metric``, ``basis``, ``note``,
    ``confidence``, ``n_examples``, ``methods`` (rows: method, name, runs, seeds, n_seeds, value, low, high) and
    ``pairs`` (rows: a, b, diff, low, high, p, p_holm, verdict, mdd, seeds_needed, examples_needed, power_note)."""
    name = metric.split("/", 1)[-1]
    try:
        kept, note = _usable(group)
    except ValueError as exc:
        kept, note = [], f"{exc} "
    if kept and len(group.arms) >= 1:
        out = _from_predictions(group, kept, name, confidence, n_boot, target_diff, seed)
        out["note"] = note + out["note"]
    else:
        out = _from_seed_spread(group, confidence, target_diff)
        out["note"] = note + out["note"]
    p_holm = stats.holm([r["p"] for r in out["pairs"] if r["p"] is not None])
    it = iter(p_holm)
    for r in out["pairs"]:
        r["p_holm"] = next(it) if r["p"] is not None else None
        r["verdict"] = _verdict(r, confidence)
    return {"metric": metric, "confidence": confidence, "title": group.title, "key": group.key, **out}


def _verdict(r: dict, confidence: float) -> str:
    if r["low"] is None:
        return f"no interval ({r['why_no_interval']}): cannot tell."
    res = {"diff": r["diff"], "low": r["low"], "high": r["high"], "confidence": confidence,
           "n_seeds": r["n_seeds"]}
    if r["p_holm"] is not None:
        res["p_value"] = r["p_holm"]
    return stats.verdict(res, names=(r["a"], r["b"]), unit="points")


def _method_row(arm: Arm, n_used: int, value: float, low, high) -> dict:
    return {"method": arm.method, "name": arm.name, "runs": arm.run_ids, "seeds": arm.seeds, "budget": arm.budget,
            "n_seeds": n_used, "value": value, "low": low, "high": high}


def _from_predictions(group, kept, name, confidence, n_boot, target_diff, seed) -> dict:
    first = kept[0][0]
    kind, n = first.get("task_kind", "classification"), first["num_examples"]
    field = mean_field(kind, name)
    methods, data = [], []
    for arm, payloads in zip(group.arms, kept):
        if field:
            x = score_matrix(payloads, field) * 100.0
            r = stats.mean_interval(x, confidence=confidence, n_boot=n_boot, seed=seed)
            data.append(x)
        else:
            fn = metric_fn(kind, name, len(first.get("label_names") or []) or 2)
            arrays = [prediction_arrays(p) for p in payloads]
            preds, refs = [a for a, _ in arrays], arrays[0][1]
            r = stats.metric_interval(fn, preds, refs, confidence=confidence, n_boot=n_boot, seed=seed)
            data.append((fn, preds, refs))
        methods.append(_method_row(arm, len(payloads), r["estimate"], r["low"], r["high"]))
    pairs = []
    for i in range(len(group.arms)):
        for j in range(i + 1, len(group.arms)):
            pairs.append(_pair_from_predictions(group.arms[i], group.arms[j], data[i], data[j], field, confidence,
                                                n_boot, target_diff, seed))
    how = ("two-way bootstrap over seeds x test examples" if field else f"bootstrap of {name} over seeds x examples")
    return {"basis": "predictions", "n_examples": n, "methods": methods, "pairs": pairs,
            "note": f"Intervals: {how} ({n_boot} resamples); p-values: paired permutation test, Holm-adjusted."}


def _pair_from_predictions(a: Arm, b: Arm, da, db, field, confidence, n_boot, target_diff, seed) -> dict:
    if field:
        s = min(da.shape[0], db.shape[0])
        xa, xb = da[:s], db[:s]
        r = stats.paired_difference(xa, xb, confidence=confidence, n_boot=n_boot, seed=seed)
        power = _power_anova(xa, xb, target_diff)
    else:
        fn, pa, refs = da
        _, pb, _ = db
        s = min(len(pa), len(pb))
        r = stats.paired_metric_difference(fn, pa[:s], pb[:s], refs, confidence=confidence, n_boot=n_boot,
                                           n_perm=1000, seed=seed)
        power = power_from_se(r, s, target_diff)
    return {"a": a.name, "b": b.name, "diff": r["diff"], "low": r["low"], "high": r["high"], "p": r["p_value"],
            "n_seeds": s, **power}


def _power_anova(xa: np.ndarray, xb: np.ndarray, target: float | None) -> dict:
    try:
        mdd = stats.minimum_detectable_difference(xa, xb, alpha=ALPHA, power=POWER)
    except ValueError as exc:
        return {"mdd": None, "seeds_needed": None, "examples_needed": None, "power_note": str(exc)}
    out = {"mdd": mdd["mdd"], "seeds_needed": None, "examples_needed": None, "power_note": mdd["note"]}
    if target:
        need = stats.seeds_needed(xa, xb, target, alpha=ALPHA, power=POWER)
        out["seeds_needed"] = need["seeds"]
        out["power_note"] = need["reason"]
        out["examples_needed"] = _examples_needed(need["components"], target)
    return out


def _examples_needed(comp: dict, target: float) -> float | None:
    """The smallest number of test examples (same seeds) for which SE <= target / (z + z)."""
    goal = (abs(target) / _zsum()) ** 2
    S = comp["n_seeds"]
    if S == 1 or comp["seed"] is None:
        return math.ceil(comp["example"] / goal) if goal > 0 else None
    room = goal - comp["seed"] / S
    if room <= 0:
        return math.inf
    return max(2, math.ceil((comp["example"] + comp["interaction"] / S) / room))


def power_from_se(r: dict, s: int, target: float | None) -> dict:
    """Power figures for a difference from its bootstrap result ``r`` (``se``, ``seed_share``, ``n_examples``)
    with ``s`` seeds: the SE split into a seed part (shrinks as 1/S) and an example part (shrinks as 1/n),
    normal approximation. Keys: mdd, seeds_needed, examples_needed, power_note."""
    var = r["se"] ** 2
    share = min(1.0, max(0.0, r["seed_share"]))
    v_seed, v_ex = share * var, (1 - share) * var
    if s > 1:  # the bootstrap widened the seed part by t_{S-1}/z for the interval: the variance itself is smaller
        q = (1 + r.get("confidence", 0.95)) / 2
        from statistics import NormalDist

        v_seed /= (stats.t_quantile(q, s - 1) / NormalDist().inv_cdf(q)) ** 2
    se = math.sqrt(v_seed + v_ex)
    out = {"mdd": _zsum() * se if se > 0 else None, "seeds_needed": None, "examples_needed": None,
           "power_note": "normal approximation from the bootstrap's seed and example variance parts; seeds "
                         "needed is conservative (the example part holds the seed-by-example interaction, which "
                         "more seeds also shrink)"}
    if target and se > 0:
        goal = (abs(target) / _zsum()) ** 2
        if s > 1:
            out["seeds_needed"] = math.inf if goal <= v_ex else max(1, math.ceil(s * v_seed / (goal - v_ex)))
        n = r["n_examples"]
        out["examples_needed"] = math.inf if goal <= v_seed else max(2, math.ceil(n * v_ex / (goal - v_seed)))
    return out


def _from_seed_spread(group: Group, confidence: float, target_diff: float | None) -> dict:
    q = (1 + confidence) / 2
    methods = []
    for arm in group.arms:
        v = np.asarray(arm.values, dtype=float)
        low = high = None
        if v.size > 1:
            h = stats.t_quantile(q, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
            low, high = float(v.mean() - h), float(v.mean() + h)
        methods.append(_method_row(arm, v.size, float(v.mean()), low, high))
    pairs = []
    for i in range(len(group.arms)):
        for j in range(i + 1, len(group.arms)):
            pairs.append(_pair_from_spread(group.arms[i], group.arms[j], q, target_diff))
    return {"basis": "seed spread", "n_examples": None, "methods": methods, "pairs": pairs,
            "note": "These runs have no stored per-example predictions (logged before they existed): intervals "
                    "are a t interval over seeds of the logged metric, which leaves out the test examples' "
                    "sampling error, and there is no p-value. Re-run them for paired intervals."}


def _pair_from_spread(a: Arm, b: Arm, q: float, target: float | None) -> dict:
    va, vb = np.asarray(a.values, float), np.asarray(b.values, float)
    diff = float(va.mean() - vb.mean())
    row = {"a": a.name, "b": b.name, "diff": diff, "low": None, "high": None, "p": None,
           "n_seeds": min(va.size, vb.size), "mdd": None, "seeds_needed": None, "examples_needed": None,
           "power_note": "", "why_no_interval": "one run per method, no spread"}
    if va.size < 2 or vb.size < 2:
        row["power_note"] = "needs at least 2 seeds per method"
        return row
    se = math.sqrt(va.var(ddof=1) / va.size + vb.var(ddof=1) / vb.size)
    h = stats.t_quantile(q, min(va.size, vb.size) - 1) * se
    row.update(low=diff - h, high=diff + h, mdd=_zsum() * se if se > 0 else None,
               power_note="from the seed spread only (normal approximation)")
    if target and se > 0:
        per_seed = va.var(ddof=1) + vb.var(ddof=1)
        row["seeds_needed"] = max(2, math.ceil(per_seed * (_zsum() / abs(target)) ** 2))
    return row
