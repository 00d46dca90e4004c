"""PT / DePT / ADePT checked against independent computations of their equations on tiny models."""

import math

import pytest
import torch
import torch.nn.functional as F

import adept
from adept.backbones import load_backbone
from adept.methods import load_adapter

KINDS = ["tiny-llama", "tiny-gpt2", "tiny-t5", "tiny-bert"]


def build(bb, method, **kw):
    kw.setdefault("max_length", 32)
    if bb.kind == "encoder":
        kw.setdefault("num_labels", 2)
    return adept.build_method(method, bb, **kw)


def randomize(m, seed=0, scale=0.2):
    """Non-zero offsets (B starts at zero, which would hide every bug)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"] + m.parameter_groups()["head"]:
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return m.eval()


def batch(n=7, b=2, pad_last=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 5000, (b, n), generator=g)
    mask = torch.ones_like(ids)
    if pad_last:
        mask[-1, n - pad_last:] = 0
    return ids, mask


# ----- the equations --------------------------------------------------------------------------------

def test_adept_offsets_match_equation(tiny):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, "adept", num_virtual_tokens=4, rank=5))
    ids, mask = batch()
    e = bb.input_embedding().weight[ids]
    f = m.offsets
    expected = F.relu(e @ f.A + f.a) @ f.B + f.b
    assert torch.allclose(m.embedding_offsets(ids, mask), expected, atol=1e-6)
    assert expected.abs().sum() > 0


def test_dept_offsets_match_equation(tiny):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, "dept", num_virtual_tokens=4, rank=6))
    ids, mask = batch(n=9)
    off = m.embedding_offsets(ids, mask)
    table = (8 / math.sqrt(6)) * (m.offsets.A @ m.offsets.B)
    assert m.offsets.A.shape == (32, 6) and m.offsets.B.shape == (6, bb.d_model)
    for j in range(9):
        assert torch.allclose(off[:, j], table[j].expand(2, -1), atol=1e-6)


def test_pt_offsets_are_zero(tiny):
    m = build(tiny("tiny-llama"), "pt", num_virtual_tokens=5)
    ids, mask = batch()
    assert torch.equal(m.embedding_offsets(ids, mask), torch.zeros(2, 7, 64))


def test_adept_offset_depends_only_on_token(tiny):
    m = randomize(build(tiny("tiny-llama"), "adept", rank=4))
    a = torch.tensor([[1500, 1600, 1700, 1800]])
    b = torch.tensor([[1900, 1700, 2100, 2200, 2300, 2400]])
    oa, ob = m.embedding_offsets(a)[0], m.embedding_offsets(b)[0]
    assert torch.allclose(oa[2], ob[1])  # token 1700 at position 2 and at position 1
    assert not torch.allclose(oa[0], oa[1])


def test_dept_offset_depends_only_on_position(tiny):
    m = randomize(build(tiny("tiny-llama"), "dept", rank=4))
    a = torch.tensor([[1500, 1600, 1700]])
    b = torch.tensor([[2500, 2600, 2700]])
    assert torch.allclose(m.embedding_offsets(a), m.embedding_offsets(b))
    same_token = m.embedding_offsets(torch.tensor([[1700, 1700]]))[0]
    assert not torch.allclose(same_token[0], same_token[1])


def test_dept_left_padding_shifts_rows_like_padding_to_max_length(tiny):
    m = randomize(build(tiny("tiny-llama"), "dept", rank=4, padding_side="left"))
    ids, mask = batch(n=5, pad_last=0)
    table = m.offsets.table()
    assert torch.allclose(m.embedding_offsets(ids, mask)[0], table[32 - 5:])


def test_inits(tiny):
    bb = tiny("tiny-llama")
    ad = build(bb, "adept", rank=8)
    de = build(bb, "dept", rank=8)
    assert torch.count_nonzero(ad.offsets.B) == 0 and torch.count_nonzero(ad.offsets.a) == 0
    assert torch.count_nonzero(ad.offsets.b) == 0 and torch.count_nonzero(de.offsets.B) == 0
    bound = 1 / math.sqrt(8)
    assert 0 < ad.offsets.A.abs().max() <= bound and 0 < de.offsets.A.abs().max() <= bound
    ids, mask = batch()
    assert torch.count_nonzero(ad.embedding_offsets(ids, mask)) == 0  # Δ ≡ 0 at step 0
    assert de.offsets.scaling == pytest.approx(8 / math.sqrt(8))


def test_adept_dropout_only_in_training(tiny):
    m = randomize(build(tiny("tiny-llama"), "adept", rank=16))
    ids, mask = batch()
    m.eval()
    assert torch.equal(m.embedding_offsets(ids, mask), m.embedding_offsets(ids, mask))
    m.train()
    torch.manual_seed(1)
    a = m.embedding_offsets(ids, mask)
    torch.manual_seed(2)
    assert not torch.allclose(a, m.embedding_offsets(ids, mask))


def test_text_init_copies_token_embeddings(tiny):
    bb = tiny("tiny-llama")
    m = build(bb, "pt", num_virtual_tokens=7, init="text", init_text="positive negative review")
    ids = bb.tokenizer("positive negative review", add_special_tokens=False)["input_ids"]
    rows = bb.input_embedding().weight[torch.tensor((ids * 3)[:7])]
    assert torch.equal(m.prompt.detach(), rows)


# ----- forward passes against the backbone fed by hand ------------------------------------------

@pytest.mark.parametrize("method", ["pt", "dept", "adept"])
def test_causal_forward_is_backbone_on_prompt_plus_offset_embeddings(tiny, method):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, method, num_virtual_tokens=3, rank=4))
    ids, mask = batch(pad_last=0)
    x = torch.cat([m.prompt.expand(2, -1, -1), bb.input_embedding()(ids) + m.embedding_offsets(ids, mask)], 1)
    ref = bb.model(inputs_embeds=x).logits
    assert torch.allclose(m(ids, mask).logits, ref, atol=1e-5)


def test_seq2seq_offsets_touch_only_the_encoder(tiny):
    bb = tiny("tiny-t5")
    m = randomize(build(bb, "adept", num_virtual_tokens=3, rank=4))
    ids, mask = batch()
    labels = torch.randint(1000, 2000, (2, 3))
    x = torch.cat([m.prompt.expand(2, -1, -1), bb.input_embedding()(ids) + m.embedding_offsets(ids, mask)], 1)
    full_mask = torch.cat([torch.ones(2, 3, dtype=mask.dtype), mask], 1)
    ref = bb.model(inputs_embeds=x, attention_mask=full_mask, labels=labels).logits
    assert torch.allclose(m(ids, mask, labels=labels).logits, ref, atol=1e-5)


def test_causal_loss_only_on_label_positions(tiny):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, "adept", num_virtual_tokens=3, rank=4))
    ids, mask = batch(pad_last=0)
    labels = torch.full_like(ids, -100)
    labels[:, 5:] = ids[:, 5:]
    logits = m(ids, mask).logits[:, 3:]  # drop the prompt positions
    ref = F.cross_entropy(logits[:, 4:6].reshape(-1, logits.shape[-1]), ids[:, 5:7].reshape(-1))
    assert m.loss(ids, mask, labels).item() == pytest.approx(ref.item(), rel=1e-5)


def test_score_labels_reads_last_real_token_either_padding_side(tiny):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, "adept", num_virtual_tokens=3, rank=4))
    a = torch.tensor([[1500, 1600, 1700, 1800]])
    b = torch.tensor([[1900, 1700]])
    single = torch.cat([m.score_labels(x, torch.ones_like(x), [2000, 2001]) for x in (a, b)])
    right = torch.tensor([[1500, 1600, 1700, 1800], [1900, 1700, 0, 0]])
    mask_r = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    assert torch.allclose(m.score_labels(right, mask_r, [2000, 2001]), single, atol=1e-5)
    m.padding_side = "left"
    left = torch.tensor([[1500, 1600, 1700, 1800], [0, 0, 1900, 1700]])
    assert torch.allclose(m.score_labels(left, mask_r.flip(1), [2000, 2001]), single, atol=1e-5)


def test_encoder_head_is_trainable_and_counted_apart(tiny):
    bb = tiny("tiny-bert")
    m = build(bb, "adept", num_virtual_tokens=4, rank=3, num_labels=3)
    assert m.head_parameter_count() == 64 * 3 + 3
    assert m.trainable_parameter_count() == 4 * 64 + 3 * (2 * 64 + 1) + 64 + m.head_parameter_count()
    ids, mask = batch()
    assert m.score_labels(ids, mask).shape == (2, 3)


def test_pt_matches_peft_prompt_tuning():
    from peft import PromptTuningConfig, get_peft_model

    ours = build(load_backbone("tiny-llama"), "pt", num_virtual_tokens=6).eval()
    ref_bb = load_backbone("tiny-llama")  # PEFT wraps its model in place: give it its own copy
    peft_model = get_peft_model(ref_bb.model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=6))
    with torch.no_grad():
        peft_model.prompt_encoder["default"].embedding.weight.copy_(ours.prompt)
    peft_model.eval()
    ids, mask = batch(pad_last=0)
    ref = peft_model(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(ours(ids, mask).logits, ref, atol=1e-5)


# ----- budgets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", KINDS)
def test_equal_budget_counts_agree_with_solver(tiny, name):
    bb = tiny(name)
    budget = 100 * bb.d_model
    for method in ("pt", "dept", "adept"):
        m = build(bb, method, budget=budget)
        sol = adept.budget.solve(method, bb.d_model, 32, budget, None if method == "pt" else 60)
        assert (m.num_virtual_tokens, m.rank) == tuple(sol)
        assert m.trainable_parameter_count() - m.head_parameter_count() == sol.params <= budget
    assert not any(p.requires_grad for p in bb.model.parameters())


def test_public_solver_values():
    assert adept.budget.solve("dept", d_model=768, max_length=256, budget=76800, num_virtual_tokens=60) == (60, 30)
    assert adept.budget.solve("adept", d_model=768, max_length=256, budget=76800, num_virtual_tokens=60) == (60, 19)
    assert adept.budget.solve("pt", d_model=768, max_length=256, budget=76800) == (100, 0)
    sol = adept.budget.solve("adept", d_model=768, max_length=256, budget=76800, num_virtual_tokens=60)
    assert sol.params == 76051 and sol.unused == 749
    for m, r in [(0, 49), (20, 39), (40, 29), (80, 9)]:
        assert adept.budget.solve("adept", 768, 256, 76800, m).rank == r
    assert adept.budget.solve("dept", 576, 256, 57600, 60) == (60, 27)


def test_build_method_errors(tiny):
    bb = tiny("tiny-llama")
    with pytest.raises(ValueError, match="Unknown method 'lora'"):
        adept.build_method("lora", bb)
    with pytest.raises(ValueError, match="rank must be a positive"):
        adept.build_method("adept", bb, num_virtual_tokens=10, rank=0)
    with pytest.raises(ValueError, match="max_length must be a positive"):
        adept.build_method("dept", bb, max_length=0)
    with pytest.raises(ValueError, match="cannot hold a 200-token prompt"):
        adept.build_method("adept", bb, num_virtual_tokens=200, budget=6400)
    with pytest.raises(ValueError, match="num_labels"):
        adept.build_method("pt", tiny("tiny-bert"))
    assert adept.build_method("ADePT", bb, rank=3).method == "adept"


def test_dept_too_long_input_is_a_clear_error(tiny):
    m = build(tiny("tiny-llama"), "dept", rank=2, max_length=8)
    ids = torch.randint(1000, 2000, (1, 9))
    with pytest.raises(ValueError, match="longer than DePT's max_length 8"):
        m.loss(ids, torch.ones_like(ids), ids)


# ----- folding, save / load -------------------------------------------------------------------------

@pytest.mark.parametrize("name", KINDS)
def test_adept_fold_gives_same_outputs(tiny, name):
    bb = tiny(name)
    m = randomize(build(bb, "adept", num_virtual_tokens=3, rank=4))
    ids, mask = batch()
    folded = m.fold()
    assert folded.method == "pt" and folded.offsets is None and folded.folded_from == "adept"
    labels = torch.randint(1000, 2000, (2, 3)) if bb.kind == "seq2seq" else None
    assert torch.allclose(folded(ids, mask, labels=labels).logits, m(ids, mask, labels=labels).logits, atol=1e-5)
    assert not torch.allclose(folded(ids, mask, labels=labels).logits, build(bb, "pt", num_virtual_tokens=3)(
        ids, mask, labels=labels).logits, atol=1e-3)
    if bb.kind != "encoder":
        # tied tables: the output head keeps the original vocabulary, only the input copy changed
        assert torch.equal(folded.lm_head().weight, bb.model.get_output_embeddings().weight)
        assert not torch.equal(folded.embed_table().weight, bb.input_embedding().weight)
    if bb.kind == "seq2seq":
        assert torch.equal(folded.model.get_decoder().embed_tokens.weight, bb.model.shared.weight)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-bert"])
def test_dept_folds_into_absolute_positions(tiny, name):
    m = randomize(build(tiny(name), "dept", num_virtual_tokens=3, rank=4))
    ids, mask = batch()
    real = torch.cat([torch.ones(2, 3), mask], 1).bool() if m.kind == "causal" else slice(None)
    # pads' outputs are unused
    assert torch.allclose(m.fold()(ids, mask).logits[real], m(ids, mask).logits[real], atol=1e-5)


def test_dept_fold_refused_without_position_table(tiny):
    m = build(tiny("tiny-llama"), "dept", rank=4)
    with pytest.raises(ValueError, match="no learned absolute position table"):
        m.fold()


def test_save_load_roundtrip_and_mismatch(tiny, tmp_path):
    bb = tiny("tiny-llama")
    m = randomize(build(bb, "adept", num_virtual_tokens=3, rank=4, activation="gelu"))
    m.save_pretrained(tmp_path / "a")
    back = load_adapter(tmp_path / "a", bb).eval()
    ids, mask = batch()
    assert back.options["activation"] == "gelu"
    assert torch.equal(back(ids, mask).logits, m(ids, mask).logits)
    with pytest.raises(ValueError, match="trained on 'tiny-llama'"):
        load_adapter(tmp_path / "a", tiny("tiny-t5"))
    with pytest.raises(ValueError, match="not an adapter folder"):
        load_adapter(tmp_path, bb)


