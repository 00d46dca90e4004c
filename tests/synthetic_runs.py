"""Runs with known answers for the statistics, report and claims tests: MLflow runs logged directly (no
training), with per-example test predictions drawn with a known accuracy per method, step times, and stored
analyses whose exact checks and slopes are known. ``make_experiment`` writes one experiment and returns its
run ids by method."""

from __future__ import annotations

import json

import numpy as np

from adept import tracking
from adept.predictions import artifact_name

KS = [0, 1, 2, 4, 8, 16]


def _payload(refs: np.ndarray, correct: np.ndarray) -> dict:
    recs = [{"index": i, "reference": int(r), "prediction": int(r if c else 1 - r),
             "label_scores": [0.0, -1.0] if (r if c else 1 - r) == 0 else [-1.0, 0.0], "correct": bool(c),
             "score": float(c)} for i, (r, c) in enumerate(zip(refs, correct))]
    return {"format": 1, "split": "test", "task": "rotten-tomatoes", "task_kind": "classification",
            "metric_names": ["accuracy", "f1"], "label_names": ["negative", "positive"], "num_examples": len(refs),
            "examples_digest": "synthetic", "metrics": {"accuracy": 100 * float(correct.mean())}, "records": recs}


def _analyses(method: str, rng: np.random.Generator, n_pilot: int, pilot_drop: float) -> dict:
    """The stored analyses of one run: exact offset facts by method, a pilot whose accuracy falls by
    ``pilot_drop`` points per prepended token, latency rounds with folded ADePT as cheap as the short PT."""
    zero = method == "pt"
    out = {
        "position_vs_input": {
            "method": method, "padding_side": "right",
            "same_token": {"tokens_compared": 20, "pairs": 0 if zero else 50,
                           "max_difference": 0.4 if method == "dept" else 0.0, "mean_difference": 0.1,
                           "mean_offset_norm": 0.0 if zero else 1.0, "examples": []},
            "position_variance": {"slot": [0, 1], "variance": [0, 0], "count": [4, 4],
                                  "mean_variance": 0.3 if method == "adept" else 0.0,
                                  "mean_sq_offset": 0.0 if zero else 1.0},
            "tokens_per_position": {"row": [0, 1, 2], "distinct_tokens": [4, 6, 5], "mean": 5.0, "max": 6},
            "shift_demo": None},
        "offset_stats": {"method": method, "norms": {"offset_mean": 0.0 if zero else 0.3},
                         "distinct": {"tokens_seen": 40, "positions_seen": 12,
                                      "offset_vectors": {"pt": 1, "dept": 12, "adept": 40}[method]}},
        "attention": {"method": method, "position_encoding": "relative",
                      "relative_change": {"pt": 0.0, "dept": 0.02, "adept": 0.03}[method]},
        "latency": {"num_examples": 4, "repeats": 8, "models": {
            "pt": {"rounds_ms": list(10 + rng.normal(0, 0.2, 8))},
            "pt_short": {"rounds_ms": list(6 + rng.normal(0, 0.1, 8))},
            "adept": {"rounds_ms": list(7 + rng.normal(0, 0.1, 8))}}},
    }
    out["latency"]["models"]["adept_folded"] = {
        "rounds_ms": [v * (1 + rng.normal(0, 0.005)) for v in out["latency"]["models"]["pt_short"]["rounds_ms"]]}
    refs = rng.integers(0, 2, n_pilot)
    scores = [(rng.random(n_pilot) < 0.85 - pilot_drop * k / 100).astype(float).tolist() for k in KS]
    out["pilot"] = {"method": method, "task": "rotten-tomatoes", "metric": "accuracy", "metric_names": ["accuracy"],
                    "ks": KS, "num_examples": n_pilot, "trained_padding_side": "right",
                    "results": {"right": {"accuracy": [100 * float(np.mean(s)) for s in scores]}},
                    "per_example": {"score_name": "accuracy", "score_scale": 100,
                                    "example_index": list(range(n_pilot)), "references": refs.tolist(),
                                    "sides": {"right": {"scores": scores}}}}
    return out


def make_experiment(name: str, accuracy: dict[str, float], *, seeds=(0, 1, 2), n: int = 400,
                    step_s: dict[str, float] | None = None, predictions: bool = True, analyses: bool = True,
                    pilot_drop: dict[str, float] | None = None, seed: int = 0) -> dict[str, list[str]]:
    """One experiment: for each method (``accuracy``: method -> probability of a correct answer) and seed, a
    FINISHED run on the same ``n`` test examples. ``step_s``: seconds per step by method (20 steps logged)."""
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 2, n)
    step_s = step_s or {"pt": 1.0, "dept": 0.7, "adept": 0.7}
    pilot_drop = pilot_drop or {"pt": 0.0, "dept": 3.0, "adept": 0.0}
    ids: dict[str, list[str]] = {}
    for method, acc in accuracy.items():
        for s in seeds:
            p = float(np.clip(acc + rng.normal(0, 0.005), 0, 1))
            correct = rng.random(n) < p
            tags = {"adept.method": method, "adept.backbone": "tiny-llama", "adept.task": "rotten-tomatoes",
                    "adept.seed": str(s)}
            with tracking.RunTracker(experiment=name, run_name=f"{method}-s{s}", tags=tags) as tr:
                tr.log_params({"method": method, "solved.num_virtual_tokens": 100 if method == "pt" else 60,
                               "solved.rank": 0 if method == "pt" else 8})
                for step in range(1, 21):
                    tr.log_metrics({"time/step_s": step_s[method] * float(np.exp(rng.normal(0, 0.03)))}, step=step)
                tr.log_metrics({"test/accuracy": 100 * float(correct.mean()),
                                "time/mean_step_s": step_s[method]}, step=20)
                if predictions:
                    tr.log_text(json.dumps(_payload(refs, correct)), artifact_name())
                if analyses and s in seeds[:2]:
                    for key, obj in _analyses(method, rng, 200, pilot_drop[method]).items():
                        tr.log_json(obj, f"analysis/{key}.json")
            ids.setdefault(method, []).append(tr.run_id)
    return ids
