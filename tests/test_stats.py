"""adept.stats: coverage, false positives and power on synthetic data with a known truth, the exact tests
against brute force, Holm, slopes, metric bootstraps, power formulas, verdict words and input errors.

Every simulation has a fixed seed, so the tests are deterministic; the tolerances are wide enough for the
Monte Carlo spread of ~200 datasets (binomial SE of a 95% coverage ~1.5%) and tight enough to catch an
interval that is too narrow or too wide.
"""

import itertools
import math
import time
from functools import partial

import numpy as np
import pytest

from adept import stats as st

# ------------------------------------------------------------------------------------------------
# Synthetic data


def _pair_with_seed_effect(rng, *, seeds=3, n=250, diff=0.04, seed_sd=0.015):
    """Bernoulli correctness of two methods on the same examples: example difficulty shared by both,
    a method-specific per-example effect, a per-seed shift for each method. True mean difference = ``diff``
    (example effects symmetric, seed shifts mean 0, no clipping at these sizes)."""
    base = rng.uniform(0.3, 0.8, n)
    tilt = rng.uniform(-0.1, 0.1, n)  # symmetric: A better on some examples, B on others
    pa = base + diff / 2 + tilt + rng.normal(0, seed_sd, (seeds, 1))
    pb = base - diff / 2 - tilt + rng.normal(0, seed_sd, (seeds, 1))
    return (rng.random((seeds, n)) < pa).astype(float), (rng.random((seeds, n)) < pb).astype(float)


def accuracy(pred, ref):
    return 100.0 * float(np.mean(np.asarray(pred) == np.asarray(ref)))


def macro_f1(pred, ref, k=3):
    pred, ref = np.asarray(pred), np.asarray(ref)
    f1 = []
    for c in range(k):
        tp = np.sum((pred == c) & (ref == c))
        denom = 2 * tp + np.sum((pred == c) & (ref != c)) + np.sum((pred != c) & (ref == c))
        f1.append(2 * tp / denom if denom else 0.0)
    return 100.0 * float(np.mean(f1))


def pearson(pred, ref):
    x, y = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    x, y = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(x @ x) * float(y @ y))
    return 100.0 * float(x @ y) / denom if denom else 0.0


# ------------------------------------------------------------------------------------------------
# paired_difference / mean_interval


def test_paired_difference_result_and_determinism():
    rng = np.random.default_rng(0)
    a, b = _pair_with_seed_effect(rng, n=400)
    r = st.paired_difference(a, b, n_boot=500, n_perm=2000, seed=1)
    for key in ("diff", "low", "high", "p_value", "n_seeds", "n_examples", "confidence", "method",
                "mean_a", "mean_b", "se"):
        assert key in r
    assert r["diff"] == pytest.approx(a.mean() - b.mean())
    assert r["low"] < r["diff"] < r["high"]
    assert (r["n_seeds"], r["n_examples"], r["confidence"]) == (3, 400, 0.95)
    assert "3 seeds x 400 examples" in r["method"] and "sign-flip" in r["method"]
    assert st.paired_difference(a, b, n_boot=500, n_perm=2000, seed=1) == r
    # the sign-flip test has its own random stream: changing n_boot leaves its p-value unchanged
    assert st.paired_difference(a, b, n_boot=300, n_perm=2000, seed=1)["p_examples"] == r["p_examples"]
    assert r["p_value"] >= r["p_examples"]  # with seeds: the larger of the bootstrap's and the sign flip's
    # 1-D = one seed, and the method text says what that assumes
    one = st.paired_difference(a[0], b[0], n_boot=200)
    assert one["n_seeds"] == 1 and "between-seed variance assumed 0" in one["method"]


def test_coverage_two_way_bootstrap_with_seed_effect():
    rng = np.random.default_rng(2024)
    truth, hits = 0.04, []
    for i in range(200):
        a, b = _pair_with_seed_effect(rng, diff=truth)
        r = st.paired_difference(a, b, n_boot=300, n_perm=100, seed=i)
        hits.append(r["low"] <= truth <= r["high"])
    assert 0.90 <= np.mean(hits) <= 0.99


