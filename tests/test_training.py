"""Real tiny training runs tracked in an isolated MLflow store: logging, determinism, every backbone kind.
Faults (SIGTERM in every phase, SIGKILL, NaN, a locked store) and exact resumes: tests/reliability/."""

import json
from pathlib import Path

import pytest

from adept import tracking
from adept.training import train

TINY = {"backbone": "tiny-llama", "task": "rotten-tomatoes", "max_steps": 6, "eval_every": 3,
        "eval_examples": 16, "test_examples": 16, "batch_size": 4, "max_train_examples": 64,
        "warmup_steps": 2, "max_length": 48, "experiment": "test"}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


def history(run_id, key):
    df = tracking.metric_history([run_id], [key])
    return df.sort_values("step")[["step", "value"]].values.tolist()


# ----- real runs ---------------------------------------------------------------------------------------

def test_tiny_run_logs_everything_and_is_deterministic(store):
    out = train({**TINY, "method": "adept", "seed": 1}, progress=False)
    client = tracking.get_client()
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    p, t = run.data.params, run.data.tags
    assert (p["solved.num_virtual_tokens"], p["solved.rank"]) == ("60", "19")
    assert int(p["trainable_params"]) == 60 * 64 + 19 * (2 * 64 + 1) + 64
    assert t["adept.method"] == "adept" and t["adept.command"].startswith("python -m adept train")
    losses = history(out["run_id"], "train/loss")
    assert [s for s, _ in losses] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in history(out["run_id"], "val/accuracy")] == [0, 3, 6]
    lrs = [v for _, v in history(out["run_id"], "lr/prompt")]
    assert lrs[0] == pytest.approx(0.3 * 2 / 2) and lrs[-1] == pytest.approx(0.0)  # warmup 2, decay to 0
    assert 0 <= run.data.metrics["test/accuracy"] <= 100
    art = Path(tracking.download_artifacts(out["run_id"], "adapter"))
    assert (art / "adapter.safetensors").exists()
    assert json.loads((art / "adept_adapter.json").read_text())["rank"] == 19
    summary = tracking.load_json_artifact(out["run_id"], "offsets_summary.json")
    assert summary["method"] == "adept" and summary["probe_tokens"] > 0

    again = train({**TINY, "method": "adept", "seed": 1}, progress=False)
    assert [v for _, v in history(again["run_id"], "train/loss")] == [v for _, v in losses]


@pytest.mark.parametrize("backbone,method", [("tiny-t5", "dept"), ("tiny-bert", "pt"), ("tiny-gpt2", "adept")])
def test_every_backbone_kind_trains(store, backbone, method):
    out = train({**TINY, "backbone": backbone, "method": method, "max_steps": 3}, progress=False)
    assert out["status"] == "FINISHED" and "accuracy" in out["test"]


def test_training_lowers_the_loss(store):
    cfg = {**TINY, "method": "pt", "max_steps": 30, "eval_every": 30, "lr_prompt": 0.3, "zero_shot": False}
    out = train(cfg, progress=False)
    losses = [v for _, v in history(out["run_id"], "train/loss")]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_bad_data_is_refused_before_a_run_exists(store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nfine,1\nbad,0\n")
    with pytest.raises(ValueError, match="data_file: .*has no column 'text'"):  # the missing column is named
        train({**TINY, "method": "pt", "data_file": str(bad)}, progress=False)
    assert tracking.runs_dataframe("test").empty  # the store only gets runs that really started


def test_report_aggregates_mean_and_std_over_seeds(store):
    from adept.__main__ import summary_table

    for seed in (0, 1):
        train({**TINY, "method": "pt", "max_steps": 2, "eval_every": 2, "seed": seed, "zero_shot": False},
              progress=False)
    df = tracking.runs_dataframe("test")
    rows = summary_table(df, "test/accuracy")
    accs = df["metrics.test/accuracy"]
    assert len(rows) == 1 and rows[0]["runs"] == 2
    assert rows[0]["test/accuracy"] == f"{accs.mean():.1f} ± {accs.std():.1f}"
    assert rows[0]["l / r"] == "100 / 0"
    by_seed = summary_table(df, "test/accuracy", ("seed",))
    assert [(r["seed"], r["runs"]) for r in by_seed] == [("0", 1), ("1", 1)]
    with pytest.raises(ValueError, match="no_such_field"):
        summary_table(df, "test/accuracy", ("no_such_field",))


def test_a_finished_run_leaves_no_scratch_folder(store, monkeypatch, tmp_path):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    train({**TINY, "method": "dept", "max_steps": 2, "eval_every": 2, "zero_shot": False}, progress=False)
    assert list(scratch.iterdir()) == []
