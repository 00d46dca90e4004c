"""Benchmark plumbing on tiny backbones: the arms compute what they claim, the report has its fixed last line."""

import re

import pytest
import torch

from adept import bench, tracking


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    return tmp_path


def test_populated_store_reads_the_same_through_both_paths(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path}/runs.db"
    exp_id = bench.populate_store(uri, 30)
    df = tracking.runs_dataframe(uri=uri)
    assert len(df) == 30 and set(df["method"]) == {"pt", "dept", "adept"}
    assert (df["status"] == "FINISHED").all() and df["params.backbone"].eq("smollm2-135m").all()
    assert df["metrics.test/accuracy"].between(50, 90).all()
    slow = mlflow.MlflowClient(uri).search_runs([exp_id], max_results=100)  # MLflow's own reader
    assert {r.info.run_id for r in slow} == set(df["run_id"])
    assert len(slow[0].data.params) == len([c for c in df.columns if c.startswith("params.")])


def test_peft_prompt_tuning_computes_our_pt_loss(tiny):
    """The PEFT comparison is like for like: with the same prompt, PEFT's loss over its full logits equals
    our loss from the label positions only."""
    from adept.backbones import load_backbone
    from adept.methods import build_method

    bb = tiny("tiny-llama")
    batch = bench.training_batch(bb, batch_size=3, max_length=48)
    ours = build_method("pt", bb, 7, None, 48).eval()
    pm = bench.peft_prompt_model(load_backbone("tiny-llama").model, 7)
    with torch.no_grad():
        pm.prompt_encoder["default"].embedding.weight.copy_(ours.prompt)
    pm.eval()
    with torch.no_grad():
        theirs = pm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        mine = ours.loss(batch["input_ids"], batch["attention_mask"], batch["labels"])
    assert theirs.logits.shape[1] == 7 + batch["input_ids"].shape[1]  # PEFT: head at every position
    assert float(mine) == pytest.approx(float(theirs.loss), rel=1e-5)
    step = bench.peft_step_fn(pm, batch)
    before = pm.prompt_encoder["default"].embedding.weight.clone()
    step()
    assert not torch.equal(before, pm.prompt_encoder["default"].embedding.weight)  # it trains


def test_inference_folded_matches_unfolded():
    res = bench.bench_inference("tiny-llama", repeats=1, examples=2)
    assert res["max_abs_diff"] < 1e-5
    assert set(res["median_ms"]) == {"folded", "bare", "unfolded"}
    assert res["ratio"]["folded/bare"] == pytest.approx(res["median_ms"]["folded"] / res["median_ms"]["bare"])


def test_memory_child_reports_peak_rss(store, capsys):
    cfg = {"backbone": "tiny-llama", "max_steps": 2, "eval_every": 2, "warmup_steps": 0, "eval_examples": 4,
           "test_examples": 4, "zero_shot": False, "batch_size": 4, "max_length": 48, "experiment": "mem"}
    import json

    out = bench._memory_child(json.dumps(cfg))
    assert out["peak_rss_mib"] >= out["baseline_rss_mib"] > 10 and out["steps"] == 2
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == out


def test_quick_report_ends_with_the_ratio_line(monkeypatch):
    """``run_bench(quick=True)`` end to end with one A/B round per figure, 40 runs in the store and the
    memory child canned (tested above)."""
    real_runs = bench.bench_runs_page
    monkeypatch.setattr(bench, "bench_runs_page", lambda n, repeats, workdir=None: real_runs(40, 1, workdir))
    monkeypatch.setattr(bench, "bench_memory", lambda overrides, uri=None: {
        "config": {"max_steps": 3, "eval_examples": 8}, "peak_rss_mib": 900.0, "baseline_rss_mib": 800.0,
        "backbone": "tiny-llama", "method": "adept", "batch_size": 8, "max_length": 128})
    import adept.bench_speed as bench_speed

    monkeypatch.setattr(bench_speed, "bench_estimate", lambda backbone, calibrate, steps: {
        "backbone": backbone, "steps": steps, "calibrate_steps": calibrate, "estimate_s": 9.0, "actual_s": 10.0,
        "ratio": 0.9, "parts": {"train_s": 5.0, "load_s": 4.0}, "source": "canned"})  # real: test_timing.py
    threads = torch.get_num_threads()
    lines: list[str] = []
    res = bench.run_bench(quick=True, out=lines.append, repeats=1)
    assert torch.get_num_threads() == threads  # restored after the one-thread quick run
    assert re.fullmatch(r"adept/pt train-step ratio: \d+\.\d{3}", lines[-1])
    train = res["train"]["tiny-llama"]
    assert float(lines[-1].split(": ")[1]) == pytest.approx(train["ratio"]["adept/pt"], abs=5e-4)
    n = train["n"]
    assert train["l"] == {"pt": 100, "dept": 60, "adept": 60} and train["rank"]["adept"] == 19
    assert train["target"]["adept/pt"] == pytest.approx((60 + n) / (100 + n))
    assert train["ratio"]["dept/pt"] == pytest.approx(train["median_s"]["dept"] / train["median_s"]["pt"])
    runs = res["runs_page"]
    assert runs["runs"] == 40 and runs["ratio"] == pytest.approx(
        runs["median_s"]["runs_dataframe"] / runs["median_s"]["search_runs"])
    gen = res["generation"]
    assert gen["same_tokens"] is True and gen["tokens_per_s"]["cached"] > 0
    assert gen["ratio"]["ours/bare"] == pytest.approx(gen["tokens_per_s"]["cached"] / gen["tokens_per_s"]["bare"])
    dt = res["speed"]["dtype"]["tiny-llama"]
    assert dt["ratio"] == pytest.approx(dt["median_s"]["bfloat16"] / dt["median_s"]["float32"])
    assert dt["loss"]["bfloat16"] == pytest.approx(dt["loss"]["float32"], rel=0.03)
    names = [ln.split(":")[0] for ln in lines if not ln.startswith("#")]
    assert names == ["[tiny-llama] dept/pt train-step ratio", "[tiny-llama] adept/pt train-step ratio",
                     "[tiny-llama] ours-pt/peft-pt train-step ratio", "[tiny-llama] adept-folded/bare inference ratio",
                     "[tiny-llama] adept-unfolded/adept-folded inference ratio",
                     "[tiny-llama] cached/uncached generation tokens/s", "[tiny-llama] ours/bare-generate tokens/s",
                     "[tiny-llama] bf16/fp32 train-step ratio", "[tiny-llama] estimate/actual wall time",
                     "runs_dataframe/search_runs time ratio", "peak RSS of a default training run",
                     "adept/pt train-step ratio"]
