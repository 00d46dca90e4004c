"""Evidence page (the claims judged on the seeded runs) and the Compare page's paired-interval section: their
numbers are the library's on the same runs (adept.comparison, adept.evidence), every claim has a status, and
the caption states the expectation apart from what the runs show."""

from __future__ import annotations

import pytest

from .helpers import app, figure, runs_df, table_with

STATUSES = {"supported", "contradicted", "inconclusive", "not testable here", "not run yet"}


def test_compare_shows_each_method_with_its_interval_and_the_pairs(store):
    from adept.comparison import compare_group, groups_from_frame

    at = app("compare")
    df = runs_df()
    sweep = df[(df["sweep"] == "seeded-sweep") & (df["status"] == "FINISHED")]
    fig = figure(at, "test/accuracy: each method with its 95 % interval")
    points = {t["x"][0]: t for t in fig["data"]}
    assert list(points) == ["PT", "DePT", "ADePT"]
    means = sweep.groupby("method")["metrics.test/accuracy"].mean()  # mean over seeds = the interval's centre
    for name, method in (("PT", "pt"), ("DePT", "dept"), ("ADePT", "adept")):
        t = points[name]
        assert t["y"][0] == pytest.approx(means[method])
        assert t["error_y"]["visible"] and t["error_y"]["array"][0] >= 0 and t["error_y"]["arrayminus"][0] >= 0
    expected = compare_group(groups_from_frame(sweep, "test/accuracy")[0], n_boot=1000, target_diff=2.0)
    pairs = table_with(at, "p (Holm)")
    assert pairs["difference"].tolist() == ["ADePT − DePT", "ADePT − PT", "DePT − PT"]
    assert pairs["points"].tolist() == [f"{p['diff']:.1f}" for p in expected["pairs"]]
    assert all(v for v in pairs["verdict"])
    caps = [c.value for c in at.caption]
    cap = next(c for c in caps if c.startswith("The paper expects"))
    assert "These runs show ADePT − DePT" in cap and any(
        w in cap for w in ("consistent with", "against", "not enough to tell"))
    assert any("Basis: predictions" in c for c in caps)
    at.number_input(key="compare.target_diff").set_value(10.0).run()  # sized for another difference
    assert "seeds for 10" in table_with(at, "p (Holm)").columns


def test_evidence_page_judges_every_claim_on_the_seeded_runs(store):
    from adept.evidence import claims_table

    at = app("evidence")
    experiment = at.selectbox(key="evidence.experiment").value
    table = table_with(at, "what would settle it / how to test")
    assert table["#"].tolist() == list(range(1, 9))
    statuses = [s.split(" ", 1)[1] for s in table["status"]]
    assert set(statuses) <= STATUSES
    expected = claims_table(experiment, target_diff=2.0)
    assert statuses == [r["status"] for r in expected]
    assert statuses[7] == "not testable here"
    df = runs_df()
    finished = df[(df["experiment"] == experiment) & (df["status"] == "FINISHED")]
    assert table["runs"].iloc[0] == len(finished)  # claim 1 used every finished run of the experiment
    assert statuses[2] == "not run yet"  # the seeded runs were never analysed: the row says what to run
    assert "python -m adept analyze" in table["what would settle it / how to test"].iloc[2]
    links = [m.value for m in at.markdown if m.value.startswith("Runs: ")]
    assert links and "/runs?run=" in links[0]
