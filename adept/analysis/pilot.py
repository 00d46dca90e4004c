"""The pilot experiment: the test metric when ``k`` neutral tokens are prepended at test time only.

Prepending ``k`` tokens moves every original token from slot ``j`` to slot ``j + k``. DePT's offset belongs
to the slot, so each token now receives ``Δ_{j+k} = α (A B)_{j+k}``, a row it was never trained with;
ADePT's ``Δ = f(e)`` moves with its token, and only the ``k`` new tokens add offsets of their own. Expected:
ADePT's metric stays (nearly) flat in ``k``, DePT's may fall. At ``k = 0`` the metric is the run's own
(the same evaluation code, :func:`evaluate_ids`). Decoder backbones are measured with both padding sides:
with left padding DePT's first rows sit on pads for short inputs.

What the paper expects and how to read the chart: docs/analyses.md, section 4.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from adept.analysis.common import _token_str

PILOT_KS = (0, 1, 2, 4, 8, 16)
NEUTRAL_TEXT = "Note :"


def neutral_token_ids(tokenizer, k: int = max(PILOT_KS), text: str = NEUTRAL_TEXT) -> list[int]:
    """The first ``k`` token ids of ``text`` repeated (" ".join), without special tokens."""
    ids: list[int] = []
    reps = 1
    while len(ids) < k:
        ids = tokenizer(" ".join([text] * reps), add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"The neutral text {text!r} tokenizes to nothing: pick another one.")
        reps *= 2
    return ids[:k]


def prepend_tokens(ids: list[int], prefix: Sequence[int], *, max_length: int, head: int = 0, tail: int = 0
                   ) -> list[int]:
    """``ids`` with ``prefix`` inserted after its first ``head`` tokens (e.g. [CLS]); when the result is longer
    than ``max_length`` the body (between head and the last ``tail`` tokens, e.g. "\\nAnswer:" or [SEP]) is
    cut from its end, so the prompt structure survives."""
    head_ids, body, tail_ids = ids[:head], ids[head:len(ids) - tail], ids[len(ids) - tail:]
    room = max_length - len(head_ids) - len(prefix) - len(tail_ids)
    if room < 1:
        raise ValueError(f"Cannot prepend {len(prefix)} tokens within max_length {max_length}: lower k.")
    return head_ids + list(prefix) + body[:room] + tail_ids


def _frame(encoder, ids: list[int]) -> tuple[int, int]:
    """(head, tail) token counts to keep in place when prepending: leading [CLS]/BOS, trailing
    "\\nAnswer:" (causal) or [SEP]/EOS."""
    special = set(getattr(encoder.tok, "all_special_ids", []) or [])
    head = 1 if ids and ids[0] in special else 0
    if encoder.kind == "causal":
        from adept.encoding import CAUSAL_SUFFIX

        tail = len(encoder._ids(CAUSAL_SUFFIX))
    else:
        tail = 1 if len(ids) > head and ids[-1] in special else 0
    return head, tail


@torch.no_grad()
def evaluate_ids(model, encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                 ) -> dict[str, float]:
    """The task's metrics for already-built source ids: :func:`adept.encoding.evaluate_ids`, the same code the
    training loop evaluates with, so the pilot's k = 0 point is the run's own metric."""
    from adept.encoding import evaluate_ids as evaluate_source_ids

    return evaluate_source_ids(model, encoder, id_lists, references, batch_size)


@contextlib.contextmanager
def _padding(model, side: str) -> Iterator[None]:
    old = model.padding_side
    model.padding_side = side
    try:
        yield
    finally:
        model.padding_side = old


def pilot_inputs(encoder, sources: list[list[int]], neutral: Sequence[int], ks: Sequence[int], max_length: int
                 ) -> list[list[list[int]]]:
    """For each ``k`` of ``ks``, every source with the first ``k`` neutral tokens prepended (framed by
    :func:`prepend_tokens`)."""
    frames = [_frame(encoder, ids) for ids in sources]
    return [[prepend_tokens(ids, neutral[:k], max_length=max_length, head=h, tail=t) if k else ids
             for ids, (h, t) in zip(sources, frames, strict=True)] for k in ks]


def pilot_experiment(model, encoder, examples: Sequence, ks: Sequence[int] = PILOT_KS, *,
                     padding_sides: Sequence[str] | None = None, neutral_text: str = NEUTRAL_TEXT,
                     batch_size: int = 64, example_indices: Sequence[int] | None = None) -> dict:
    """Test metric when ``k`` neutral tokens are prepended to every input at test time only.

    DePT's offset rows are tied to slots, so a shift moves them onto other tokens; ADePT's follow the
    tokens. ``padding_sides``: default the model's own side, plus the other side for causal backbones
    (with left padding DePT rows sit on pads for short inputs). Batched: every ``k`` of one padding side is
    scored in one length-sorted pass (:func:`adept.analysis.batched.batched_predictions`), with the same
    predictions as evaluating each ``k`` alone. ``example_indices``: the examples' positions in their split
    (default 0..N-1), stored with the per-example results. JSON shape::

        {"method", "task", "metric": primary metric name, "metric_names": [...], "ks": [k...],
         "neutral_text": str, "neutral_tokens": [str], "num_examples": N, "trained_padding_side": str,
         "results": {"right": {"accuracy": [per k], "f1": [per k]}, "left": {...}},
         "per_example": {"score_name": "accuracy", "score_scale": 100, "example_index": [N],
                         "references": [N],
                         "sides": {side: {"predictions": [per k: [N]], "scores": [per k: [N]],
                                          "label_scores": [per k: [N x labels]] or None}}}}

    ``scores`` are :func:`adept.analysis.batched.per_example_scores` (1/0 correct for classification); their
    mean x ``score_scale`` is the metric ``score_name`` at that ``k``.
    """
    from adept.analysis.batched import batched_predictions, per_example_scores

    if not examples:
        raise ValueError("The pilot experiment needs at least one example.")
    ks = [int(k) for k in ks]
    if any(k < 0 for k in ks):
        raise ValueError(f"ks must be >= 0, got {ks}.")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks must be distinct, got {ks}.")
    sides = list(padding_sides) if padding_sides else [model.padding_side] + (
        [{"left": "right", "right": "left"}[model.padding_side]] if model.kind == "causal" else [])
    for side in sides:
        if side not in ("left", "right"):
            raise ValueError(f"padding side {side!r}: use left or right.")
    neutral = neutral_token_ids(encoder.tok, max(ks) if ks else 0, neutral_text) if max(ks, default=0) else []
    refs = [ex.label for ex in examples]
    n = len(examples)
    per_k = pilot_inputs(encoder, [encoder.source(ex) for ex in examples], neutral, ks, model.max_length)
    flat = [ids for lists in per_k for ids in lists]
    task = encoder.task
    results: dict[str, dict[str, list[float]]] = {}
    sides_out: dict[str, dict] = {}
    for side in sides:
        with _padding(model, side):
            out = batched_predictions(model, encoder, flat, batch_size)
        preds, label_scores = out["predictions"], out["label_scores"]
        per_metric: dict[str, list[float]] = {}
        side_preds, side_scores, side_labels = [], [], []
        for i in range(len(ks)):
            p = preds[i * n:(i + 1) * n]
            for name, value in task.compute_metrics(p, refs).items():
                per_metric.setdefault(name, []).append(value)
            side_preds.append(p)
            side_scores.append(per_example_scores(task, p, refs))
            side_labels.append(label_scores[i * n:(i + 1) * n] if label_scores is not None else None)
        results[side] = per_metric
        sides_out[side] = {"predictions": side_preds, "scores": side_scores,
                           "label_scores": side_labels if label_scores is not None else None}
    score_name = {"classification": "accuracy", "regression": "negative squared error"}.get(task.kind,
                                                                                             "exact match")
    return {
        "method": model.method, "task": task.name, "metric": task.metric_names[0],
        "metric_names": list(task.metric_names), "ks": ks, "neutral_text": neutral_text,
        "neutral_tokens": [_token_str(encoder.tok, t) for t in neutral], "num_examples": n,
        "trained_padding_side": model.padding_side, "results": results,
        "per_example": {"score_name": score_name, "score_scale": 1 if task.kind == "regression" else 100,
                        "example_index": list(example_indices) if example_indices is not None else list(range(n)),
                        "references": refs, "sides": sides_out},
    }
