"""The claims table and the report on runs with known answers (tests/synthetic_runs.py): each claim's status
follows the data (supported, contradicted, inconclusive, not run yet, not testable), and the CLI prints it."""

from __future__ import annotations

import pytest
from synthetic_runs import make_experiment

from adept.__main__ import main
from adept.evidence import claims_table


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    home = tmp_path_factory.mktemp("evidence")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADEPT_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
        ids = {"good": make_experiment("good", {"pt": 0.6, "dept": 0.75, "adept": 0.9}),
               "bad": make_experiment("bad", {"pt": 0.9, "dept": 0.75, "adept": 0.6}, seed=1,
                                      step_s={"pt": 0.7, "dept": 1.0, "adept": 1.0},
                                      pilot_drop={"pt": 0.0, "dept": 0.0, "adept": 3.0}),
               "tie": make_experiment("tie", {"pt": 0.7, "dept": 0.7, "adept": 0.7}, seeds=(0, 1), n=150, seed=2,
                                      analyses=False),
               "old": make_experiment("old", {"pt": 0.6, "dept": 0.6, "adept": 0.9}, seed=3, predictions=False,
                                      analyses=False)}
        yield ids


def _status(rows):
    return {r["claim"]: r["status"] for r in rows}


def test_claims_follow_the_data(store):
    good = claims_table("good", n_boot=300)
    s = _status(good)
    assert s == {1: "supported", 2: "supported", 3: "supported", 4: "supported", 5: "supported", 6: "supported",
                 7: "supported", 8: "not testable here"}
    r1 = good[0]
    assert set(r1["runs"]) == {r for v in store["good"].values() for r in v}
    assert "ADePT − DePT" in r1["effect"] and " to " in r1["interval"]
    assert "T5" in good[7]["next"]

    bad = _status(claims_table("bad", n_boot=300))
    assert bad[1] == "contradicted" and bad[2] == "contradicted" and bad[7] == "contradicted"

    tie = claims_table("tie", n_boot=300)
    assert tie[0]["status"] == "inconclusive" and "more seeds" in tie[0]["next"]
    assert {r["claim"]: r["status"] for r in tie[1:7]} == {i: "not run yet" for i in range(2, 8)} | {
        7: tie[6]["status"]}
    assert "python -m adept analyze" in tie[1]["next"]


def test_old_runs_fall_back_to_the_seed_spread(store):
    rows = claims_table("old", n_boot=300)
    assert "seed spread" in rows[0]["basis"]


def test_claims_and_report_cli(store, capsys):
    assert main(["claims", "--experiment", "good", "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert [line.split(" | ")[0] for line in out.splitlines()[2:]] == [f"| {i}" for i in range(1, 9)]
    assert "**supported**" in out and "**not testable here**" in out
    assert main(["report", "--experiment", "good", "--target-diff", "3", "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "95 % interval" in out and "p (Holm)" in out and "ADePT − DePT" in out
    assert "smallest difference detectable" in out and "to detect 3 points" in out
    assert "Basis: predictions" in out
    assert main(["report", "--experiment", "old", "--n-boot", "200"]) == 0
    assert "no stored per-example predictions" in capsys.readouterr().out
    assert main(["claims", "--experiment", "no-such-experiment"]) == 1
    assert "no finished runs in experiment 'no-such-experiment'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a bad flag: one line, exit 2
        main(["report", "--experiment", "good", "--n-boot", "5"])
    assert exc.value.code == 2
    assert "n-boot" in capsys.readouterr().err