def test_coverage_mean_interval_one_and_three_seeds():
    rng = np.random.default_rng(7)
    hits = {1: [], 3: []}
    for i in range(200):
        x1 = (rng.random(200) < 0.7).astype(float)
        p3 = rng.uniform(0.4, 0.9, 200) + rng.normal(0, 0.02, (3, 1))  # population mean 0.65
        x3 = (rng.random((3, 200)) < p3).astype(float)
        r1, r3 = st.mean_interval(x1, n_boot=300, seed=i), st.mean_interval(x3, n_boot=300, seed=i)
        hits[1].append(r1["low"] <= 0.7 <= r1["high"])
        hits[3].append(r3["low"] <= 0.65 <= r3["high"])
    assert 0.90 <= np.mean(hits[1]) <= 0.99
    assert 0.90 <= np.mean(hits[3]) <= 0.99


def test_false_positive_rate_and_uniform_p_values():
    rng = np.random.default_rng(11)
    ps = []
    for i in range(300):
        base = rng.uniform(0.2, 0.9, 200)  # no difference, no seed effect: A and B exchangeable per example
        a = (rng.random((3, 200)) < base).astype(float)
        b = (rng.random((3, 200)) < base).astype(float)
        r = st.paired_difference(a, b, n_boot=100, n_perm=300, seed=i)
        assert r["p_value"] >= r["p_examples"]
        ps.append(r["p_examples"])
    ps = np.array(ps)
    assert np.mean(ps < 0.05) <= 0.09
    assert 0.40 <= np.mean(ps < 0.5) <= 0.60
    assert 0.05 <= np.mean(ps < 0.1) <= 0.15
    # ties: d_j takes few values, so P(|T*| = |T|) > 0 and a valid test has mean p a little above 1/2
    assert 0.45 <= ps.mean() <= 0.60


def test_seed_spread_is_not_called_a_difference():
    # No true difference, but each training run shifts its method's accuracy (seed effect): the per-example
    # sign flip alone sees the runs' shifts as a real difference; the p-value used carries the seed spread.
    rng = np.random.default_rng(5)
    p_used, p_examples = [], []
    for i in range(150):
        a, b = _pair_with_seed_effect(rng, n=300, diff=0.0, seed_sd=0.05)
        r = st.paired_difference(a, b, n_boot=400, n_perm=200, seed=i)
        p_used.append(r["p_value"])
        p_examples.append(r["p_examples"])
    assert np.mean(np.array(p_used) < 0.05) <= 0.12
    assert np.mean(np.array(p_examples) < 0.05) >= 0.25


def test_large_difference_is_detected():
    rng = np.random.default_rng(3)
    a, b = _pair_with_seed_effect(rng, n=500, diff=0.15)
    r = st.paired_difference(a, b, n_boot=500)
    assert r["p_value"] < 0.01 and r["low"] > 0
    assert st.verdict(r, names=("ADePT", "DePT"), scale=100).startswith("ADePT is ahead of DePT by ")


def test_monte_carlo_p_value_has_the_plus_one_correction():
    d = np.ones(100)  # every flip but the identity is less extreme
    p, how = st.sign_flip_p_value(d, n_perm=999)
    assert p == pytest.approx(1 / 1000) and "999 random flips" in how


def test_exact_sign_flip_equals_brute_force():
    d = np.array([1.0, -0.5, 0.0, 2.0, 1.0, 0.0, 0.25, -1.0, 0.75])
    observed = abs(d.sum())
    flips = [abs(np.dot(s, d)) >= observed - 1e-12 for s in itertools.product((1, -1), repeat=d.size)]
    p, how = st.sign_flip_p_value(d)
    assert p == pytest.approx(np.mean(flips)) and "exact" in how and "128 patterns" in how
    # paired_difference takes the exact branch when few per-example differences are nonzero
    a = np.zeros((2, 30))
    b = np.zeros((2, 30))
    a[:, :5] = 1
    b[0, 5] = 1
    r = st.paired_difference(a, b, n_boot=100)
    assert "exact sign-flip test (64 patterns)" in r["method"]
    dj = (a - b).mean(axis=0)
    brute = np.mean([abs(np.dot(s, dj[:6])) >= abs(dj.sum()) - 1e-12 for s in itertools.product((1, -1), repeat=6)])
    assert r["p_examples"] == pytest.approx(brute) and r["p_value"] >= r["p_examples"]


