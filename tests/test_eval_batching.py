"""Work done once: length-sorted evaluation gives the metrics of one-at-a-time scoring, out-of-memory batches
are split, and training examples are tokenized once per run."""

import pytest
import torch

from adept.encoding import Encoder, evaluate_ids
from adept.methods import build_method
from adept.tasks import load_task


@pytest.fixture(scope="module")
def setup():
    from adept.backbones import load_backbone

    task = load_task("rotten-tomatoes")
    bb = load_backbone("tiny-llama")
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    examples = task.splits["validation"][:13]
    return task, bb, enc, examples


@pytest.mark.parametrize("side", ["right", "left"])
def test_sorted_batches_score_like_one_at_a_time(setup, side, monkeypatch):
    import adept.encoding as encoding

    task, bb, enc, examples = setup
    torch.manual_seed(0)
    model = build_method("adept", bb, 4, 2, 48, padding_side=side).eval()
    with torch.no_grad():
        model.offsets.B.normal_(0, 0.5)
    ids, refs = enc.sources(examples), [ex.label for ex in examples]
    seen = []
    real = encoding._predict

    def spy(m, e, lists):
        seen.append([len(x) for x in lists])
        return real(m, e, lists)

    monkeypatch.setattr(encoding, "_predict", spy)
    one = evaluate_ids(model, enc, ids, refs, batch_size=1)
    seen.clear()
    five = evaluate_ids(model, enc, ids, refs, batch_size=5)
    assert five == one
    flat = [n for batch in seen for n in batch]
    assert flat == sorted(flat, reverse=True) and [len(b) for b in seen] == [5, 5, 3]  # longest first
    # per-example predictions come back in the given order
    preds = [real(model, enc, [x])[0] for x in ids]
    assert task.compute_metrics(preds, refs) == one


def test_a_batch_out_of_memory_is_split_and_retried(setup, monkeypatch):
    import adept.encoding as encoding

    task, bb, enc, examples = setup
    model = build_method("pt", bb, 4, None, 48).eval()
    ids, refs = enc.sources(examples), [ex.label for ex in examples]
    expected = evaluate_ids(model, enc, ids, refs, batch_size=4)
    real, sizes = encoding._predict, []

    def tight(m, e, lists):
        sizes.append(len(lists))
        if len(lists) > 3:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(m, e, lists)

    monkeypatch.setattr(encoding, "_predict", tight)
    assert evaluate_ids(model, enc, ids, refs, batch_size=8) == expected
    assert sizes[:2] == [8, 4] and max(sizes[2:]) <= 2

    def broken(m, e, lists):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(encoding, "_predict", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):  # other errors are not swallowed
        evaluate_ids(model, enc, ids, refs, batch_size=8)


def test_training_examples_are_tokenized_once(setup, monkeypatch):
    task, bb, enc, examples = setup
    calls = []
    real = Encoder.train_item
    monkeypatch.setattr(Encoder, "train_item", lambda self, ex: calls.append(ex) or real(self, ex))
    cache = enc.item_cache(examples)
    assert len(cache) == 13 and not calls  # nothing tokenized up front
    first = enc.collate_items([cache[i] for i in (0, 3, 5)], "right")
    again = enc.collate_items([cache[i] for i in (0, 3, 5)], "right")
    assert len(calls) == 3
    assert all(torch.equal(first[k], again[k]) for k in first)
    direct = enc.collate([examples[i] for i in (0, 3, 5)], "right")
    assert all(torch.equal(first[k], direct[k]) for k in first)
