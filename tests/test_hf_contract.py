"""The transformers / PEFT model contract of PromptTunedModel: ModelOutput from forward, stock Trainer,
save_pretrained / from_pretrained (and folders saved under the old config name)."""

import json

import pytest
import torch
import torch.nn.functional as F

import adept
from adept.methods import ADAPTER_CONFIG, ADAPTER_WEIGHTS, PromptTunedModel

KINDS = ["tiny-llama", "tiny-gpt2", "tiny-t5", "tiny-bert"]


def build(bb, method="adept", **kw):
    kw.setdefault("max_length", 32)
    if bb.kind == "encoder":
        kw.setdefault("num_labels", 2)
    m = adept.build_method(method, bb, num_virtual_tokens=3, rank=4, **kw)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"] + m.parameter_groups()["head"]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return m.eval()


def example_batch(kind, b=4, n=8, seed=0):
    """input_ids, attention_mask (last row right padded) and labels in the shape each kind trains on."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 1200, (b, n), generator=g)
    mask = torch.ones_like(ids)
    mask[-1, n - 2:] = 0
    if kind == "causal":
        labels = torch.full_like(ids, -100)
        labels[:, 3:6] = ids[:, 3:6]
    elif kind == "seq2seq":
        labels = ids[:, :3].clone()
    else:
        labels = torch.arange(b) % 2
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("name", KINDS)
def test_forward_returns_model_output_with_the_fast_path_loss(tiny, name):
    from transformers.utils import ModelOutput

    bb = tiny(name)
    m = build(bb)
    batch = example_batch(bb.kind)
    out = m(**batch)
    assert isinstance(out, ModelOutput)
    assert out.loss.item() == pytest.approx(m.loss(**batch).item(), rel=1e-5)
    b, n = batch["input_ids"].shape
    expected = {"causal": (b, 3 + n, bb.vocab_size), "seq2seq": (b, 3, bb.model.config.vocab_size), "encoder": (b, 2)}
    assert tuple(out.logits.shape) == expected[bb.kind]
    extra = {"decoder_input_ids": batch["labels"]} if bb.kind == "seq2seq" else {}  # T5 needs a decoder input
    assert m(batch["input_ids"], batch["attention_mask"], **extra).loss is None
    tup = m(**batch, return_dict=False)
    assert isinstance(tup, tuple) and torch.equal(tup[0], out.loss) and torch.equal(tup[1], out.logits)


def test_causal_forward_loss_is_next_token_cross_entropy_and_counts_items(tiny):
    m = build(tiny("tiny-llama"))
    batch = example_batch("causal")
    logits = m(batch["input_ids"], batch["attention_mask"]).logits[:, 3:]  # the input positions
    ref = F.cross_entropy(logits[:, 2:5].reshape(-1, logits.shape[-1]), batch["input_ids"][:, 3:6].reshape(-1),
                          reduction="sum")
    assert m(**batch, num_items_in_batch=24).loss.item() == pytest.approx(ref.item() / 24, rel=1e-5)
    with pytest.raises(ValueError, match="must align with input_ids"):
        m(batch["input_ids"], batch["attention_mask"], labels=batch["labels"][:, :3])
    with pytest.raises(ValueError, match="needs input_ids"):
        m(inputs_embeds=torch.zeros(1, 2, 64))


def test_seq2seq_forward_passes_decoder_input_ids_through(tiny):
    bb = tiny("tiny-t5")
    m = build(bb)
    batch = example_batch("seq2seq")
    dec = torch.tensor([[0, 1100, 1101]] * 4)
    x, mask = m.prompted_inputs(batch["input_ids"], batch["attention_mask"])
    ref = bb.model(inputs_embeds=x, attention_mask=mask, decoder_input_ids=dec).logits
    out = m(batch["input_ids"], batch["attention_mask"], decoder_input_ids=dec, output_hidden_states=True)
    assert torch.allclose(out.logits, ref, atol=1e-5)
    assert out.encoder_hidden_states[-1].shape[1] == 3 + batch["input_ids"].shape[1]  # prompt + input


def test_tokenizer_outputs_go_straight_in(tiny):
    """``model(**tokenizer(...))``: MiniLM's tokenizer adds all-zero token_type_ids, which a Llama does not take;
    non-zero ones (a BERT text pair) get zeros for the prompt positions."""
    bb = tiny("tiny-llama")
    m = build(bb)
    enc = bb.tokenizer(["a fine film", "dull"], padding=True, return_tensors="pt")
    assert "token_type_ids" in enc
    assert torch.allclose(m(**enc).logits, m(enc["input_ids"], enc["attention_mask"]).logits)
    bert = tiny("tiny-bert")
    mb = build(bert)
    pair = bert.tokenizer(["a fine film"], ["dull"], return_tensors="pt")
    assert pair["token_type_ids"].any()
    x, mask = mb.prompted_inputs(pair["input_ids"], pair["attention_mask"])
    types = torch.cat([torch.zeros(1, 3, dtype=torch.long), pair["token_type_ids"]], 1)
    h = bert.model(inputs_embeds=x, attention_mask=mask, token_type_ids=types).last_hidden_state
    assert torch.allclose(mb(**pair).logits, mb.head(mb._pool(h, pair["attention_mask"], pair["input_ids"])),
                          atol=1e-5)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-t5", "tiny-bert"])
def test_stock_trainer_lowers_the_loss_and_checkpoints_the_adapter_only(tiny, name, tmp_path):
    from safetensors import safe_open
    from transformers import Trainer, TrainingArguments

    bb = tiny(name)
    m = adept.build_method("adept", bb, num_virtual_tokens=4, rank=4, max_length=16,
                           num_labels=2 if bb.kind == "encoder" else None)
    batch = example_batch(bb.kind, b=8)
    data = [{k: v[i] for k, v in batch.items()} for i in range(8)]
    m.eval()
    with torch.no_grad():
        before = m(**batch).loss.item()
    lr = 0.01 if bb.kind == "encoder" else 0.1  # the fresh classification head overshoots at 0.1
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=8, per_device_train_batch_size=8, learning_rate=lr,
                             lr_scheduler_type="constant", save_steps=4, report_to=[], use_cpu=True,
                             disable_tqdm=True, logging_steps=4, dataloader_num_workers=0)
    Trainer(model=m, args=args, train_dataset=data).train()
    m.eval()
    with torch.no_grad():
        after = m(**batch).loss.item()
    assert after < before - 0.01, (before, after)
    with safe_open(str(tmp_path / "checkpoint-8" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys == set(m.adapter_state()) and "prompt" in keys
    assert not any(p.requires_grad for p in bb.model.parameters())


def test_state_dict_is_the_adapter_and_loads_strictly(tiny):
    m = build(tiny("tiny-llama"))
    state = m.state_dict()
    assert set(state) == {"prompt", *(f"offsets.{k}" for k in m.offsets.state_dict())}
    other = build(tiny("tiny-llama"), "adept")
    with torch.no_grad():
        other.prompt.zero_()
    assert other.load_state_dict(state, strict=True).missing_keys == []
    assert torch.equal(other.prompt, m.prompt)
    wrapped = torch.nn.ModuleDict({"tuned": m})
    assert set(wrapped.state_dict()) == {f"tuned.{k}" for k in state}


def test_save_pretrained_from_pretrained_and_the_old_config_name(tiny, tmp_path):
    from peft import PeftConfig

    bb = tiny("tiny-llama")
    m = build(bb, activation="gelu")
    m.save_pretrained(tmp_path / "new")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted([ADAPTER_CONFIG, ADAPTER_WEIGHTS])
    assert ADAPTER_CONFIG != "adapter_config.json"  # PEFT's name: PeftConfig would read ours and fail
    with pytest.raises(ValueError):
        PeftConfig.from_pretrained(str(tmp_path / "new"))
    batch = example_batch("causal")
    ref = m(batch["input_ids"], batch["attention_mask"]).logits
    for backbone in (bb, "tiny-llama", None):  # a loaded backbone, a name, or the one named in the config
        back = PromptTunedModel.from_pretrained(tmp_path / "new", backbone).eval()
        assert back.options["activation"] == "gelu"
        assert torch.allclose(back(batch["input_ids"], batch["attention_mask"]).logits, ref, atol=1e-6)
    # a run stored before the rename: same files, config under PEFT's name
    old = tmp_path / "old"
    old.mkdir()
    (old / ADAPTER_WEIGHTS).write_bytes((tmp_path / "new" / ADAPTER_WEIGHTS).read_bytes())
    (old / "adapter_config.json").write_text((tmp_path / "new" / ADAPTER_CONFIG).read_text())
    back = adept.load_adapter(old, bb).eval()
    assert torch.equal(back(batch["input_ids"], batch["attention_mask"]).logits, ref)
    # a real PEFT folder is told apart
    peft_dir = tmp_path / "peft"
    peft_dir.mkdir()
    (peft_dir / ADAPTER_WEIGHTS).write_bytes(b"")
    (peft_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    with pytest.raises(ValueError, match="holds a PEFT adapter"):
        adept.load_adapter(peft_dir, bb)
