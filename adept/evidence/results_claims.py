"""Claims judged on the runs' own results: (1) ADePT >= DePT >= PT on the test metric at an equal budget, from the
paired comparison (:mod:`adept.comparison`); (7) DePT and ADePT train faster per step than PT, from the logged
step times."""

from __future__ import annotations

import math

from adept.comparison import compare_group, groups_from_frame
from adept.comparison.render import fmt
from adept.evidence.common import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_RUN,
    SUPPORTED,
    Context,
    claim_row,
    fmt_ratio,
)

CLAIM1 = "At an equal budget, ADePT >= DePT >= PT on the test metric."
CLAIM7 = "DePT and ADePT train faster per step than PT at an equal budget."
ALPHA = 0.05


def primary_metric(ctx: Context) -> str:
    """``test/<primary>``: the user's choice, else the first metric the runs' predictions name, else accuracy."""
    if ctx.metric:
        return ctx.metric
    from adept.predictions import load_predictions

    for rid in ctx.run_ids()[:3]:
        p = load_predictions(rid)
        if p and p.get("metric_names"):
            return f"test/{p['metric_names'][0]}"
    cols = [c for c in ctx.runs.columns if c.startswith("metrics.test/")]
    return "test/accuracy" if "metrics.test/accuracy" in cols or not cols else cols[0][len("metrics."):]


def combine(statuses: list[str]) -> str:
    """One status for several comparisons: any contradiction wins, then all supported, then not run."""
    if CONTRADICTED in statuses:
        return CONTRADICTED
    if statuses and all(s == SUPPORTED for s in statuses):
        return SUPPORTED
    if statuses and all(s == NOT_RUN for s in statuses):
        return NOT_RUN
    return INCONCLUSIVE


def _direction(pair: dict) -> int:
    """+1 when A is detectably above B, -1 when below, 0 when the data cannot tell."""
    if pair["low"] is None:
        return 0
    significant = pair["p_holm"] is None or pair["p_holm"] < ALPHA
    if pair["low"] > 0 and significant:
        return 1
    if pair["high"] < 0 and significant:
        return -1
    return 0


def _settle(pair: dict, target: float, n_seeds: int) -> str:
    seeds, ex = pair["seeds_needed"], pair["examples_needed"]
    parts = []
    if seeds is not None and not (isinstance(seeds, float) and math.isinf(seeds)):
        parts.append(f"{max(0, seeds - n_seeds)} more seeds ({seeds} in all)")
    if ex is not None and not (isinstance(ex, float) and math.isinf(ex)):
        parts.append(f"{ex} test examples")
    how = " or ".join(parts) if parts else "more seeds and test examples"
    return f"{pair['a']} − {pair['b']}: to detect {target:g} points, {how}"


def claim1(ctx: Context) -> dict:
    metric = primary_metric(ctx)
    results = [compare_group(g, metric, confidence=ctx.confidence, n_boot=ctx.n_boot, target_diff=ctx.target_diff)
               for g in groups_from_frame(ctx.runs, metric)]
    statuses, effects, intervals, nexts, runs, bases = [], [], [], [], [], []
    for res in results:
        pairs = {(p["a"], p["b"]): p for p in res["pairs"]}
        needed = [pairs.get(k) for k in (("ADePT", "DePT"), ("DePT", "PT"))]
        prefix = f"{res['title']}: " if len(results) > 1 else ""
        if any(p is None for p in needed):
            have = sorted({m["name"] for m in res["methods"]})
            statuses.append(NOT_RUN)
            nexts.append(f"{prefix}has {', '.join(have)} only: launch Compare all three (PT, DePT, ADePT at one "
                         "budget, 3 seeds)")
            continue
        runs += [r for m in res["methods"] for r in m["runs"]]
        bases.append(res["basis"])
        dirs = [_direction(p) for p in needed]
        status = CONTRADICTED if -1 in dirs else SUPPORTED if all(d == 1 for d in dirs) else INCONCLUSIVE
        statuses.append(status)
        effects.append(prefix + "; ".join(f"{p['a']} − {p['b']} = {fmt(p['diff'])} points" for p in needed))
        intervals.append(prefix + "; ".join(
            f"{p['low']:.1f} to {p['high']:.1f}" if p["low"] is not None else "none" for p in needed))
        if status == INCONCLUSIVE:
            n_seeds = min(m["n_seeds"] for m in res["methods"])
            nexts.append(prefix + "; ".join(_settle(p, ctx.target_diff, n_seeds)
                                            for p, d in zip(needed, dirs) if d == 0))
    if not results:
        statuses, nexts = [NOT_RUN], ["no finished runs with a test metric: launch Compare all three"]
    basis = f"{metric}; " + ", ".join(sorted(set(bases))) if bases else metric
    return claim_row(1, CLAIM1, combine(statuses), runs=runs, effect=" | ".join(effects),
                     interval=" | ".join(intervals), next_step=" | ".join(nexts), basis=basis)


