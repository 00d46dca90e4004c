"""Per-example test predictions: logged by every run, equal to the logged metrics, the same examples in the
same order for every method and seed, read back by load_predictions."""

import numpy as np
import pytest

from adept import predictions, tracking
from adept.training import train

TINY = {"backbone": "tiny-llama", "task": "rotten-tomatoes", "max_steps": 2, "eval_every": 2,
        "eval_examples": 8, "test_examples": 12, "batch_size": 4, "max_train_examples": 32,
        "warmup_steps": 0, "max_length": 48, "zero_shot": False, "experiment": "pred-test"}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


def test_every_run_logs_its_test_predictions_on_the_same_examples(store):
    a = train({**TINY, "method": "adept", "seed": 0}, progress=False)
    b = train({**TINY, "method": "pt", "seed": 3}, progress=False)
    pa, pb = predictions.load_predictions(a["run_id"]), predictions.load_predictions(b["run_id"])
    for out, p in ((a, pa), (b, pb)):
        assert p["split"] == "test" and p["num_examples"] == 12 and len(p["records"]) == 12
        assert [r["index"] for r in p["records"]] == list(range(12))
        rec = p["records"][0]
        assert set(rec) >= {"index", "reference", "prediction", "label_scores", "correct", "score"}
        assert len(rec["label_scores"]) == 2
        # the records are the logged metric, example by example
        acc = 100 * np.mean([r["correct"] for r in p["records"]])
        assert acc == pytest.approx(out["test"]["accuracy"])
        assert all(r["prediction"] == int(np.argmax(r["label_scores"])) for r in p["records"])
        assert p["metrics"]["accuracy"] == pytest.approx(out["test"]["accuracy"])
    # other method, other seed: the same test examples in the same order
    assert pa["examples_digest"] == pb["examples_digest"]
    assert [r["reference"] for r in pa["records"]] == [r["reference"] for r in pb["records"]]
    m = predictions.score_matrix([pa, pb])
    assert m.shape == (2, 12) and set(np.unique(m)) <= {0.0, 1.0}


def test_runs_on_other_examples_are_refused_and_old_runs_read_none(store):
    out = train({**TINY, "method": "dept", "seed": 0}, progress=False)
    p = predictions.load_predictions(out["run_id"])
    other = {**p, "examples_digest": "different"}
    with pytest.raises(ValueError, match="tested on other examples"):
        predictions.score_matrix([p, other], )
    assert predictions.load_predictions(out["run_id"], "validation") is None  # nothing stored: None
    tags = tracking.get_client().get_run(out["run_id"]).data.tags
    assert tags["adept.method"] == "dept"


def test_records_of_generation_and_regression_tasks():
    from adept.tasks.task import Example, Task

    gen = Task("qa", "generation", [], [], ["f1", "em"], {"train": [], "validation": [], "test": []})
    recs = predictions._records(gen, ["the cat", "dog"], [["a cat", "cat"], "bird"], [])
    assert recs[0]["correct"] is True and recs[0]["score"] == pytest.approx(1.0)
    assert recs[1]["correct"] is False and recs[1]["score"] == 0.0
    reg = Task("sts", "regression", [], [], ["pearson"], {"train": [], "validation": [], "test": []})
    recs = predictions._records(reg, [float("nan"), 2.5], [1.0, 2.0], [])
    assert recs[0]["prediction"] is None and recs[1]["score"] is None
    payload = predictions.predictions_payload(reg, [Example("x", label=1.0), Example("y", label=2.0)], {}, recs)
    with pytest.raises(ValueError, match="no per-example 'score'"):
        predictions.score_matrix([payload])
