"""A comparison's caption computed from its numbers: what the paper expects, what these runs show (with the
interval), and whether that is consistent with it, against it, or not enough to tell. Never states the
expectation as if it had been observed."""

from __future__ import annotations

EXPECTATION = "The paper expects ADePT ≥ DePT ≥ PT at an equal budget"
ALPHA = 0.05


def direction(pair: dict) -> int:
    """+1 when A is detectably above B (interval above 0 and, when there is one, Holm p < 0.05), -1 below, 0
    when the data cannot tell."""
    if pair.get("low") is None:
        return 0
    significant = pair.get("p_holm") is None or pair["p_holm"] < ALPHA
    if pair["low"] > 0 and significant:
        return 1
    if pair["high"] < 0 and significant:
        return -1
    return 0


def _shown(pair: dict, pct: str) -> str:
    iv = "no interval" if pair["low"] is None else f"{pct} interval {pair['low']:.1f} to {pair['high']:.1f}"
    return f"{pair['a']} − {pair['b']} = {pair['diff']:+.1f} points ({iv})"


def caption(result: dict) -> str:
    """``"The paper expects X. These runs show Y (interval); that is consistent with / against / not enough to
    tell."`` for the ADePT − DePT and DePT − PT pairs of ``result`` (:func:`compare_group`)."""
    pairs = {(p["a"], p["b"]): p for p in result["pairs"]}
    needed = [pairs[k] for k in (("ADePT", "DePT"), ("DePT", "PT")) if k in pairs]
    metric = result["metric"]
    head = f"{EXPECTATION} on {metric}."
    if not needed:
        have = ", ".join(m["name"] for m in result["methods"])
        return f"{head} These runs hold {have} only: run all three methods to test it."
    pct = f"{100 * result['confidence']:g} %"
    shown = "; ".join(_shown(p, pct) for p in needed)
    dirs = [direction(p) for p in needed]
    if -1 in dirs:
        verdict = "that is against the expectation"
    elif len(needed) == 2 and all(d == 1 for d in dirs):
        verdict = "that is consistent with the expectation"
    else:
        mdd = [p["mdd"] for p in needed if p.get("mdd")]
        verdict = "that is not enough to tell" + (
            f" (these seeds and examples detect differences of about {min(mdd):.1f} points or more)" if mdd else "")
    basis = "" if result["basis"] == "predictions" else " Intervals from the seed spread only (no predictions)."
    return f"{head} These runs show {shown}; {verdict}.{basis}"