# ------------------------------------------------------------------------------------------------
# Holm


def test_holm_hand_computed():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.04 -> 0.06
    assert st.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert st.holm([0.5, 0.6]) == [1.0, 1.0]
    assert st.holm([0.2]) == [0.2]
    assert st.holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.holm([0.1, float("nan")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.holm([1.2])


# ------------------------------------------------------------------------------------------------
# Slopes


KS = (0, 1, 2, 4, 8, 16)


def test_slope_of_an_exact_line_and_of_log2():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, (3, 50))
    r = st.slope({k: 3 + 0.5 * k + noise for k in KS}, n_boot=200)
    assert r["slope"] == pytest.approx(0.5) and r["intercept"] == pytest.approx(3 + noise.mean())
    assert r["low"] == pytest.approx(0.5) and r["high"] == pytest.approx(0.5)  # noise is the same at every k
    assert r["ks"] == list(map(float, KS)) and r["against"] == "k"
    log = st.slope({str(k): 2 - 0.1 * math.log2(1 + k) + noise for k in KS}, against="log2(1+k)", n_boot=200)
    assert log["slope"] == pytest.approx(-0.1) and log["ks"] == list(map(float, KS))  # "16" sorts after "2"


def test_slope_recovers_a_linear_truth_with_coverage():
    rng = np.random.default_rng(5)
    truth, hits, estimates = -0.01, [], []
    for i in range(100):
        base = rng.uniform(0.6, 0.95, 150)
        seed_shift = rng.normal(0, 0.01, (3, 1))
        by_k = {k: (rng.random((3, 150)) < base + seed_shift + truth * k).astype(float) for k in KS}
        r = st.slope(by_k, n_boot=200, seed=i)
        hits.append(r["low"] <= truth <= r["high"])
        estimates.append(r["slope"])
    assert 0.88 <= np.mean(hits) <= 1.0
    assert np.mean(estimates) == pytest.approx(truth, abs=0.001)


def test_slope_difference_sign_and_p_value():
    rng = np.random.default_rng(9)
    base = rng.uniform(0.6, 0.95, 300)
    dept = {k: (rng.random((3, 300)) < base - 0.015 * k).astype(float) for k in KS}  # falls with k
    adept = {k: (rng.random((3, 300)) < base).astype(float) for k in KS}  # flat
    r = st.slope_difference(dept, adept, n_boot=300)
    assert r["diff"] < 0 and r["high"] < 0 and r["p_value"] < 0.01
    assert r["diff"] == pytest.approx(r["slope_a"] - r["slope_b"])
    assert r["slope_a"] == pytest.approx(-0.015, abs=0.004) and abs(r["slope_b"]) < 0.004
    assert "DePT is behind" not in st.verdict(r, names=("DePT", "ADePT"), unit="per token")
    assert st.verdict(r, names=("DePT", "ADePT"), unit="per token").startswith("ADePT is ahead of DePT")
    with pytest.raises(ValueError, match="same k values"):
        st.slope_difference(dept, {k: adept[k] for k in KS[:-1]})


# ------------------------------------------------------------------------------------------------
# Metrics that are not a mean


def test_metric_interval_pearson_coverage():
    rng = np.random.default_rng(21)
    rho, hits = 0.5, []
    cov = [[1, rho], [rho, 1]]
    for i in range(150):
        xy = rng.multivariate_normal([0, 0], cov, size=150)
        r = st.metric_interval(pearson, xy[:, 0], xy[:, 1], n_boot=200, seed=i)
        hits.append(r["low"] <= 100 * rho <= r["high"])
    assert 0.88 <= np.mean(hits) <= 0.99


def _confusion_sample(rng, joint, n):
    """(pred, ref) pairs drawn from a 3x3 joint probability table joint[ref, pred]."""
    cells = rng.choice(9, size=n, p=joint.ravel())
    return cells % 3, cells // 3


def _population_macro_f1(joint):
    return 100 * np.mean([2 * joint[c, c] / (joint[c, :].sum() + joint[:, c].sum()) for c in range(3)])


def test_metric_interval_macro_f1_coverage_against_the_population_value():
    rng = np.random.default_rng(4)
    joint = np.array([[0.30, 0.05, 0.05], [0.04, 0.20, 0.06], [0.05, 0.05, 0.20]])
    truth, hits = _population_macro_f1(joint), []
    for i in range(120):
        pred, ref = _confusion_sample(rng, joint, 200)
        r = st.metric_interval(macro_f1, pred, ref, n_boot=200, seed=i)
        hits.append(r["low"] <= truth <= r["high"])
    assert 0.88 <= np.mean(hits) <= 0.99


def test_paired_metric_difference_macro_f1_detects_a_better_method():
    rng = np.random.default_rng(8)
    ref = rng.integers(0, 3, 300)
    good = [np.where(rng.random(300) < 0.8, ref, rng.integers(0, 3, 300)) for _ in range(3)]
    poor = [np.where(rng.random(300) < 0.55, ref, rng.integers(0, 3, 300)) for _ in range(3)]
    r = st.paired_metric_difference(macro_f1, good, poor, ref, n_boot=150, n_perm=150)
    assert r["n_seeds"] == 3 and r["low"] > 0 and r["p_value"] < 0.01
    assert r["diff"] == pytest.approx(np.mean([macro_f1(g, ref) - macro_f1(p, ref) for g, p in zip(good, poor)]))
    assert "swap permutation test" in r["method"]


def test_metric_bootstrap_with_accuracy_matches_the_mean_bootstrap():
    rng = np.random.default_rng(6)
    ref = rng.integers(0, 2, 120)
    pa = np.where(rng.random((3, 120)) < 0.8, ref, 1 - ref)
    pb = np.where(rng.random((3, 120)) < 0.7, ref, 1 - ref)
    m = st.paired_metric_difference(accuracy, pa, pb, ref, n_boot=200, n_perm=100, seed=3)
    s = st.paired_difference((pa == ref).astype(float), (pb == ref).astype(float), n_boot=200, seed=3)
    for key in ("diff", "low", "high", "se"):
        assert m[key] == pytest.approx(100 * s[key], rel=1e-9, abs=1e-9)
    one = st.metric_interval(accuracy, pa, ref, n_boot=200, seed=3)
    mean = st.mean_interval((pa == ref).astype(float), n_boot=200, seed=3)
    assert (one["low"], one["high"]) == pytest.approx((100 * mean["low"], 100 * mean["high"]))


def test_exact_swap_test_equals_brute_force():
    ref = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    pa = np.array([0, 1, 1, 0, 1, 1, 1, 0])
    pb = np.array([1, 0, 1, 0, 0, 1, 1, 1])  # differs from pa on examples 0, 1, 4, 7
    r = st.paired_metric_difference(pearson, pa, pb, ref, n_boot=100, n_perm=100)
    observed = abs(pearson(pa, ref) - pearson(pb, ref))
    brute = []
    for swap in itertools.product((False, True), repeat=ref.size):
        s = np.array(swap)
        brute.append(abs(pearson(np.where(s, pb, pa), ref) - pearson(np.where(s, pa, pb), ref)) >= observed - 1e-9)
    assert "exact swap test (16 patterns)" in r["method"]
    assert r["p_value"] == pytest.approx(np.mean(brute))


def test_project_metrics_and_answer_lists_are_accepted():
    from adept import tasks

    rng = np.random.default_rng(1)
    ref = list(rng.integers(0, 2, 60))
    pred = [[int(v) if rng.random() < 0.8 else 1 - int(v) for v in ref] for _ in range(2)]
    for fn in (tasks.matthews_corrcoef, partial(tasks.macro_f1, num_classes=2), tasks.accuracy):
        r = st.metric_interval(fn, pred, ref, n_boot=100)
        assert r["n_seeds"] == 2 and r["low"] <= r["value"] <= r["high"]
    # generation: string predictions, several gold answers per example (object arrays stay whole)
    answers = [["paris", "Paris"], ["4", "four"], ["blue"]] * 10
    guesses = ["Paris", "four", "red"] * 10
    r = st.metric_interval(tasks.squad_em, guesses, answers, n_boot=100)
    assert r["value"] == pytest.approx(tasks.squad_em(guesses, answers)) and r["n_seeds"] == 1


# ------------------------------------------------------------------------------------------------
# Power and sensitivity


def test_minimum_detectable_difference_one_seed_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 400), rng.normal(0, 1, 400)
    r = st.minimum_detectable_difference(a, b)
    expected = (1.959964 + 0.841621) * np.std(a - b, ddof=1) / math.sqrt(400)
    assert r["mdd"] == pytest.approx(expected, rel=1e-5)
    assert "between-seed variance assumed 0" in r["note"]
    need = st.seeds_needed(a, b, 0.1)
    assert need["seeds"] is None and "one seed" in need["reason"]


