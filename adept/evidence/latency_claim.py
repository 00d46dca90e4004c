"""Claim 6, folded ADePT costs what PT with the same prompt length costs at inference and less than PT at an
equal budget: paired per-round latency ratios from the runs' stored latency analyses (every round times every
variant side by side), pooled over the analysed runs, geometric mean with a t interval on the log ratios."""

from __future__ import annotations

import math

from adept.evidence.common import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_RUN,
    SUPPORTED,
    Context,
    analyze_hint,
    claim_row,
    log_ratio_interval,
)

CLAIM6 = ("Folded ADePT costs what PT with the same prompt length costs at inference, and less than PT at an "
          "equal budget.")
EQUAL_WITHIN = 0.05  # "costs what ... costs": the ratio's interval inside 1 +- 5 % (or containing 1)


def _ratio(analyses: list[tuple[str, dict]], a: str, b: str, confidence: float) -> dict:
    logs = []
    for _, lat in analyses:
        models = lat.get("models", {})
        if a in models and b in models:
            ra, rb = models[a].get("rounds_ms") or [], models[b].get("rounds_ms") or []
            logs += [math.log(x / y) for x, y in zip(ra, rb) if x > 0 and y > 0]
    return log_ratio_interval(logs, confidence)


def claim6(ctx: Context) -> dict:
    lats = ctx.analysed("latency")
    if not lats:
        return claim_row(6, CLAIM6, NOT_RUN, next_step=analyze_hint(ctx, ["adept"]))
    runs = [r for r, _ in lats]
    vs_pt = _ratio(lats, "adept_folded", "pt", ctx.confidence)
    vs_short = _ratio(lats, "adept_folded", "pt_short", ctx.confidence)
    if vs_pt["ratio"] is None:
        return claim_row(6, CLAIM6, NOT_RUN, runs=runs, next_step="re-analyse with `analyze --force` (no folded ADePT "
                                                                  "and PT timings stored)")
    parts = [f"folded ADePT / PT (equal budget) = {vs_pt['ratio']:.3f}"]
    intervals = [_iv(vs_pt)]
    cheaper = None  # True: interval below 1; False: above 1; None: cannot tell
    if vs_pt["low"] is not None:
        cheaper = True if vs_pt["high"] < 1 else False if vs_pt["low"] > 1 else None
    equal = None
    if vs_short["ratio"] is not None:
        parts.append(f"folded ADePT / PT with its prompt length = {vs_short['ratio']:.3f}")
        intervals.append(_iv(vs_short))
        if vs_short["low"] is not None:
            inside = 1 - EQUAL_WITHIN <= vs_short["low"] and vs_short["high"] <= 1 + EQUAL_WITHIN
            equal = True if (inside or vs_short["low"] <= 1 <= vs_short["high"]) else False
    else:
        parts.append("PT with ADePT's prompt length not timed (older analysis; folded ADePT is such a PT model by "
                     "construction)")
    n = vs_pt["n"]
    if cheaper is False or equal is False:
        status = CONTRADICTED
    elif cheaper and equal is not False:
        status = SUPPORTED
    else:
        status = INCONCLUSIVE
    nxt = "" if status != INCONCLUSIVE else "more latency rounds (analyze with a larger latency_repeats) or more runs"
    return claim_row(6, CLAIM6, status, runs=runs, effect="; ".join(parts), interval="; ".join(intervals),
                     next_step=nxt, basis=f"{n} paired rounds at batch size 1 (analysis/latency.json)")


def _iv(r: dict) -> str:
    return "none" if r["low"] is None else f"{r['low']:.3f} to {r['high']:.3f}"
