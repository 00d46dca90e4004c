"""Pilot bands and slopes over seeds x examples (adept/analysis/pilot_stats.py) and latency repeats
(adept/analysis/latency.py) on synthetic data with a known answer."""

import importlib
import math

import numpy as np
import pytest

from adept.analysis import pilot_stats as P

L = importlib.import_module("adept.analysis.latency")  # the package exports a function of that name

KS = [0, 1, 2, 4, 8, 16]


def _pilot(method, p_by_k, seed, n=400, sides=("right",)):
    """A pilot whose example j is correct at k with probability p_by_k[k] (shared example draws over k)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    scores = [(u < p).astype(float).tolist() for p in p_by_k]
    side = {"predictions": scores, "scores": scores, "label_scores": None}
    return {"run_id": f"{method}{seed}", "method": method, "seed": seed,
            "pilot": {"method": method, "ks": KS, "per_example": {
                "score_name": "accuracy", "score_scale": 100, "example_index": list(range(n)),
                "references": [1] * n, "sides": {s: side for s in sides}}}}


def test_bands_are_means_with_intervals_and_slope_matches_least_squares():
    runs = [_pilot("dept", [0.8 - 0.02 * k for k in KS], s) for s in range(3)]
    b = P.bands([r["pilot"] for r in runs], "right", n_boot=500)
    x = np.array([r["pilot"]["per_example"]["sides"]["right"]["scores"] for r in runs])  # (S, K, n)
    for i, row in enumerate(b):
        assert row["k"] == KS[i] and row["mean"] == pytest.approx(100 * x[:, i].mean())
        assert row["low"] < row["mean"] < row["high"] and row["n_seeds"] == 3 and row["n_examples"] == 400
    sl = P.method_slope([r["pilot"] for r in runs], "right", n_boot=500)
    ls = np.polyfit(KS, 100 * x.mean(axis=(0, 2)), 1)[0]
    assert sl["slope"] == pytest.approx(ls) and sl["low"] < ls < sl["high"]
    assert -2.6 < sl["slope"] < -1.4  # the true slope is -2 points per token


def test_dept_falling_adept_flat_is_consistent_with_the_paper():
    runs = ([_pilot("dept", [0.8 - 0.02 * k for k in KS], s) for s in range(3)]
            + [_pilot("adept", [0.8] * len(KS), 10 + s) for s in range(3)])
    for r in runs[3:]:
        r["seed"] -= 10  # seeds 0..2 for both methods: paired by seed
    ev = P.pilot_evidence(runs, n_boot=500)
    side = ev["sides"]["right"]
    d = side["difference"]
    assert d["high"] < 0 and d["seeds"] == [0, 1, 2]
    slopes = {m: side["methods"][m]["slope"]["slope"] for m in ("dept", "adept")}
    assert d["diff"] == pytest.approx(slopes["dept"] - slopes["adept"])
    assert "consistent with it" in side["caption"] and side["caption"].startswith(P.EXPECTATION)
    assert side["methods"]["adept"]["runs"] == ["adept10", "adept11", "adept12"]


def test_equal_slopes_are_not_enough_to_tell_and_opposite_is_against():
    flat = [_pilot("dept", [0.8] * len(KS), s) for s in range(2)] + [_pilot("adept", [0.8] * len(KS), s + 5)
                                                                     for s in range(2)]
    for r in flat[2:]:
        r["seed"] -= 5
    cap = P.pilot_evidence(flat, n_boot=500)["sides"]["right"]["caption"]
    assert "not enough to tell" in cap
    against = [_pilot("dept", [0.8] * len(KS), 0), _pilot("adept", [0.8 - 0.02 * k for k in KS], 0)]
    cap = P.pilot_evidence(against, n_boot=500)["sides"]["right"]["caption"]
    assert "against it" in cap and "one seed" in cap


def test_no_common_seed_or_missing_method_says_it_cannot_test():
    ev = P.pilot_evidence([_pilot("dept", [0.8] * 6, 0)], n_boot=200)
    assert ev["sides"]["right"]["difference"] is None and "cannot test" in ev["sides"]["right"]["caption"]
    with pytest.raises(ValueError, match="analyse the runs"):
        P.pilot_evidence([{"run_id": "x", "method": "pt", "seed": 0, "pilot": None}])


def test_mismatched_examples_are_refused():
    a, b = _pilot("dept", [0.8] * 6, 0), _pilot("dept", [0.8] * 6, 1, n=300)
    with pytest.raises(ValueError, match="different test examples"):
        P.bands([a["pilot"], b["pilot"]], "right")


def test_ratio_interval_includes_one_for_equal_costs_and_not_for_a_real_gap():
    rng = np.random.default_rng(0)
    base = 1 + 0.2 * rng.random(9)  # drifting machine load, shared by both arms of a round
    covered = [L.ratio_interval(list(base * np.exp(0.01 * rng.standard_normal(9))), list(base))["within_noise"]
               for _ in range(400)]
    assert 0.92 < np.mean(covered) < 0.98  # equal costs: the 95% interval includes 1 about 95% of the time
    slower = L.ratio_interval(list(1.3 * base * (1 + 0.01 * rng.standard_normal(9))), list(base))
    assert slower["within_noise"] is False and slower["low"] > 1.2
    assert math.isclose(L.ratio_interval([2.0], [1.0])["ratio"], 2.0)
    assert L.ratio_interval([2.0], [1.0])["low"] is None
    with pytest.raises(ValueError):
        L.ratio_interval([1.0, 2.0], [1.0])


def test_latency_repeats_give_spread_and_intervals(tiny):
    from tests.test_analysis import build, randomize

    ad = randomize(build(tiny("tiny-llama"), "adept", prompt=4))
    models = {"adept": ad, "adept_folded": ad.fold(), "pt_short": build(tiny("tiny-llama"), "pt", prompt=4)}
    out = L.latency(models, [[1500, 1600], [1700, 1800, 1900]], label_ids=[1, 2], repeats=4)
    for m in out["models"].values():
        assert len(m["rounds_ms"]) == 4 and m["min_ms"] <= m["median_ms"] <= m["max_ms"] and m["iqr_ms"] >= 0
    r = out["ratio_intervals"]["adept_folded/pt_short"]
    assert r["rounds"] == 4 and r["low"] <= r["ratio"] <= r["high"]
    assert "adept_folded / pt_short" in L.cost_verdict(out)


@pytest.mark.slow  # analyses a trained tiny run (~1 min on a busy 2-core machine)
def test_analyze_experiment_cli_prints_slopes(tiny_run, monkeypatch, capsys):
    import argparse

    from adept.analysis import cli

    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    args = argparse.Namespace(run_id=None, experiment="analysis-test", force=False, pilot_examples=8,
                              stats_examples=12)
    assert cli.cli_analyze(args) == 0
    out = capsys.readouterr().out
    assert "pilot slopes, rotten-tomatoes, right padding" in out and "  adept: " in out
    assert "cannot test it" in out  # one ADePT run, no DePT run
    with pytest.raises(ValueError, match="one of them"):
        cli.cli_analyze(argparse.Namespace(run_id="x", experiment="y", force=False))
    with pytest.raises(ValueError, match="no FINISHED run"):
        cli.cli_analyze(argparse.Namespace(run_id=None, experiment="nope", force=False))


def test_analyze_experiment_skips_the_sweep_parent_run(tmp_path, monkeypatch, _template_db):
    import shutil

    from adept import tracking
    from adept.analysis import cli

    shutil.copy(_template_db, tmp_path / "mlflow.db")
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    client = tracking.get_client()
    exp = client.create_experiment("sweep-exp")
    parent = client.create_run(exp, tags={tracking.TAG_ROLE: tracking.ROLE_SWEEP}).info.run_id
    child = client.create_run(exp).info.run_id
    for rid in (parent, child):
        client.set_terminated(rid, "FINISHED")
    assert cli._finished_runs("sweep-exp") == [child]  # the parent trained nothing: no config.json to analyse