def test_variance_components_and_seeds_needed():
    rng = np.random.default_rng(1)
    S, n = 30, 400
    d = 0.5 * rng.normal(size=(S, 1)) + 1.0 * rng.normal(size=(1, n)) + 2.0 * rng.normal(size=(S, n))
    comp = st.variance_components(d, np.zeros_like(d))
    assert comp["seed"] == pytest.approx(0.25, rel=0.5)
    assert comp["example"] == pytest.approx(1.0, rel=0.25)
    assert comp["interaction"] == pytest.approx(4.0, rel=0.05)
    a, b = d[:3], np.zeros((3, n))
    few, many = st.seeds_needed(a, b, 0.4), st.seeds_needed(a, b, 0.2)
    assert isinstance(few["seeds"], int) and isinstance(many["seeds"], int) and 1 < few["seeds"] < many["seeds"]
    c = many["components"]  # the answer is the smallest S' whose SE meets the target
    se = lambda s: math.sqrt(c["seed"] / s + c["example"] / n + c["interaction"] / (s * n))
    assert se(many["seeds"]) <= many["se_target"] < se(many["seeds"] - 1)
    impossible = st.seeds_needed(a, b, 0.05)  # below what the example part allows
    assert impossible["seeds"] == math.inf and "more test examples" in impossible["reason"]
    mdd = st.minimum_detectable_difference(a, b)
    assert mdd["mdd"] == pytest.approx((1.959964 + 0.841621) * mdd["components"]["se"], rel=1e-5)
    assert st.minimum_detectable_difference(np.ones(5), np.ones(5))["mdd"] is None
    assert st.seeds_needed(np.ones((2, 5)), np.ones((2, 5)), 0.1)["seeds"] == 1