def _step_times(run_ids: list[str]) -> dict[str, list[float]]:
    from adept import tracking

    hist = tracking.metric_history(run_ids, ["time/step_s"])
    return {rid: g["value"].tolist() for rid, g in hist.groupby("run_id")}


def claim7(ctx: Context) -> dict:
    """Per (task, backbone) group: per-run median step time, ratio method / PT over runs (t interval on the
    logs of the run medians with >= 2 runs each, else over the single runs' steps)."""
    import statistics

    statuses, effects, intervals, runs, nexts = [], [], [], [], []
    groups = groups_from_frame(ctx.runs, primary_metric(ctx), with_predictions=False)
    for g in groups:
        arms = {a.method.lower(): a for a in g.arms}
        if "pt" not in arms or not ({"dept", "adept"} & set(arms)):
            statuses.append(NOT_RUN)
            nexts.append(f"{g.title}: needs PT and DePT / ADePT runs at one budget")
            continue
        times = _step_times([r for a in arms.values() for r in a.run_ids])
        med = {m: [statistics.median(times[r]) for r in a.run_ids if times.get(r)] for m, a in arms.items()}
        prefix = f"{g.title}: " if len(groups) > 1 else ""
        dirs = []
        for m in ("dept", "adept"):
            if m not in arms or not med[m] or not med["pt"]:
                continue
            if len(med[m]) >= 2 and len(med["pt"]) >= 2:
                la = [math.log(v) for v in med[m]]
                lb = [math.log(v) for v in med["pt"]]
                r = _welch_log_ratio(la, lb, ctx.confidence)
                level = f"{len(la)} vs {len(lb)} runs"
            else:
                a, b = times[arms[m].run_ids[0]], times[arms["pt"].run_ids[0]]
                r = _welch_log_ratio([math.log(v) for v in a], [math.log(v) for v in b], ctx.confidence)
                level = f"{len(a)} vs {len(b)} steps of one run each"
            runs += arms[m].run_ids + arms["pt"].run_ids
            effect, interval = fmt_ratio(r)
            effects.append(f"{prefix}{arms[m].name} / PT seconds per step = {effect} ({level})")
            intervals.append(prefix + (interval or "none"))
            dirs.append(0 if r["low"] is None else 1 if r["high"] < 1 else -1 if r["low"] > 1 else 0)
        if not dirs:
            statuses.append(NOT_RUN)
            continue
        status = CONTRADICTED if -1 in dirs else SUPPORTED if all(d == 1 for d in dirs) else INCONCLUSIVE
        statuses.append(status)
        if status == INCONCLUSIVE:
            nexts.append(f"{prefix}more seeds per method, or `python -m adept bench` (interleaved, same load)")
    if not groups:
        statuses = [NOT_RUN]
    return claim_row(7, CLAIM7, combine(statuses), runs=runs, effect=" | ".join(effects),
                     interval=" | ".join(intervals), next_step=" | ".join(nexts),
                     basis="median seconds per training step (time/step_s); runs measured at different times "
                           "share the machine's load changes")


def _welch_log_ratio(la: list[float], lb: list[float], confidence: float) -> dict:
    """exp(mean(la) - mean(lb)) with a Welch t interval (df = min(n) - 1, conservative)."""
    from adept.stats import t_quantile

    ma, mb = sum(la) / len(la), sum(lb) / len(lb)
    out = {"ratio": math.exp(ma - mb), "low": None, "high": None, "n": min(len(la), len(lb))}
    if len(la) > 1 and len(lb) > 1:
        va = sum((v - ma) ** 2 for v in la) / (len(la) - 1)
        vb = sum((v - mb) ** 2 for v in lb) / (len(lb) - 1)
        half = t_quantile((1 + confidence) / 2, min(len(la), len(lb)) - 1) * math.sqrt(va / len(la) + vb / len(lb))
        out.update(low=math.exp(ma - mb - half), high=math.exp(ma - mb + half))
    return out
