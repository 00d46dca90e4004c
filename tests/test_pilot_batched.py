"""The batched pilot (adept/analysis/batched.py, pilot.py): the same predictions and metrics as scoring every
k alone with the training loop's evaluation, on tiny backbones with non-zero offsets."""

import pytest
import torch

from adept import analysis as A
from adept.analysis.batched import batched_predictions, per_example_scores
from adept.analysis.pilot import pilot_inputs
from adept.encoding import Encoder, evaluate_ids
from adept.tasks import load_task
from tests.test_analysis import build, randomize


@pytest.fixture(scope="module")
def task():
    return load_task("rotten-tomatoes")


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2", "tiny-bert", "tiny-t5"])
@pytest.mark.parametrize("method", ["dept", "adept"])
def test_batched_label_scores_equal_unbatched(tiny, task, name, method):
    """Length buckets + the prompt's cached keys/values give the label scores of score_labels on each input
    alone (batch 1, no padding), for both padding sides."""
    bb = tiny(name)
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    m = randomize(build(bb, method), scale=0.05)
    sources = [enc.source(ex) for ex in task.splits["test"][:10]]
    lists = [ids for per_k in pilot_inputs(enc, sources, A.neutral_token_ids(bb.tokenizer, 4), [0, 4], 48)
             for ids in per_k]
    for side in (["right", "left"] if bb.kind == "causal" else ["right"]):
        m.padding_side = side
        out = batched_predictions(m, enc, lists, batch_size=7)
        with torch.no_grad():
            alone = [m.score_labels(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long),
                                    enc.label_ids)[0] for ids in lists]
        got, want = torch.tensor(out["label_scores"]), torch.stack(alone).float()
        assert torch.allclose(got, want, atol=1e-4), (side, (got - want).abs().max())
        assert out["predictions"] == [int(a.argmax()) for a in alone]
    m.padding_side = "right"


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bert"])
def test_batched_pilot_equals_per_k_evaluation(tiny, task, name):
    """Every k and padding side of the one-pass pilot equals the training loop's evaluate_ids on that k's inputs
    (the unbatched pilot), metric by metric, and the per-example scores average to the accuracy."""
    bb = tiny(name)
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    m = randomize(build(bb, "dept"), scale=0.05)
    examples = task.splits["test"][:24]
    ks = (0, 1, 4, 8)
    res = A.pilot_experiment(m, enc, examples, ks=ks, batch_size=5)
    neutral = A.neutral_token_ids(bb.tokenizer, 8)
    per_k = pilot_inputs(enc, [enc.source(ex) for ex in examples], neutral, ks, 48)
    refs = [ex.label for ex in examples]
    for side, metrics in res["results"].items():
        m.padding_side = side
        for i, lists in enumerate(per_k):
            plain = evaluate_ids(m, enc, lists, refs, 32)
            for name_, value in plain.items():
                assert metrics[name_][i] == pytest.approx(value), (side, ks[i], name_)
            scores = res["per_example"]["sides"][side]["scores"][i]
            assert 100 * sum(scores) / len(scores) == pytest.approx(metrics["accuracy"][i])
    m.padding_side = "right"
    pe = res["per_example"]
    assert pe["example_index"] == list(range(24)) and pe["references"] == refs and pe["score_name"] == "accuracy"
    assert set(pe["sides"]) == ({"right", "left"} if bb.kind == "causal" else {"right"})


def test_per_example_scores_kinds():
    class T:
        kind = "classification"
    assert per_example_scores(T, [1, 0, 1], [1, 1, 1]) == [1.0, 0.0, 1.0]
    T.kind = "regression"
    assert per_example_scores(T, [1.0, 3.0], [2.0, 3.0]) == [-1.0, -0.0]
    T.kind = "generation"
    assert per_example_scores(T, ["Paris ", "x"], [["paris", "Paris, France"], "y"]) == [1.0, 0.0]


def test_pilot_refuses_repeated_ks(tiny, task):
    bb = tiny("tiny-bert")
    enc = Encoder(task, bb.tokenizer, bb.kind, 48)
    with pytest.raises(ValueError, match="distinct"):
        A.pilot_experiment(build(bb, "pt"), enc, task.splits["test"][:2], ks=(0, 2, 2))