# ------------------------------------------------------------------------------------------------
# verdict


def _res(diff, low, high, p=None):
    r = {"diff": diff, "low": low, "high": high, "confidence": 0.95}
    return r if p is None else {**r, "p_value": p}


def test_verdict_words():
    assert st.verdict(_res(2.3, 0.4, 4.1, 0.02)) == "A is ahead of B by 2.3 points (95% CI 0.4 to 4.1, p = 0.02)."
    assert st.verdict(_res(-2.3, -4.1, -0.4, 0.02), names=("ADePT", "DePT")).startswith(
        "DePT is ahead of ADePT by 2.3 points (95% CI 0.4 to 4.1")
    low_better = st.verdict(_res(-0.023, -0.041, -0.004, 0.0004), higher_is_better=False, names=("A", "B"),
                            scale=100, unit="")
    assert low_better == "A is ahead of B by 2.3 (95% CI 0.4 to 4.1, p < 0.001; lower is better)."
    none = st.verdict(_res(0.9, -1.2, 3.0, 0.4))
    assert none.startswith("no detectable difference") and "(-1.2, 3.0) includes 0" in none
    # a small per-example p never turns an interval that includes 0 into a claim
    conditional = st.verdict(_res(0.9, -1.2, 3.0, 0.01))
    assert conditional.startswith("no detectable difference") and "these training runs only" in conditional
    assert st.verdict(_res(1.0, 0.1, 2.0, 0.2)).startswith("inconclusive")
    assert st.verdict(_res(1.0, 0.1, 2.0)).startswith("A is ahead of B by 1.0 points (95% CI 0.1 to 2.0).")
    assert "p = 0.0497" in st.verdict(_res(2.0, 0.1, 4.0, 0.0497))  # never rounds up to the threshold
    one_seed = st.verdict({**_res(2.0, 0.1, 4.0, 0.01), "n_seeds": 1})
    assert one_seed.endswith("One seed: run-to-run variation is not in the interval.")
    # the interval decides the direction, whatever the sign of the point estimate
    assert st.verdict(_res(0.0, 0.1, 2.0, 0.01)).startswith("A is ahead of B")
    with pytest.raises(ValueError, match="missing"):
        st.verdict({"diff": 1.0})


