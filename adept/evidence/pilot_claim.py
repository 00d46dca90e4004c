"""Claim 2, prepending tokens at test time hurts DePT more than ADePT: the DePT - ADePT difference of the pilot
slopes (metric points per prepended token) on the runs' stored pilot analyses.

With per-example pilot results (``analysis/pilot_examples.json`` or ``per_example`` inside ``analysis/pilot.json``)
the difference and its interval come from :func:`adept.stats.slope_difference` over seeds x examples; older
analyses stored only the metric per ``k``: then each run's least-squares slope is computed from those and the
interval is a t interval over the runs (none with one run per method)."""

from __future__ import annotations

import math

import numpy as np

from adept.evidence.common import CONTRADICTED, INCONCLUSIVE, NOT_RUN, SUPPORTED, Context, analyze_hint, claim_row

CLAIM2 = "Prepending tokens at test time hurts DePT more than ADePT (pilot slopes)."


def _per_example(ctx: Context, rid: str, pilot: dict) -> dict | None:
    pe = pilot.get("per_example") or ctx.analysis(rid, "pilot_examples")
    return pe if isinstance(pe, dict) and pe.get("sides") else None


def _by_k(ctx: Context, runs: list[tuple[str, dict]], side: str) -> tuple[dict, list[int]] | None:
    """``{k: (S, n) scores x scale}`` of runs with per-example results on the same examples, else None."""
    pes = [_per_example(ctx, r, p) for r, p in runs]
    if not all(pes) or any(side not in pe["sides"] for pe in pes):
        return None
    index = pes[0].get("example_index")
    if any(pe.get("example_index") != index for pe in pes):
        return None
    ks = runs[0][1]["ks"]
    scale = float(pes[0].get("score_scale", 100))
    arr = np.stack([np.asarray(pe["sides"][side]["scores"], dtype=float) for pe in pes]) * scale  # (S, K, n)
    return {k: arr[:, i, :] for i, k in enumerate(ks)}, index


def _run_slope(pilot: dict, side: str) -> float:
    ks = np.asarray(pilot["ks"], dtype=float)
    y = np.asarray(pilot["results"][side][pilot["metric"]], dtype=float)
    return float(np.polyfit(ks, y, 1)[0])


def claim2(ctx: Context) -> dict:
    from adept import stats

    dept, adept = ctx.analysed("pilot", "dept"), ctx.analysed("pilot", "adept")
    if not dept or not adept:
        return claim_row(2, CLAIM2, NOT_RUN, next_step=analyze_hint(
            ctx, [m for m, a in (("dept", dept), ("adept", adept)) if not a]))
    side = dept[0][1].get("trained_padding_side") or next(iter(dept[0][1]["results"]))
    runs = [r for r, _ in dept + adept]
    if any(list(p["ks"]) != list(dept[0][1]["ks"]) for _, p in dept + adept):
        return claim_row(2, CLAIM2, NOT_RUN, runs=runs, next_step="the runs' pilots used different k: re-analyse "
                                                                  "them with `analyze --force`")
    a, b = _by_k(ctx, dept, side), _by_k(ctx, adept, side)
    if a and b and a[1] == b[1]:
        s = min(next(iter(a[0].values())).shape[0], next(iter(b[0].values())).shape[0])
        r = stats.slope_difference({k: v[:s] for k, v in a[0].items()}, {k: v[:s] for k, v in b[0].items()},
                                   confidence=ctx.confidence, n_boot=ctx.n_boot)
        basis = f"per-example pilot, {s} seed(s) x {r['n_examples']} examples, {side} padding"
        p = r["p_value"]
        slopes = f"DePT {r['slope_a']:+.3f}, ADePT {r['slope_b']:+.3f} points per token"
    else:
        sd = [_run_slope(p, side) for _, p in dept]
        sa = [_run_slope(p, side) for _, p in adept]
        r = {"diff": float(np.mean(sd) - np.mean(sa)), "low": None, "high": None}
        if len(sd) > 1 and len(sa) > 1:
            se = math.sqrt(np.var(sd, ddof=1) / len(sd) + np.var(sa, ddof=1) / len(sa))
            h = stats.t_quantile((1 + ctx.confidence) / 2, min(len(sd), len(sa)) - 1) * se
            r.update(low=r["diff"] - h, high=r["diff"] + h)
        basis = (f"pilot means only (older analyses): per-run slopes, {len(sd)} DePT vs {len(sa)} ADePT runs, "
                 f"{side} padding")
        p = None
        slopes = f"DePT {np.mean(sd):+.3f}, ADePT {np.mean(sa):+.3f} points per token"
    effect = f"DePT − ADePT slope = {r['diff']:+.3f} points per prepended token ({slopes})"
    if r["low"] is None:
        return claim_row(2, CLAIM2, INCONCLUSIVE, runs=runs, effect=effect, interval="none", basis=basis,
                         next_step="at least 2 analysed seeds per method, or re-analyse with `analyze --force` for "
                                   "per-example pilot results")
    sig = p is None or p < 0.05
    status = SUPPORTED if r["high"] < 0 and sig else CONTRADICTED if r["low"] > 0 and sig else INCONCLUSIVE
    nxt = ""
    if status == INCONCLUSIVE:
        nxt = "more analysed seeds per method or more pilot examples (`analyze --force` with a larger pilot)"
        if "se" in r and r.get("seed_share") is not None and abs(r["diff"]) > 0:
            from adept.comparison.compute import power_from_se

            pw = power_from_se(r, r["n_seeds"], abs(r["diff"]))
            parts = [f"{pw['seeds_needed']} seeds" if pw["seeds_needed"] not in (None, math.inf) else "",
                     f"{pw['examples_needed']} pilot examples" if pw["examples_needed"] not in (None, math.inf) else ""]
            parts = [x for x in parts if x]
            if parts:
                nxt = f"to detect a slope difference of {abs(r['diff']):.3f}: " + " or ".join(parts)
    interval = f"{r['low']:+.3f} to {r['high']:+.3f}" + (f", p = {p:.3g}" if p is not None else "")
    return claim_row(2, CLAIM2, status, runs=runs, effect=effect, interval=interval, next_step=nxt, basis=basis)
