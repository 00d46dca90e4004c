"""Real-backbone checks (SmolLM2-135M, MiniLM-L6): `make test-slow` (about a minute once SmolLM2 is cached)."""

import pytest
import torch

import adept

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    return adept.load_backbone("smollm2-135m")


def test_smollm2_is_the_tied_576_wide_llama(smollm2):
    assert smollm2.kind == "causal" and smollm2.d_model == 576
    assert smollm2.model.get_output_embeddings().weight is smollm2.input_embedding().weight
    ids = smollm2.tokenizer([" positive", " negative"], add_special_tokens=False)["input_ids"]
    assert ids == [[2731], [3524]]


def test_smollm2_adept_fold_is_exact_and_unties_only_the_input(smollm2):
    m = adept.build_method("adept", smollm2, 60, 19, 128).eval()
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"]:
            p.normal_(0, 0.02)
    ids = smollm2.tokenizer(["A moving, funny film.", "Dull and far too long."], return_tensors="pt",
                            padding=True)
    folded = m.fold()
    a = m.score_labels(ids["input_ids"], ids["attention_mask"], [2731, 3524])
    b = folded.score_labels(ids["input_ids"], ids["attention_mask"], [2731, 3524])
    assert torch.allclose(a, b, atol=1e-5)
    assert folded.lm_head().weight is not folded.embed_table().weight
    assert torch.equal(folded.lm_head().weight, smollm2.model.get_output_embeddings().weight)


def test_minilm_trains_a_few_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    from adept.config import PRESETS
    from adept.training import train

    out = train({**PRESETS["quick"], "method": "adept", "max_steps": 20, "eval_every": 20, "eval_examples": 64,
                 "test_examples": 64, "experiment": "slow"}, progress=False)
    assert out["status"] == "FINISHED" and out["test"]["accuracy"] > 50
