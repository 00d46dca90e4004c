"""The paper's analyses and inference folding (docs/analyses.md), checked with numbers on tiny backbones."""

import json
import math

import pytest
import torch

import adept
from adept import analysis as A
from adept import tracking
from adept.encoding import Encoder, evaluate
from adept.tasks import load_task


def build(bb, method, prompt=6, r=5, max_length=48, **kw):
    if bb.kind == "encoder":
        kw.setdefault("num_labels", 2)
    return adept.build_method(method, bb, prompt, None if method == "pt" else r, max_length, **kw)


def randomize(m, seed=0, scale=0.2):
    """Non-zero offsets (B starts at zero, which would hide every difference)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"] + m.parameter_groups()["head"]:
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return m.eval()


@pytest.fixture(scope="module")
def task():
    return load_task("rotten-tomatoes")


def batch_with_repeats():
    """Two inputs; token 1700 sits at slots 2 and 4 of the first and slot 1 of the second; second is padded."""
    ids = torch.tensor([[1500, 1600, 1700, 1800, 1700, 1900], [2000, 1700, 2100, 2200, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    return ids, mask


# ----- the package -------------------------------------------------------------------------------------

def test_package_names_and_layering():
    """Every public name resolves on ``adept.analysis``; no module of the package imports the app or Streamlit."""
    import ast
    from pathlib import Path

    assert all(hasattr(A, name) for name in A.__all__)
    for path in Path(A.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {m.split(".")[0] for m in imported} & {"app", "streamlit"}, path.name


# ----- offset statistics ---------------------------------------------------------------------------------

def test_paper_stat_on_hand_made_offsets():
    delta = torch.tensor([[1.0, -2.0, 0.0], [-3.0, 0.0, 3.0]])
    # per-dimension mean |Δ| over the 2 tokens: [2, 1, 1.5] -> mean 1.5, population std sqrt(1/6)
    stat = A.paper_stat(delta)
    assert stat["mean"] == pytest.approx(1.5)
    assert stat["std"] == pytest.approx(math.sqrt(1 / 6))
    with pytest.raises(ValueError, match="tokens, d"):
        A.paper_stat(torch.zeros(3))


def test_offset_statistics_counts_and_distinct_offsets(tiny):
    bb = tiny("tiny-llama")
    ids, mask = batch_with_repeats()
    real = int(mask.sum())
    distinct_tokens = len(set(ids[mask.bool()].tolist()))  # 1700 twice in input 0, once in input 1 -> 8
    assert distinct_tokens == 8
    adept_st = A.offset_statistics(randomize(build(bb, "adept")), ids, mask, top_k=8)
    dept_st = A.offset_statistics(randomize(build(bb, "dept")), ids, mask)
    pt_st = A.offset_statistics(build(bb, "pt"), ids, mask)
    assert adept_st["num_tokens"] == real == sum(adept_st["relative_histogram"]["counts"])
    assert adept_st["distinct"] == {"tokens_seen": 8, "positions_seen": 6, "offset_vectors": 8,
                                    "possible": bb.vocab_size}
    assert dept_st["distinct"] == {"tokens_seen": 8, "positions_seen": 6, "offset_vectors": 6, "possible": 48}
    assert pt_st["distinct"]["offset_vectors"] == 1 and pt_st["norms"]["offset_mean"] == 0.0
    # DePT: the norm of every one of the s table rows, and which rows real tokens used
    prof = dept_st["position_profile"]
    assert len(prof["offset_norm"]) == 48 and prof["row_usage"][:6] == [2, 2, 2, 2, 1, 1]
    table = randomize(build(bb, "dept")).offsets.table().detach()
    assert prof["offset_norm"][3] == pytest.approx(float(table[3].norm()), rel=1e-5)
    assert dept_st["input_lengths"] == {"lengths": [4, 6], "counts": [1, 1]}
    # ADePT: the paper statistic of the real tokens' offsets, and the ranked token lists
    m = randomize(build(bb, "adept"))
    expected = A.paper_stat(m.embedding_offsets(ids, mask)[mask.bool()])
    assert adept_st["paper_stat"]["offset"]["mean"] == pytest.approx(expected["mean"], rel=1e-6)
    seen = adept_st["top_tokens"]["seen"]
    norms = [row["offset_norm"] for row in seen["largest"]]
    assert norms == sorted(norms, reverse=True) and len(norms) == 8
    assert {row["id"]: row["count"] for row in seen["largest"]}[1700] == 3  # twice in input 0, once in input 1
    vocab = adept_st["top_tokens"]["vocabulary"]["largest"]
    assert vocab[0]["offset_norm"] >= norms[0] - 1e-6  # the vocabulary's largest bounds the seen tokens'
    assert dept_st["top_tokens"] is None


# ----- position-based vs input-adaptive -------------------------------------------------------------------

def test_same_token_at_other_slots_adept_zero_dept_positive(tiny):
    bb = tiny("tiny-llama")
    ids, mask = batch_with_repeats()
    a = A.same_token_offset_difference(randomize(build(bb, "adept")), ids, mask)
    d = A.same_token_offset_difference(randomize(build(bb, "dept")), ids, mask)
    assert a["tokens_compared"] == d["tokens_compared"] == 1 and a["examples"][0]["slots"] == [1, 2, 4]
    assert a["max_difference"] <= 1e-6 and a["mean_offset_norm"] > 0.1
    assert d["max_difference"] > 0.1


def test_variance_at_each_slot_zero_for_dept(tiny, task):
    bb = tiny("tiny-llama")
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    dept, ad = randomize(build(bb, "dept")), randomize(build(bb, "adept"))
    ids, mask = A.encode_examples(dept, enc, task.splits["validation"][:12])
    vd, va = A.position_variance(dept, ids, mask), A.position_variance(ad, ids, mask)
    assert vd["mean_variance"] == 0.0 and all(v in (0.0, None) for v in vd["variance"])
    assert va["mean_variance"] > 1e-6  # token-dependent part of f(e); b adds the same vector to every token
    assert vd["count"][0] == 12


def test_tokens_sharing_one_dept_row():
    ids, mask = batch_with_repeats()
    out = A.tokens_per_position(ids, mask)
    assert out["row"] == [0, 1, 2, 3, 4, 5]
    assert out["distinct_tokens"] == [2, 2, 2, 2, 1, 1] and out["max"] == 2


def test_shift_demo_moves_dept_offsets_not_adept(tiny):
    bb = tiny("tiny-llama")
    neutral = A.neutral_token_ids(bb.tokenizer, 8)
    x = torch.tensor([1500, 1600, 1700, 1800])
    sd = A.shift_demo(randomize(build(bb, "dept")), x, neutral, (1, 2, 4))
    sa = A.shift_demo(randomize(build(bb, "adept")), x, neutral, (1, 2, 4))
    assert sd["shifts"] == [1, 2, 4] and min(sd["mean_change"]) > 0.1
    assert max(sa["max_change"]) <= 1e-6


def test_token_offsets_align_with_the_text(tiny):
    bb = tiny("tiny-bert")
    m = randomize(build(bb, "dept"))
    out = A.token_offsets(m, "a gripping, funny film")
    n = len(out["tokens"])
    assert out["tokens"][0] == "[CLS]" and out["tokens"][-1] == "[SEP]"
    assert len(out["offset_norm"]) == len(out["embedding_norm"]) == len(out["token_ids"]) == n
    table = m.offsets.table().detach()
    assert out["offset_norm"] == pytest.approx([float(table[j].norm()) for j in range(n)], rel=1e-5)
    with pytest.raises(ValueError, match="empty"):
        A.token_offsets(m, "  ")


def test_pca_shapes_and_dominant_direction(tiny):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(200, generator=g)
    x = torch.outer(t, torch.tensor([3.0, 4.0, 0.0, 0.0])) / 5 + 0.01 * torch.randn(200, 4, generator=g)
    coords, ratio = A.pca_2d(x)
    assert coords.shape == (200, 2) and len(ratio) == 2
    assert ratio[0] > 0.99 and 0 <= ratio[1] < 0.01
    assert torch.allclose(coords[:, 0].abs(), (t - t.mean()).abs().double(), atol=0.05)
    zeros, zr = A.pca_2d(torch.zeros(5, 3))
    assert zeros.abs().sum() == 0 and zr == [0.0, 0.0]
    bb = tiny("tiny-llama")
    ids, mask = batch_with_repeats()
    out = A.offset_pca(randomize(build(bb, "adept")), ids, mask)
    assert out["num_points"] == 10 == len(out["x"]) == len(out["token"]) == len(out["slot"])


# ----- pilot experiment -------------------------------------------------------------------------------------

def test_prepend_keeps_special_tokens_and_suffix():
    assert A.prepend_tokens([101, 5, 6, 7, 102], [9, 9], max_length=10, head=1, tail=1) == [101, 9, 9, 5, 6, 7, 102]
    # over max_length: the body is cut at its end, the frame survives
    assert A.prepend_tokens([101, 5, 6, 7, 102], [9, 9, 9], max_length=6, head=1, tail=1) == [101, 9, 9, 9, 5, 102]
    with pytest.raises(ValueError, match="lower k"):
        A.prepend_tokens([1, 2], [9] * 5, max_length=4)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bert"])
def test_pilot_at_k0_equals_plain_evaluation(tiny, task, name):
    bb = tiny(name)
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    m = randomize(build(bb, "dept"), scale=0.05)
    examples = task.splits["test"][:16]
    res = A.pilot_experiment(m, enc, examples, ks=(0, 2, 4))
    plain = evaluate(m, enc, examples)
    assert res["ks"] == [0, 2, 4] and res["metric"] == "accuracy"
    assert res["results"]["right"]["accuracy"][0] == plain["accuracy"]
    assert res["results"]["right"]["f1"][0] == plain["f1"]
    assert set(res["results"]) == ({"right", "left"} if bb.kind == "causal" else {"right"})
    assert len(res["neutral_tokens"]) == 4 and m.padding_side == "right"  # restored after the left-padding pass


# ----- first-layer attention ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tiny-llama", "tiny-t5"])
def test_pt_keeps_first_layer_content_ratios_offsets_change_them(tiny, name):
    bb = tiny(name)
    x = torch.tensor([[1500, 1600, 1700, 1800, 1900, 2000, 2100]])
    pt = build(bb, "pt", prompt=5)
    att = A.first_layer_attention(pt, x)
    assert att.shape[-1] == 5 + 7
    assert torch.allclose(att.sum(-1), torch.ones(att.shape[:2]), atol=1e-5)  # every row sums to 1
    frozen = A.first_layer_attention(build(bb, "pt", prompt=5).__class__(bb, "pt", 0, 0, 48), x)
    content = att[:, 5:, 5:]
    assert (content - frozen).abs().max() > 1e-3  # the prompt keys rescale each row ...
    change = A.relative_attention_change(content, frozen, causal=bb.kind == "causal")
    assert change["mean"] < 1e-5 and change["pairs"] > 0  # ... but leave the ratios among content keys
    for method in ("dept", "adept"):
        res = A.attention_analysis(randomize(build(bb, method, prompt=5)), x)
        assert res["relative_change"] > 1e-3
        assert len(res["attention"]) == len(res["frozen"]) == 7 and len(res["to_prompt"]) == 7
    # only the first layer: from layer 2 on, content states already mixed in the prompt's values
    deep = A.relative_attention_change(A.layer_attention(pt, x, 1)[:, 5:, 5:],
                                       A.layer_attention(pt.__class__(bb, "pt", 0, 0, 48), x, 1),
                                       causal=bb.kind == "causal")
    assert deep["mean"] > 1e-3
    assert bb.model.config._attn_implementation == "sdpa"  # restored after the eager pass


def test_pt_changes_content_ratios_with_absolute_positions(tiny):
    """The claim needs relative positions: with learned absolute positions (BERT) PT shifts every content
    token by l positions, which changes their logits."""
    res = A.attention_analysis(build(tiny("tiny-bert"), "pt", prompt=5), torch.tensor([[101, 1500, 1600, 1700, 102]]))
    assert res["position_encoding"] == "absolute" and res["relative_change"] > 1e-3


def test_relative_change_by_hand():
    a0 = torch.tensor([[[0.5, 0.25, 0.25]]]).expand(1, 3, 3).clone()
    a = torch.tensor([[[0.2, 0.4, 0.4]]]).expand(1, 3, 3).clone()
    # pairs (0,1), (0,2), (1,2) per query: |log(0.5) - log(2)| = log 4 twice, 0 once -> mean 2 log(4) / 3
    out = A.relative_attention_change(a, a0, causal=False)
    assert out["pairs"] == 9 and out["mean"] == pytest.approx(2 * math.log(4) / 3)


# ----- latency ---------------------------------------------------------------------------------------------

def test_ab_timings_interleave_and_latency_shape(tiny):
    calls = []
    times = A.ab_timings({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"] and len(times["a"]) == 3
    bb = tiny("tiny-llama")
    ad = randomize(build(bb, "adept"))
    out = A.latency({"adept": ad, "folded": ad.fold()}, [[1500, 1600], [1700, 1800, 1900]], label_ids=[1, 2],
                    repeats=2)
    assert out["num_examples"] == 2 and len(out["models"]["adept"]["rounds_ms"]) == 2
    assert out["ratios"]["adept/folded"] == pytest.approx(
        out["models"]["adept"]["median_ms"] / out["models"]["folded"]["median_ms"])


# ----- folding ----------------------------------------------------------------------------------------------

def test_fold_model_adept_and_dept_equal_outputs(tiny, tmp_path):
    bb = tiny("tiny-bert")
    ids = torch.tensor([[101, 1500, 1600, 1700, 102], [101, 1800, 102, 0, 0]])
    mask = (ids != 0).long()
    for method in ("adept", "dept"):
        m = randomize(build(bb, method))
        rep = A.fold_model(m, tmp_path / method)
        assert rep["folded"] is True
        re = A.load_folded(tmp_path / method, bb)
        assert re.method == "pt" and re.folded_from == method
        assert (A._outputs(m, ids, mask) - A._outputs(re, ids, mask)).abs().max() < 1e-5
    assert (tmp_path / "adept" / A.FOLDED_TABLE).exists() and (tmp_path / "dept" / A.FOLDED_POSITIONS).exists()
    # the shared backbone is untouched by folding and reloading
    assert torch.equal(bb.model.embeddings.position_embeddings.weight, tiny("tiny-bert").model.embeddings
                       .position_embeddings.weight)
    rep = A.fold_model(randomize(build(tiny("tiny-llama"), "dept")), tmp_path / "rope")
    assert rep["folded"] is False and "rotary or relative" in rep["reason"]
    assert (tmp_path / "rope" / A.DEPT_TABLE).exists()


# ----- run level: analyze_run / fold_run in an isolated store ------------------------------------------------

SMALL = {"stats_examples": 12, "pilot_examples": 8, "attention_tokens": 12, "latency_examples": 2,
         "latency_repeats": 1}


def test_analyze_run_logs_artifacts_once(tiny_run, monkeypatch):
    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    res = A.analyze_run(run_id, sizes=SMALL)
    for name in A.ARTIFACT_NAMES:
        stored = tracking.load_json_artifact(run_id, f"analysis/{name}.json")
        assert stored == json.loads(json.dumps(res[name])), name
    assert res["meta"]["method"] == "adept" and res["meta"]["sizes"]["pilot_examples"] == 8
    assert res["pilot"]["num_examples"] == 8 and set(res["pilot"]["results"]) == {"right", "left"}
    assert set(res["latency"]["models"]) == {"pt", "dept", "adept", "adept_folded", "pt_short"}
    assert res["latency"]["variants"]["pt_short"]["num_virtual_tokens"] == res["latency"]["variants"]["adept"][
        "num_virtual_tokens"]
    assert "adept_folded/pt_short" in res["latency"]["verdicts"]
    examples = tracking.load_json_artifact(run_id, "analysis/pilot_examples.json")
    assert examples["example_index"] == list(range(8)) and set(examples["sides"]) == {"right", "left"}
    assert set(res["pilot"]["slopes"]) == {"right", "left"} and len(res["pilot"]["bands"]["right"]) == 6
    metrics = tracking.get_client().get_run(run_id).data.metrics
    assert metrics["pilot/slope_right"] == pytest.approx(res["pilot"]["slopes"]["right"]["slope"])
    assert res["latency"]["variants"]["adept"]["from_run"] is True
    assert res["latency"]["variants"]["pt"]["num_virtual_tokens"] == 100
    assert res["position_vs_input"]["same_token"]["max_difference"] <= 1e-6
    # second call reads the artifacts back without loading the model
    monkeypatch.setattr(A.run, "load_run_model", lambda *a, **k: pytest.fail("recomputed"))  # analyze_run's own
    again = A.analyze_run(run_id)
    assert again["meta"]["run_id"] == run_id
    assert again["offset_stats"]["distinct"] == res["offset_stats"]["distinct"]


def test_fold_run_checks_equality(tiny_run, monkeypatch, tmp_path, capsys):
    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    rep = A.fold_run(run_id, tmp_path / "folded", check_examples=6)
    assert rep["folded"] and rep["max_abs_diff"] < 1e-5 and rep["predictions_equal"] is True
    assert rep["check_examples"] == 6
    saved = json.loads((tmp_path / "folded" / A.FOLD_REPORT).read_text())
    assert saved["max_abs_diff"] == rep["max_abs_diff"]
    import argparse

    assert A.cli_fold(argparse.Namespace(run_id=run_id, out=str(tmp_path / "cli"), full_model=False)) == 0
    assert '"predictions_equal": true' in capsys.readouterr().out
    with pytest.raises(ValueError, match="no config.json"):
        A.fold_run("0" * 32, tmp_path / "x")
