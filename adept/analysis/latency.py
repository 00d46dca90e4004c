"""Inference latency at batch size 1: PT, DePT, ADePT and ADePT folded into the embedding table.

Every round runs each model over the same inputs, models interleaved in an order rotated round by round
(:func:`ab_timings`), so a change in machine load hits every model alike; the figure per model is
``median over rounds of (round seconds / inputs)``. At an equal parameter budget PT has the longest prompt
(``l``), DePT and ADePT a shorter one plus their offsets; folded ADePT (``E' = E + f(E)``) is a plain PT
model with the shorter prompt, so it should cost no more than PT; ``pt_short`` (PT with ADePT's prompt length)
is the comparison point at which folded ADePT should cost the same.

Spread: every round is one measurement of every model, taken side by side, so a ratio ``a/b`` has one paired
value per round, ``a_r / b_r``. :func:`ratio_interval` gives their geometric mean with a t-interval on
``log(a_r / b_r)`` (``R - 1`` degrees of freedom): when it includes 1, ``a`` and ``b`` cost the same within
the machine's noise.

What the paper expects and how to read the chart: docs/analyses.md, section 6.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence

import torch


@torch.no_grad()
def _infer(model, ids: torch.Tensor, mask: torch.Tensor, label_ids: list[int] | None) -> torch.Tensor:
    """One inference pass as evaluation does it: rank classification, or the encoder head."""
    if model.kind == "encoder" or label_ids is None:
        if model.kind == "encoder":
            return model(ids, mask).logits
        return model.hidden_states(ids, mask)
    return model.score_labels(ids, mask, label_ids)


def ab_timings(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, A/B interleaved: every round calls each function once, in an
    order rotated round by round (so drifting machine load hits every arm alike). ``warmup`` untimed
    rounds first. Returns ``{name: [seconds per round]}``."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def latency(models: dict, id_lists: list[list[int]], *, label_ids: list[int] | None = None, repeats: int = 3,
            warmup: int = 1, threads: int | None = 1) -> dict:
    """Per-example inference latency (batch size 1) of several models on the same inputs.

    Each round runs every model over all inputs, models interleaved in rotated order; the figure is the
    median over rounds of (round time / inputs). ``threads``: torch threads during the measurement (default
    1: a batch-1 forward of a small model gains little from more, and on a busy machine multi-threaded
    batch-1 timings are dominated by threads waiting for each other; None keeps the current setting).
    JSON shape::

        {"num_examples": N, "repeats": R, "batch_size": 1, "threads": T,
         "models": {name: {"median_ms": float, "rounds_ms": [R floats], "min_ms", "max_ms",
                           "iqr_ms": float (interquartile range of the rounds), "num_virtual_tokens": l}},
         "ratios": {"<a>/<b>": median_a / median_b, ...},      # every ordered pair of models
         "ratio_intervals": {"<a>/<b>": ratio_interval(...)}}  # the same pairs, paired per round
    """
    if not id_lists:
        raise ValueError("latency needs at least one input.")
    first = next(iter(models.values()))
    device = first.prompt.device
    tensors = [torch.tensor([ids], device=device) for ids in id_lists]

    def runner(m):
        def run():
            for x in tensors:
                _infer(m, x, torch.ones_like(x), label_ids)
        return run

    for m in models.values():
        m.eval()
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = ab_timings({name: runner(m) for name, m in models.items()}, repeats, warmup)
    finally:
        torch.set_num_threads(previous)
    n = len(id_lists)
    out = {"num_examples": n, "repeats": repeats, "batch_size": 1, "threads": threads or previous,
           "models": {}, "ratios": {}}
    med = {}
    for name, ts in times.items():
        med[name] = statistics.median(ts) / n
        ms = [1000 * t / n for t in ts]
        q = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else [ms[0]] * 3
        out["models"][name] = {"median_ms": 1000 * med[name], "rounds_ms": ms, "min_ms": min(ms),
                               "max_ms": max(ms), "iqr_ms": q[2] - q[0],
                               "num_virtual_tokens": models[name].num_virtual_tokens}
    out["ratio_intervals"] = {}
    for a in med:
        for b in med:
            if a != b:
                out["ratios"][f"{a}/{b}"] = med[a] / med[b]
                out["ratio_intervals"][f"{a}/{b}"] = ratio_interval(times[a], times[b])
    return out


def ratio_interval(times_a: Sequence[float], times_b: Sequence[float], confidence: float = 0.95) -> dict:
    """The cost ratio a/b from paired rounds: ``{"ratio": geometric mean of a_r / b_r, "low", "high",
    "rounds", "within_noise": the interval includes 1, "confidence"}``; one round gives no interval
    (``low`` = ``high`` = None, ``within_noise`` None)."""
    from adept.stats import t_quantile

    if len(times_a) != len(times_b) or not times_a:
        raise ValueError("ratio_interval needs the same number (>= 1) of paired rounds for both models.")
    logs = [math.log(a / b) for a, b in zip(times_a, times_b, strict=True)]
    mean = statistics.fmean(logs)
    out = {"ratio": math.exp(mean), "low": None, "high": None, "rounds": len(logs), "within_noise": None,
           "confidence": confidence}
    if len(logs) > 1:
        half = t_quantile((1 + confidence) / 2, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
        out.update(low=math.exp(mean - half), high=math.exp(mean + half))
        out["within_noise"] = bool(out["low"] <= 1.0 <= out["high"])
    return out


def cost_verdict(lat: dict, a: str = "adept_folded", b: str = "pt_short") -> str | None:
    """Words for the ratio a/b of :func:`latency`'s result, e.g. folded ADePT against PT with its prompt
    length; None when either model was not measured."""
    r = (lat.get("ratio_intervals") or {}).get(f"{a}/{b}")
    if r is None:
        return None
    if r["low"] is None:
        return f"{a} / {b} = {r['ratio']:.3f} from one round: no interval, run more repeats to tell."
    pct = f"{100 * r['confidence']:g}%"
    words = (f"{a} and {b} cost the same within noise" if r["within_noise"] else
             f"{a} is slower than {b}" if r["low"] > 1 else f"{a} is faster than {b}")
    return (f"{a} / {b} = {r['ratio']:.3f} ({pct} interval {r['low']:.3f} to {r['high']:.3f}, {r['rounds']} paired "
            f"rounds): {words}.")


def _latency_variants(model, cfg) -> dict:
    """PT, DePT, ADePT (unfolded) and ADePT folded at the run's budget; the run's own model for its method."""
    from adept import budget as budget_mod
    from adept.methods import build_method

    bb, d = model.backbone, model.backbone.d_model
    total = cfg.budget if cfg.budget is not None else 100 * d
    l_m = model.num_virtual_tokens if model.method != "pt" else None
    variants = {}
    for method in ("pt", "dept", "adept"):
        if method == model.method:
            variants[method] = model
            continue
        try:
            sol = budget_mod.solve(method, d, model.max_length, total, l_m if method != "pt" else None)
        except ValueError:
            sol = budget_mod.solve(method, d, model.max_length, total)
        variants[method] = build_method(method, bb, sol[0], sol[1] or None, model.max_length,
                                        num_labels=model.num_labels, padding_side=model.padding_side).eval()
    variants["adept_folded"] = variants["adept"].fold()
    short = variants["adept"].num_virtual_tokens
    if short != variants["pt"].num_virtual_tokens:  # PT with ADePT's prompt length: folded ADePT's cost point
        variants["pt_short"] = build_method("pt", bb, short, None, model.max_length, num_labels=model.num_labels,
                                            padding_side=model.padding_side).eval()
    return variants
