"""The pilot experiment's uncertainty: bands over seeds x examples, slopes against ``k``, the DePT - ADePT test.

A pilot point is one run (a seed) scored on the same test examples at one ``k`` and padding side
(``analysis/pilot_examples.json``, :func:`adept.analysis.pilot.pilot_experiment`). With ``S`` runs of a
method (seeds) and ``n`` examples, every point is an ``(S, n)`` array of per-example scores (1/0 correct
for classification), and :mod:`adept.stats` gives

* **bands**: at each ``k`` the mean score x 100 with its two-way bootstrap interval over seeds x examples
  (:func:`adept.stats.mean_interval`);
* **slope**: the least-squares slope of the mean score against ``k`` (points per prepended token) with its
  interval (:func:`adept.stats.slope`: one example resample for every ``k``, they are the same examples);
* **slope difference** DePT - ADePT with its interval and a paired sign-flip p-value
  (:func:`adept.stats.slope_difference`, seeds paired by index after sorting by seed, the same examples).

The paper expects DePT's metric to fall faster than ADePT's as ``k`` grows: a negative DePT - ADePT slope
difference. :func:`caption` says whether the runs agree, disagree or cannot tell (the interval includes 0).
One run (one seed) gives intervals conditional on that run (no seed-to-seed variation): the result says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EXPECTATION = "The paper expects DePT's metric to fall faster than ADePT's as k grows."
N_BOOT = 2000


def _scores(pilot: Mapping, side: str) -> np.ndarray:
    """(len(ks), n) per-example scores of one run at one padding side."""
    pe = pilot.get("per_example")
    if not pe or side not in pe.get("sides", {}):
        raise ValueError(f"This pilot has no per-example results for {side} padding: re-run "
                         "`python -m adept analyze RUN_ID --force` (older analyses stored means only).")
    return np.asarray(pe["sides"][side]["scores"], dtype=float)


def _stack(pilots: Sequence[Mapping], side: str) -> tuple[list[int], np.ndarray, float]:
    """``(ks, scores (S, len(ks), n), scale)`` for runs scored on the same ks and examples."""
    first = pilots[0]
    ks = list(first["ks"])
    index = first["per_example"]["example_index"]
    for p in pilots[1:]:
        if list(p["ks"]) != ks:
            raise ValueError(f"The runs' pilots used different k values ({ks} vs {list(p['ks'])}): re-analyse them "
                             "with the same ks.")
        if p["per_example"]["example_index"] != index:
            raise ValueError("The runs' pilots scored different test examples: re-analyse them with the same "
                             "--pilot-examples so that every run sees the same examples.")
    return ks, np.stack([_scores(p, side) for p in pilots]), float(first["per_example"].get("score_scale", 100))


def bands(pilots: Sequence[Mapping], side: str, *, confidence: float = 0.95, n_boot: int = N_BOOT) -> list[dict]:
    """Per ``k``: ``{"k", "mean", "low", "high", "n_seeds", "n_examples"}`` in metric units (x score_scale)."""
    from adept.stats import mean_interval

    ks, x, scale = _stack(pilots, side)
    out = []
    for i, k in enumerate(ks):
        r = mean_interval(x[:, i, :], confidence=confidence, n_boot=n_boot)
        out.append({"k": k, "mean": scale * r["mean"], "low": scale * r["low"], "high": scale * r["high"],
                    "n_seeds": r["n_seeds"], "n_examples": r["n_examples"]})
    return out


def _by_k(x: np.ndarray, ks: list[int], scale: float) -> dict:
    return {k: scale * x[:, i, :] for i, k in enumerate(ks)}


def method_slope(pilots: Sequence[Mapping], side: str, *, confidence: float = 0.95, n_boot: int = N_BOOT) -> dict:
    """:func:`adept.stats.slope` of the metric (x score_scale: points per prepended token) against ``k``."""
    from adept.stats import slope

    ks, x, scale = _stack(pilots, side)
    r = slope(_by_k(x, ks, scale), confidence=confidence, n_boot=n_boot)
    return {k: r[k] for k in ("slope", "low", "high", "intercept", "ks", "means_by_k", "against", "se",
                              "seed_share", "n_seeds", "n_examples", "confidence", "method")}


def run_summary(pilot: Mapping, *, confidence: float = 0.95, n_boot: int = N_BOOT) -> dict:
    """One run's bands and slope per padding side (one seed: conditional on the run), for ``analysis/pilot.json``."""
    if len(pilot["ks"]) < 2:
        return {"bands": {}, "slopes": {}}
    sides = list(pilot["per_example"]["sides"])
    return {"bands": {s: bands([pilot], s, confidence=confidence, n_boot=n_boot) for s in sides},
            "slopes": {s: method_slope([pilot], s, confidence=confidence, n_boot=n_boot) for s in sides}}


