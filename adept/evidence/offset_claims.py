"""Claims checked exactly on the runs' stored offset analyses (``python -m adept analyze``):
(3) ADePT's offset depends only on the token, DePT's only on the position; (4) one DePT row is shared by many
different tokens, ADePT gives each token its own; (5) on relative-position backbones PT cannot change the
first-layer relative attention between input tokens, DePT and ADePT can."""

from __future__ import annotations

from adept.comparison.data import label
from adept.evidence.common import CONTRADICTED, INCONCLUSIVE, NOT_RUN, NOT_TESTABLE, SUPPORTED, Context, analyze_hint
from adept.evidence.common import claim_row as row

CLAIM3 = "ADePT's offset depends only on the token, DePT's only on the position."
CLAIM4 = "One DePT offset row is shared by many different tokens; ADePT gives each token its own."
CLAIM5 = ("On relative-position backbones PT cannot change first-layer relative attention between input tokens; "
          "DePT and ADePT can.")
REL_TOL = 1e-4  # "exactly equal": differences below this share of the offsets' own size
ATTN_TOL = 1e-6


def claim3(ctx: Context) -> dict:
    adept, dept = ctx.analysed("position_vs_input", "adept"), ctx.analysed("position_vs_input", "dept")
    if not adept or not dept:
        return row(3, CLAIM3, NOT_RUN, next_step=analyze_hint(ctx, [m for m, a in (("adept", adept), ("dept", dept))
                                                                   if not a]))
    checks, effects, runs = [], [], []
    for rid, a in adept:
        st = a["same_token"]
        scale = st["mean_offset_norm"]
        if scale == 0:
            return row(3, CLAIM3, NOT_TESTABLE, runs=[rid], effect="ADePT's offsets are all zero on this run",
                       next_step="train longer or with a larger offset learning rate, then analyse again")
        ok = st["pairs"] > 0 and st["max_difference"] <= REL_TOL * scale
        checks.append(ok)
        runs.append(rid)
        effects.append(f"ADePT: same token at other slots differs by at most {st['max_difference']:.2g} "
                       f"(offsets ~{scale:.3g}, {st['pairs']} pairs)")
    for rid, a in dept:
        pv = a["position_variance"]
        ok = pv["mean_sq_offset"] > 0 and pv["mean_variance"] <= REL_TOL ** 2 * pv["mean_sq_offset"]
        checks.append(ok)
        runs.append(rid)
        effects.append(f"DePT: offset variance across inputs at one slot {pv['mean_variance']:.2g} (mean squared "
                       f"offset {pv['mean_sq_offset']:.3g}); same token at other slots differs by up to "
                       f"{a['same_token']['max_difference']:.3g}")
    status = SUPPORTED if all(checks) else CONTRADICTED
    return row(3, CLAIM3, status, runs=runs, effect=f"{effects[0]}; {effects[len(adept)]}",
               interval="exact check (no sampling)", basis="analysis/position_vs_input.json")


def claim4(ctx: Context) -> dict:
    dept, adept = ctx.analysed("position_vs_input", "dept"), ctx.analysed("offset_stats", "adept")
    if not adept or not dept:
        return row(4, CLAIM4, NOT_RUN, next_step=analyze_hint(ctx, [m for m, a in (("dept", dept), ("adept", adept))
                                                                   if not a]))
    rid_d, d = dept[0]
    rid_a, a = adept[0]
    tpp, dist = d["tokens_per_position"], a["distinct"]
    if not a.get("norms", {}).get("offset_mean"):
        return row(4, CLAIM4, NOT_TESTABLE, runs=[rid_a], effect="ADePT's offsets are all zero on this run",
                   next_step="train longer or with a larger offset learning rate, then analyse again")
    shared = tpp["mean"] > 1
    own = dist["offset_vectors"] == dist["tokens_seen"]
    effect = (f"DePT: {tpp['mean']:.1f} distinct tokens per offset row on average (max {tpp['max']}, "
              f"{len(tpp['row'])} rows); ADePT: {dist['offset_vectors']} distinct offsets for "
              f"{dist['tokens_seen']} distinct tokens")
    status = SUPPORTED if shared and own else CONTRADICTED
    nxt = "" if own else "ADePT maps some tokens to the same offset (e.g. ReLU units all off, or untrained B = 0)"
    return row(4, CLAIM4, status, runs=[rid_d, rid_a], effect=effect, interval="exact count on the analysed batch",
               next_step=nxt, basis="analysis/position_vs_input.json, analysis/offset_stats.json")


def claim5(ctx: Context) -> dict:
    by = {m: ctx.analysed("attention", m) for m in ("pt", "dept", "adept")}
    all_runs = [x for v in by.values() for x in v]
    if all_runs and all(a.get("position_encoding") == "absolute" for _, a in all_runs):
        return row(5, CLAIM5, NOT_TESTABLE, runs=[r for r, _ in all_runs],
                   effect="these runs' backbone has absolute positions (PT shifts them by the prompt length)",
                   next_step="train PT, DePT and ADePT on a relative-position backbone (smollm2-135m: rotary, or a "
                             "local T5 folder) and analyse them")
    missing = [m for m, v in by.items() if not v]
    if missing:
        return row(5, CLAIM5, NOT_RUN, next_step=analyze_hint(ctx, missing))
    rel = {m: [(r, a) for r, a in v if a.get("position_encoding") != "absolute"] for m, v in by.items()}
    if any(not v for v in rel.values()):
        return row(5, CLAIM5, NOT_TESTABLE, next_step="analyse PT, DePT and ADePT runs on one relative-position "
                                                      "backbone")
    change = {m: max(a["relative_change"] for _, a in v) for m, v in rel.items()}
    pt_flat = change["pt"] <= ATTN_TOL
    others = all(change[m] > ATTN_TOL for m in ("dept", "adept"))
    status = SUPPORTED if pt_flat and others else CONTRADICTED if not pt_flat else INCONCLUSIVE
    nxt = "" if status != INCONCLUSIVE else ("DePT / ADePT offsets too small to move attention: train with a larger "
                                             "offset learning rate")
    return row(5, CLAIM5, status, runs=[r for v in rel.values() for r, _ in v[:1]],
               effect=", ".join(f"{label(m)} {change[m]:.3g}" for m in change)
               + " (mean change of layer-1 relative attention vs the frozen backbone)",
               interval="exact on one input", next_step=nxt, basis="analysis/attention.json")
