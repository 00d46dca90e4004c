"""Encoder: examples -> token ids, loss labels on the verbalizer only, padding and collation."""

from adept.encoding import Encoder


def test_causal_encoding_puts_loss_on_the_verbalizer_only(tiny):
    from adept.tasks import load_task

    task = load_task("rotten-tomatoes")
    bb = tiny("tiny-llama")
    enc = Encoder(task, bb.tokenizer, "causal", 48)
    ex = task.splits["train"][0]
    ids, labels = enc.train_item(ex)
    target = [t for t in labels if t != -100]
    assert target == [enc.label_ids[ex.label]]
    assert labels[-1] == ids[-1] == enc.label_ids[ex.label] and len(ids) <= 48
    batch = enc.collate(task.splits["train"][:4], "left")
    assert batch["input_ids"].shape == batch["labels"].shape
    assert (batch["attention_mask"][:, -1] == 1).all()  # left padding: every row ends with a real token


def test_verbalizers_sharing_a_first_token_fall_back_to_letters(tiny):
    import dataclasses

    from adept.tasks import load_task

    task = dataclasses.replace(load_task("rotten-tomatoes"), verbalizers=["positive", "positivezzq"])
    enc = Encoder(task, tiny("tiny-llama").tokenizer, "causal", 48)
    assert enc.verbalizers == ["A", "B"] and len(set(enc.label_ids)) == 2
    assert "options : a, b." in enc.tok.decode(enc.source(task.splits["train"][0]))  # the uncased tiny tokenizer
    ids, labels = enc.train_item(task.splits["train"][0])
    assert [t for t in labels if t != -100] == [enc.label_ids[task.splits["train"][0].label]]