def _paired_by_seed(a: Sequence[tuple[int, Mapping]], b: Sequence[tuple[int, Mapping]]
                    ) -> tuple[list[Mapping], list[Mapping], list[int]]:
    """The runs of both methods with a seed both have, sorted by seed (seeds paired by index)."""
    seeds_a, seeds_b = dict(a), dict(b)
    common = sorted(set(seeds_a) & set(seeds_b))
    if not common:
        raise ValueError("DePT and ADePT have no seed in common: the slope difference pairs runs by seed.")
    return [seeds_a[s] for s in common], [seeds_b[s] for s in common], common


def caption(diff: Mapping | None, side: str) -> str:
    """The paper's expectation next to what the runs show, in words computed from ``diff``."""
    if diff is None:
        return f"{EXPECTATION} These runs cannot test it: they need analysed DePT and ADePT runs with a seed in common."
    lo, hi = diff["low"], diff["high"]
    reading = ("consistent with it" if hi < 0 else "against it" if lo > 0
               else "not enough to tell (the interval includes 0)")
    seeds = diff["n_seeds"]
    scope = (f"{seeds} seed{'s' if seeds != 1 else ''} x {diff['n_examples']} examples"
             + ("; one seed: run-to-run variation is not in the interval" if seeds == 1 else ""))
    return (f"{EXPECTATION} These runs show a DePT - ADePT slope difference of {diff['diff']:+.2f} points per "
            f"prepended token, {100 * diff['confidence']:g}% interval [{lo:+.2f}, {hi:+.2f}] ({side} padding, "
            f"{scope}); that is {reading}.")


def pilot_evidence(runs: Sequence[Mapping], *, confidence: float = 0.95, n_boot: int = N_BOOT) -> dict:
    """Bands, slopes and the DePT - ADePT slope difference over several runs' pilots.

    ``runs``: ``[{"run_id", "method", "seed", "pilot": analysis/pilot.json with its "per_example"}]``; runs of
    one method are its seeds. Every run must have used the same ``k`` values and the same test examples.
    Returns ``{"sides": {side: {"methods": {method: {"runs": [ids], "seeds": [...], "bands": [...],
    "slope": {...}}}, "difference": paired slope difference DePT - ADePT (keys of
    adept.stats.slope_difference, ``seeds`` used) or None, "caption": str}}, "expectation": str,
    "metric": score name}``. Slopes and differences are in metric points (x 100 for accuracy) per token.
    """
    from adept.stats import slope_difference

    runs = [r for r in runs if r.get("pilot") and r["pilot"].get("per_example")]
    if not runs:
        raise ValueError("No run has a pilot with per-example results: analyse the runs first "
                         "(`python -m adept analyze RUN_ID`).")
    by_method: dict[str, list[Mapping]] = {}
    for r in sorted(runs, key=lambda r: (r["method"], int(r.get("seed") or 0))):
        by_method.setdefault(r["method"], []).append(r)
    sides = sorted({s for r in runs for s in r["pilot"]["per_example"]["sides"]}, key=["right", "left"].index)
    out: dict = {"expectation": EXPECTATION, "metric": runs[0]["pilot"]["per_example"]["score_name"], "sides": {}}
    for side in sides:
        methods = {}
        for method, rs in by_method.items():
            rs = [r for r in rs if side in r["pilot"]["per_example"]["sides"]]
            if not rs:
                continue
            pilots = [r["pilot"] for r in rs]
            methods[method] = {"runs": [r["run_id"] for r in rs], "seeds": [r.get("seed") for r in rs],
                               "bands": bands(pilots, side, confidence=confidence, n_boot=n_boot),
                               "slope": (method_slope(pilots, side, confidence=confidence, n_boot=n_boot)
                                         if len(pilots[0]["ks"]) > 1 else None)}
        diff = None
        if "dept" in methods and "adept" in methods:
            pairs = [[(int(r.get("seed") or 0), r["pilot"]) for r in by_method[m]
                      if side in r["pilot"]["per_example"]["sides"]] for m in ("dept", "adept")]
            try:
                a, b, seeds = _paired_by_seed(*pairs)
                ks, xa, scale = _stack(a, side)
                _, xb, _ = _stack(b, side)
                if len(ks) > 1:
                    diff = {**slope_difference(_by_k(xa, ks, scale), _by_k(xb, ks, scale), confidence=confidence,
                                               n_boot=n_boot), "seeds": seeds}
            except ValueError:
                diff = None
        out["sides"][side] = {"methods": methods, "difference": diff, "caption": caption(diff, side)}
    return out


def load_pilot_runs(run_ids: Sequence[str]) -> list[dict]:
    """``[{"run_id", "method", "seed", "pilot"}]`` for :func:`pilot_evidence` from the runs' stored analyses
    (runs never analysed, or analysed before per-example results were stored, are left out)."""
    from adept import tracking
    from adept.analysis.common import ANALYSIS_DIR

    out = []
    for run_id in run_ids:
        pilot = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/pilot.json")
        examples = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/pilot_examples.json")
        cfg = tracking.load_json_artifact(run_id, "config.json") or {}
        if not pilot or not examples:
            continue
        out.append({"run_id": run_id, "method": pilot["method"], "seed": cfg.get("seed", 0),
                    "pilot": {**pilot, "per_example": examples}})
    return out