# ------------------------------------------------------------------------------------------------
# Input validation, quantiles, speed


@pytest.mark.parametrize("call, match", [
    (lambda: st.paired_difference(np.ones((3, 10)), np.ones((2, 10))), "same shape"),
    (lambda: st.paired_difference(np.ones(10), np.ones(11)), "same shape"),
    (lambda: st.paired_difference([], []), "empty"),
    (lambda: st.paired_difference(np.ones((2, 0)), np.ones((2, 0))), "empty"),
    (lambda: st.paired_difference([1.0, float("nan")], [1.0, 0.0]), "NaN"),
    (lambda: st.paired_difference(np.ones((2, 2, 2)), np.ones((2, 2, 2))), "shape"),
    (lambda: st.paired_difference(["x", "y"], [1, 0]), "numeric"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), confidence=1.0), "confidence"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), confidence=0), "confidence"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), confidence=95), "confidence"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), n_boot=50), "n_boot"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), n_boot=200.0), "n_boot"),
    (lambda: st.paired_difference(np.ones(10), np.ones(10), n_perm=10), "n_perm"),
    (lambda: st.mean_interval(np.array([[1.0, np.inf]])), "NaN"),
    (lambda: st.metric_interval(accuracy, [0, 1, 1], [0, 1]), "same test examples"),
    (lambda: st.metric_interval(lambda p, r: float("nan"), [0, 1], [0, 1]), "finite"),
    (lambda: st.metric_interval(accuracy, [], []), "empty"),
    (lambda: st.paired_metric_difference(accuracy, [[0, 1], [1, 1]], [0, 1], [0, 1]), "seeds"),
    (lambda: st.slope({0: np.ones(5)}), "at least two"),
    (lambda: st.slope({0: np.ones(5), 1: np.ones(6)}), "same seeds x examples"),
    (lambda: st.slope({0: np.ones(5), -1: np.ones(5)}), "k >= 0"),
    (lambda: st.slope({0: np.ones(5), 1: np.ones(5)}, against="log"), "against"),
    (lambda: st.minimum_detectable_difference(np.ones(5), np.zeros(5), power=1.0), "power"),
    (lambda: st.minimum_detectable_difference(np.ones(1), np.zeros(1)), "at least 2 examples"),
    (lambda: st.seeds_needed(np.ones((2, 5)), np.zeros((2, 5)), 0.0), "nonzero"),
    (lambda: st.verdict(_res(1, 0, 2), names=("A",)), "two names"),
])
def test_input_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_t_quantile_known_values():
    for df, q in ((1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (9, 2.2622), (30, 2.0423)):
        assert st.t_quantile(0.975, df) == pytest.approx(q, abs=1e-4)
    assert st.t_quantile(0.025, 5) == pytest.approx(-st.t_quantile(0.975, 5))


def test_bootstrap_of_3_by_1275_is_fast():
    rng = np.random.default_rng(0)
    a, b = (rng.random((3, 1275)) < 0.8).astype(float), (rng.random((3, 1275)) < 0.75).astype(float)
    st.mean_interval(a, n_boot=100)  # warm-up
    start = time.perf_counter()
    st.mean_interval(a - b, n_boot=2000)
    assert time.perf_counter() - start < 1.0
