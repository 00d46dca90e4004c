"""Cached, batched generation (adept/generation.py) against the uncached loop and argmax by hand."""

import pytest
import torch

import adept
from adept.generation import greedy_uncached, left_pad, stop_ids


def build(bb, method, max_length=32, **kw):
    m = adept.build_method(method, bb, num_virtual_tokens=3, rank=4, max_length=max_length, **kw)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return m.eval()


def ragged(b=3, n=7, seed=0):
    """Right-padded inputs of lengths n, n - 2, n - 4."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 5000, (b, n), generator=g)
    mask = torch.ones_like(ids)
    for i in range(1, b):
        mask[i, n - 2 * i:] = 0
    return ids * mask, mask


def test_left_pad_moves_real_tokens_right_in_order():
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0], [1, 2, 3, 4]])
    mask = (ids != 0).long()
    li, lm = left_pad(ids, mask)
    assert li.tolist() == [[0, 5, 6, 7], [0, 0, 8, 9], [1, 2, 3, 4]]
    assert lm.tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]]


def cut(tokens, stops):
    return tokens[:next((i for i, t in enumerate(tokens) if t in stops), len(tokens))]


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2"])
@pytest.mark.parametrize("method", ["pt", "dept", "adept"])
def test_cached_batched_generation_equals_the_uncached_loop(tiny, name, method):
    m = build(tiny(name), method, max_length=12)
    ids, mask = ragged()
    ref = greedy_uncached(m, ids, mask, 5, set())  # one example at a time, whole sequence re-run per token
    # the transformers-style call: the left-padded input, then the new tokens (eos_token_id=[]: no stop token)
    out = m.generate(ids, mask, max_new_tokens=5, eos_token_id=[], do_sample=False)
    assert out.shape == (3, 7 + 5)
    assert torch.equal(out[:, :7], left_pad(ids, mask)[0])
    assert out[:, 7:].tolist() == ref
    # what evaluation decodes: the same tokens, each answer cut before its first stop token
    assert m.generate_new_tokens(ids, mask, max_new_tokens=5) == [cut(r, stop_ids(m)) for r in ref]


@pytest.mark.parametrize("method", ["adept", "dept"])
def test_generated_tokens_are_fed_back_with_their_offsets(tiny, method):
    """Argmax by hand: each step re-reads [P ; E + Δ] of input + tokens so far through forward."""
    m = build(tiny("tiny-gpt2"), method)
    seq = torch.tensor([[1500, 1600, 1700]])
    for _ in range(4):
        token = int(m(seq, torch.ones_like(seq)).logits[0, -1].argmax())
        seq = torch.cat([seq, torch.tensor([[token]])], 1)
    out = m.generate(seq[:, :3], max_new_tokens=4, eos_token_id=[])
    assert torch.equal(out, seq)
    # and the offsets matter: the same prompt without them decodes something else
    plain = adept.build_method("pt", m.backbone, num_virtual_tokens=3, max_length=32).eval()
    with torch.no_grad():
        plain.prompt.copy_(m.prompt)
    assert not torch.equal(plain.generate(seq[:, :3], max_new_tokens=4, eos_token_id=[]), seq)


def test_generation_config_options(tiny):
    from transformers import GenerationConfig

    m = build(tiny("tiny-llama"), "adept")
    ids, mask = ragged()
    torch.manual_seed(0)
    sampled = m.generate(ids, mask, do_sample=True, temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=5)
    assert sampled.shape[0] == 3 and sampled.shape[1] <= 7 + 5
    beams = m.generate(ids, mask, num_beams=3, num_return_sequences=2, max_new_tokens=4, min_new_tokens=4)
    assert beams.shape == (6, 7 + 4)
    assert torch.equal(beams[0::2, :7], left_pad(ids, mask)[0]) and torch.equal(beams[1::2, :7], left_pad(ids, mask)[0])
    out = m.generate(ids, mask, generation_config=GenerationConfig(max_new_tokens=3, eos_token_id=[], pad_token_id=0),
                     return_dict_in_generate=True, output_scores=True)
    assert out.sequences.shape == (3, 10) and len(out.scores) == 3
    first = int(out.sequences[0, 7])
    stopped = m.generate(ids, mask, max_new_tokens=4, eos_token_id=first, pad_token_id=0)
    assert stopped[0, 7] == first and (stopped[0, 8:] == 0).all()  # eos ends row 0, padding after it
    assert m.generate(ids, mask).shape[1] <= 7 + 20  # default: 20 new tokens


def test_seq2seq_generation_is_the_backbones_on_prompted_encoder_inputs(tiny):
    bb = tiny("tiny-t5")
    m = build(bb, "adept")
    ids, mask = ragged()
    x, fm = m.prompted_inputs(ids, mask)
    ref = bb.model.generate(inputs_embeds=x, attention_mask=fm, max_new_tokens=4, do_sample=False, num_beams=1)
    out = m.generate(ids, mask, max_new_tokens=4)
    assert torch.equal(out, ref)
    assert m.generate(ids, mask, max_new_tokens=4, num_beams=2).shape[0] == 3
    stops = stop_ids(m)
    expected = []
    for row in ref.tolist():
        toks = []
        for t in row[1:]:  # drop the decoder start token
            if t in stops:
                break
            toks.append(t)
        expected.append(toks)
    assert m.generate_new_tokens(ids, mask, max_new_tokens=4) == expected


def test_generation_errors_say_what_to_do(tiny):
    with pytest.raises(ValueError, match="cannot generate text"):
        build(tiny("tiny-bert"), "adept", num_labels=2).generate(torch.tensor([[1500, 1600]]))
    m = build(tiny("tiny-llama"), "dept", max_length=8)
    ids = torch.randint(1000, 2000, (1, 6))
    with pytest.raises(ValueError, match=r"position table has 8 rows.*at most 3 new tokens"):
        m.generate(ids, max_new_tokens=4)
    assert m.generate(ids, max_new_tokens=3, eos_token_id=[]).shape == (1, 9)
    assert len(m.generate_new_tokens(ids, max_new_tokens=10)) == 1  # evaluation stops at the table's end instead
    assert len(m.generate_new_tokens(ids, max_new_tokens=10)[0]) <= 3


def test_dept_left_padding_decodes_greedily_without_cache(tiny):
    m = build(tiny("tiny-llama"), "dept", max_length=16)
    m.padding_side = "left"
    ids, mask = ragged()
    li, lm = left_pad(ids, mask)
    ref = greedy_uncached(m, li, lm, 5, set())
    out = m.generate(li, lm, max_new_tokens=5, eos_token_id=[])
    assert out[:, 7:].tolist() == ref
    assert m.generate_new_tokens(li, lm, max_new_tokens=5) == greedy_uncached(m, li, lm, 5, stop_ids(m))
    with pytest.raises(ValueError, match="only uncached greedy decoding is exact"):
        m.generate(li, lm, max_new_tokens=5, do_sample=True)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-t5"])
def test_evaluation_decodes_generation_tasks_with_the_cache(tiny, name):
    """evaluate_ids on a QA-style task: its predictions are the cached generations, the same as the uncached
    loop's (causal) decoded."""
    from adept.encoding import Encoder, evaluate_ids
    from adept.tasks import Example, Task

    bb = tiny(name)
    m = build(bb, "adept")
    exs = [Example(text=f"question {i} context words here", label="words") for i in range(3)]
    task = Task("qa", "generation", [], [], ["f1", "em"], {"train": exs, "validation": exs, "test": exs})
    enc = Encoder(task, bb.tokenizer, bb.kind, 32)
    seen = []
    real = m.generate_new_tokens
    m.generate_new_tokens = lambda ids, mask: seen.append(real(ids, mask)) or seen[-1]
    scores = evaluate_ids(m, enc, [enc.source(ex) for ex in exs], [ex.label for ex in exs], batch_size=2)
    assert set(scores) == {"f1", "em"} and len(seen) == 2  # two batches
    if bb.kind == "causal":
        ids, mask = enc.pad([enc.source(ex) for ex in exs], m.padding_side, bb.tokenizer.pad_token_id)
        assert seen[0] + seen[1] == greedy_uncached(m, ids, mask, 20, stop_ids(m))
