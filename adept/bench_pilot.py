"""The pilot's speed for ``python -m adept bench`` (one call from :func:`adept.bench.run_bench`).

Two arms, A/B interleaved (:func:`adept.analysis.ab_timings`), medians over rounds, the same test examples,
``k`` values and padding sides (both on decoder backbones), a DePT model at ``l = 60`` with non-zero offsets:

* ``batched``: :func:`adept.analysis.pilot_experiment` (every ``k`` of a side in one length-sorted pass, the
  soft prompt's keys and values once on causal backbones; :mod:`adept.analysis.batched`);
* ``per_k``: what the pilot did before: :func:`adept.encoding.evaluate_ids` on each ``k`` alone, in the
  examples' order, at the evaluation batch size (32).

Line: ``pilot seconds per 100 examples`` (batched; the ``analyze --pilot-examples 500`` cost is 5x that),
with the per-k figure and the ratio, and whether both arms gave the same metrics.
"""

from __future__ import annotations

import statistics

import torch

from adept.analysis import PILOT_KS, ab_timings, neutral_token_ids, pilot_experiment, pilot_inputs


def bench_pilot(backbone_name: str, *, examples: int = 32, repeats: int = 2, num_virtual_tokens: int = 60,
                max_length: int = 96) -> dict:
    """Seconds of both arms. Returns ``{"backbone", "examples", "ks", "sides", "median_s": {"batched",
    "per_k"}, "per_100": {"batched", "per_k"}, "ratio": batched / per_k, "same_metrics", "repeats"}``."""
    from adept.backbones import load_backbone
    from adept.encoding import Encoder, evaluate_ids
    from adept.methods import build_method
    from adept.tasks import load_task

    bb = load_backbone(backbone_name)
    task = load_task("rotten-tomatoes")
    enc = Encoder(task, bb.tokenizer, bb.kind, max_length)
    model = build_method("dept", bb, num_virtual_tokens, None, max_length, budget=100 * bb.d_model,
                         num_labels=2 if bb.kind == "encoder" else None).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameter_groups()["offsets"]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    test = task.splits["test"][:examples]
    sides = ["right", "left"] if bb.kind == "causal" else ["right"]
    refs = [ex.label for ex in test]
    per_k = pilot_inputs(enc, [enc.source(ex) for ex in test], neutral_token_ids(bb.tokenizer, max(PILOT_KS)),
                         PILOT_KS, max_length)
    results: dict = {}

    def batched() -> None:
        results["batched"] = pilot_experiment(model, enc, test, PILOT_KS, padding_sides=sides)["results"]

    def one_k_at_a_time() -> None:
        out = {}
        for side in sides:
            model.padding_side = side
            out[side] = [evaluate_ids(model, enc, lists, refs, 32) for lists in per_k]
        model.padding_side = "right"
        results["per_k"] = out

    with torch.inference_mode():
        times = ab_timings({"batched": batched, "per_k": one_k_at_a_time}, repeats, warmup=0)
    same = all(abs(results["batched"][s]["accuracy"][i] - results["per_k"][s][i]["accuracy"]) < 1e-9
               for s in sides for i in range(len(PILOT_KS)))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"backbone": backbone_name, "examples": examples, "ks": list(PILOT_KS), "sides": sides,
            "median_s": med, "per_100": {k: 100 * v / examples for k, v in med.items()},
            "ratio": med["batched"] / med["per_k"], "same_metrics": same, "repeats": repeats}


def pilot_line(r: dict) -> str:
    return (f"[{r['backbone']}] pilot seconds per 100 examples: {r['per_100']['batched']:.1f}  (batched, "
            f"{len(r['ks'])} ks x {len(r['sides'])} side(s), DePT l=60; one k at a time "
            f"{r['per_100']['per_k']:.1f} s, ratio {r['ratio']:.2f}; same metrics: {r['same_metrics']}; "
            f"{r['examples']} examples, medians of {r['repeats']} A/B rounds)")
