"""The dtype option: bf16 / fp16 backbones with float32 trainable weights and losses, what ``auto`` picks,
the per-machine probe cache, and runs that log the resolved dtype."""

import pytest
import torch

from adept import precision
from adept.backbones import load_backbone
from adept.config import RunConfig
from adept.methods import build_method


def _batch(kind: str):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(100, 200, (3, 10), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 7:] = 0
    if kind == "encoder":
        return ids, mask, torch.tensor([0, 1, 0])
    if kind == "seq2seq":
        return ids, mask, torch.randint(100, 200, (3, 2), generator=g)
    return ids, mask, torch.where(torch.arange(10) < 9, -100, ids)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bert", "tiny-t5"])
@pytest.mark.parametrize("method", ["pt", "dept", "adept"])
def test_half_backbone_keeps_float32_master_weights_and_loss(name, method):
    losses = {}
    for dtype in ("float32", "bfloat16"):
        bb = load_backbone(name, dtype=dtype)
        assert bb.dtype == getattr(torch, dtype)
        assert all(p.dtype == bb.dtype for p in bb.model.parameters())
        torch.manual_seed(0)
        model = build_method(method, bb, 4, None if method == "pt" else 2, 32,
                             num_labels=2 if bb.kind == "encoder" else None)
        trainable = [p for g in model.parameter_groups().values() for p in g]
        assert trainable and all(p.dtype == torch.float32 for p in trainable)
        model.eval()  # no dropout: the two dtypes see the same function
        ids, mask, labels = _batch(bb.kind)
        loss = model.loss(ids, mask, labels)
        assert loss.dtype == torch.float32
        loss.backward()
        assert model.prompt.grad is not None and model.prompt.grad.dtype == torch.float32
        assert model(ids, mask, labels=labels).loss.dtype == torch.float32
        assert model.score_labels(ids, mask, [101, 102]).dtype == torch.float32
        losses[dtype] = loss.item()
    assert losses["bfloat16"] == pytest.approx(losses["float32"], rel=0.03)


def test_float16_runs_on_cpu_and_adept_folds_in_bf16():
    bb = load_backbone("tiny-llama", dtype="float16")
    model = build_method("adept", bb, 4, 2, 32).eval()
    ids, mask, labels = _batch("causal")
    assert torch.isfinite(model.loss(ids, mask, labels))
    bf = build_method("adept", load_backbone("tiny-llama", dtype="bfloat16"), 4, 2, 32).eval()
    with torch.no_grad():
        bf.offsets.B.normal_(0, 0.05)
        folded = bf.fold()
        assert folded.embed_table().weight.dtype == torch.bfloat16
        a, b = bf.score_labels(ids, mask, [101, 102]), folded.score_labels(ids, mask, [101, 102])
    assert torch.allclose(a, b, atol=0.05)


def test_dtype_is_checked_everywhere():
    with pytest.raises(ValueError, match="dtype 'bf17' is not one of auto, float32"):
        load_backbone("tiny-llama", dtype="bf17")
    errors = RunConfig(backbone="tiny-llama", dtype="double").field_errors()
    assert "dtype" in errors and "auto or float32 or bfloat16 or float16" in errors["dtype"]
    assert precision.check_dtype("bf16") == "bfloat16" and precision.check_dtype(torch.float16) == "float16"


def test_auto_rules(monkeypatch):
    assert precision.resolve_dtype("bfloat16", "cpu") == torch.bfloat16  # an explicit choice is kept
    assert precision.resolve_dtype("auto", "cpu", params=1000) == torch.float32  # small models stay exact
    monkeypatch.setattr(precision, "cpu_probe", lambda refresh=False: {"bf16_faster": True})
    assert precision.resolve_dtype("auto", "cpu", params=10**8) == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_probe", lambda refresh=False: {"bf16_faster": False})
    assert precision.resolve_dtype("auto", "cpu", params=10**8) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.resolve_dtype("auto", "cuda", params=10**8) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.resolve_dtype("auto", "cuda", params=10**8) == torch.float32


def test_cpu_probe_runs_once_per_machine_and_needs_the_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("ADEPT_CACHE", str(tmp_path))
    calls = []

    def fake_probe():
        calls.append(1)
        return {"fp32_s": 1.0, "bf16_s": 0.5, "ratio": 0.5}

    monkeypatch.setattr(precision, "time_probe", fake_probe)
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ["amx_bf16"])
    first = precision.cpu_probe()
    assert first["bf16_faster"] and first["ratio"] == 0.5 and calls == [1]
    assert precision.cpu_probe() == first and calls == [1]  # cached on disk
    assert (tmp_path / "dtype_probe.json").exists()
    monkeypatch.setattr(precision, "time_probe", lambda: {"fp32_s": 1.0, "bf16_s": 1.4, "ratio": 1.4})
    assert not precision.cpu_probe(refresh=True)["bf16_faster"]  # slower bf16 (no fast units): float32
    monkeypatch.setattr(precision, "cpu_bf16_flags", list)
    monkeypatch.setattr(precision, "probe_key", lambda: "a CPU without bf16 units")
    entry = precision.cpu_probe()
    assert entry["ratio"] is None and not entry["bf16_faster"]  # not even probed


def test_real_probe_measures_both(monkeypatch):
    res = precision.time_probe(reps=1, rows=32, width=16)
    assert res["fp32_s"] > 0 and res["bf16_s"] > 0 and res["ratio"] == res["bf16_s"] / res["fp32_s"]


def test_run_logs_resolved_dtype_and_train_start(tmp_path, monkeypatch, _template_db):
    import shutil

    from adept import tracking
    from adept.training import train

    shutil.copy(_template_db, tmp_path / "mlflow.db")
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    res = train({"method": "adept", "backbone": "tiny-llama", "max_steps": 2, "eval_every": 2, "eval_examples": 6,
                 "test_examples": 6, "batch_size": 2, "warmup_steps": 0, "max_length": 32, "zero_shot": True,
                 "dtype": "bfloat16", "experiment": "dtype-test"}, progress=False)
    run = tracking.get_client().get_run(res["run_id"])
    assert run.data.params["dtype"] == run.data.params["dtype_resolved"] == "bfloat16"
    started = int(run.data.tags[tracking.schema.TAG_TRAIN_STARTED])
    assert run.info.start_time <= started <= run.info.end_time
    for name in ("time/load_s", "time/eval_s", "time/test_s", "time/zero_shot_s"):
        assert run.data.metrics[name] >= 0
    assert 0 <= res["test"]["accuracy"] <= 100


def test_auto_on_a_tiny_backbone_logs_float32_and_the_request(tiny_run, monkeypatch):
    from adept import tracking

    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    params = tracking.get_client().get_run(run_id).data.params
    assert params["dtype_resolved"] == "float32" and params["dtype"] == "auto"
