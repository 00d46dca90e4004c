"""adept.comparison without a store: the fast metric functions equal the tasks' metrics, the seed-spread
fallback is a t interval, the caption's three readings, and predictions-based results on known data."""

from __future__ import annotations

import numpy as np
import pytest

from adept import stats
from adept.comparison import Arm, Group, compare_group
from adept.comparison.metric_fns import metric_fn
from adept.comparison.words import caption
from adept.tasks import metrics as tm


def test_fast_metrics_equal_the_task_metrics():
    rng = np.random.default_rng(0)
    p, r = rng.integers(-1, 3, 300), rng.integers(0, 3, 300)
    assert metric_fn("classification", "f1", 3)(p, r) == pytest.approx(tm.f1_score(list(p), list(r), positive=1))
    assert metric_fn("classification", "macro_f1", 3)(p, r) == pytest.approx(tm.macro_f1(list(p), list(r), 3))
    assert metric_fn("classification", "mcc", 3)(p, r) == pytest.approx(tm.matthews_corrcoef(list(p), list(r)))
    x, y = rng.normal(size=200).round(1), rng.normal(size=200).round(1)  # rounded: ties in the ranks
    assert metric_fn("regression", "pearson", 0)(x, y) == pytest.approx(tm.pearson(x, y))
    assert metric_fn("regression", "spearman", 0)(x, y) == pytest.approx(tm.spearman(x, y))
    with pytest.raises(ValueError, match="no metric bootstrap"):
        metric_fn("classification", "bleu", 2)


def _payload(correct: np.ndarray) -> dict:
    recs = [{"index": i, "reference": 1, "prediction": int(c), "correct": bool(c), "score": float(c)}
            for i, c in enumerate(correct)]
    return {"task_kind": "classification", "num_examples": len(recs), "examples_digest": "d", "label_names": ["a", "b"],
            "records": recs}


def _arm(method: str, values, payloads=None) -> Arm:
    return Arm(method=method, run_ids=[f"{method}{i}" for i in range(len(values))], seeds=list(range(len(values))),
               values=list(values), payloads=payloads or [None] * len(values), budget="60 / 8")


def test_seed_spread_fallback_is_a_t_interval_and_says_so():
    res = compare_group(Group({"task": "t"}, [_arm("adept", [80, 82, 84]), _arm("pt", [70, 74, 72])]))
    assert res["basis"] == "seed spread" and "no stored per-example predictions" in res["note"]
    m = res["methods"][0]
    half = stats.t_quantile(0.975, 2) * np.std([80, 82, 84], ddof=1) / np.sqrt(3)
    assert (m["low"], m["high"]) == pytest.approx((82 - half, 82 + half))
    pair = res["pairs"][0]
    assert pair["diff"] == pytest.approx(10) and pair["p"] is None and pair["low"] > 0
    one = compare_group(Group({"task": "t"}, [_arm("adept", [80]), _arm("pt", [70])]))
    assert one["methods"][0]["low"] is None and "cannot tell" in one["pairs"][0]["verdict"]


def test_predictions_basis_detects_a_large_paired_difference():
    rng = np.random.default_rng(1)
    a = [_payload(rng.random(500) < 0.9) for _ in range(3)]
    b = [_payload(rng.random(500) < 0.6) for _ in range(3)]
    res = compare_group(Group({"task": "t"}, [_arm("adept", [0, 0, 0], a), _arm("pt", [0, 0, 0], b)]),
                        n_boot=500, target_diff=5)
    assert res["basis"] == "predictions" and res["n_examples"] == 500
    pair = res["pairs"][0]
    assert 20 < pair["low"] < pair["diff"] < pair["high"] < 40 and pair["p_holm"] < 0.01
    assert pair["verdict"].startswith("ADePT is ahead of PT")
    assert pair["mdd"] > 0 and pair["seeds_needed"] >= 1
    mixed = compare_group(Group({"task": "t"}, [_arm("adept", [0, 0, 0], a[:2] + [None]),
                                                _arm("pt", [0, 0, 0], b)]), n_boot=200)
    assert mixed["basis"] == "predictions" and mixed["note"].startswith("1 run(s) without stored predictions")


def _result(pairs):
    return {"metric": "test/accuracy", "confidence": 0.95, "basis": "predictions",
            "methods": [{"name": n} for n in ("ADePT", "DePT", "PT")], "pairs": pairs}


def _pair(a, b, diff, low, high, p=0.001):
    return {"a": a, "b": b, "diff": diff, "low": low, "high": high, "p_holm": p, "mdd": 3.0}


def test_caption_keeps_the_expectation_apart_from_what_the_runs_show():
    up = caption(_result([_pair("ADePT", "DePT", 2, 1, 3), _pair("DePT", "PT", 3, 1, 5)]))
    assert up.startswith("The paper expects ADePT ≥ DePT ≥ PT") and "consistent with the expectation" in up
    assert "ADePT − DePT = +2.0 points (95 % interval 1.0 to 3.0)" in up
    down = caption(_result([_pair("ADePT", "DePT", -2, -3, -1), _pair("DePT", "PT", 3, 1, 5)]))
    assert "against the expectation" in down
    unsure = caption(_result([_pair("ADePT", "DePT", 1, -1, 3, 0.3), _pair("DePT", "PT", 3, 1, 5)]))
    assert "not enough to tell" in unsure and "3.0 points" in unsure
    only = caption({**_result([]), "methods": [{"name": "PT"}]})
    assert "run all three methods" in only
