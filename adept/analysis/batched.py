"""Scoring many already-built inputs at once, as :func:`adept.encoding.evaluate_ids` does, but faster.

The pilot experiment scores every test example at every ``k`` (and on decoder backbones with both padding
sides): 500 examples x 6 values of k x 2 sides = 6,000 forwards. Two things make that affordable:

* **Length buckets.** All inputs of one padding side (every ``k`` together) are sorted by length and cut
  into batches, so a batch pads to nearly its own length instead of its longest member's. Padding is
  attention-masked and positions come from the mask (:func:`adept.methods.positions_from_mask`), so the
  outputs do not depend on which inputs share a batch (up to float rounding); DePT's rows are aligned
  per input (:meth:`adept.methods.PromptTunedModel.dept_positions`) whatever the batch length.
* **The soft prompt's keys and values once** (causal backbones, rank classification). In ``[P ; E + Δ]``
  the prompt comes first and attends only to itself, at positions ``0 .. l-1``, whatever the input and
  the padding side (pads sit between the prompt and a left-padded input). So its key/value cache is the
  same for every input: it is computed once for batch size 1, repeated along the batch, and each batch
  runs only its input tokens. With ``l = 60`` prompt tokens and ~40 input tokens that removes more than
  half of the work. Everything else (encoders, seq2seq, generation tasks) runs the plain batched path.

:func:`batched_predictions` returns the predictions and, for classification, the label scores; the tests check both
against :func:`adept.encoding.evaluate_ids` / ``score_labels`` on tiny backbones.
"""

from __future__ import annotations

import copy
import inspect

import torch


def _cache_kwarg(base_model) -> str:
    """The name of the cache argument of this transformers version (``cache`` since 5.x deprecated
    ``past_key_values``)."""
    return "cache" if "cache" in inspect.signature(base_model.forward).parameters else "past_key_values"


def _prompt_cache(model):
    """The key/value cache of the soft prompt alone (batch 1), or None when the backbone cannot take one."""
    if model.kind != "causal" or model.num_virtual_tokens == 0:
        return None
    from transformers import DynamicCache

    n_prompt = model.num_virtual_tokens
    pos = torch.arange(n_prompt, device=model.prompt.device).unsqueeze(0)
    cache = DynamicCache()
    base = model.model.base_model
    base(inputs_embeds=model.prompt.unsqueeze(0), position_ids=pos,
         attention_mask=torch.ones(1, n_prompt, dtype=torch.long, device=pos.device),
         use_cache=True, **{_cache_kwarg(base): cache})
    return cache


def _cached_label_scores(model, cache, ids: torch.Tensor, mask: torch.Tensor, label_ids) -> torch.Tensor:
    """``model.score_labels(ids, mask, label_ids)`` with the prompt's cache: only the input tokens run."""
    from adept.methods import positions_from_mask

    b, n = ids.shape
    n_prompt = model.num_virtual_tokens
    full = torch.cat([torch.ones(b, n_prompt, dtype=mask.dtype, device=mask.device), mask], 1)
    past = copy.deepcopy(cache)
    past.batch_repeat_interleave(b)
    x = model.input_embeddings(ids, mask)
    positions = positions_from_mask(full)[:, n_prompt:]
    base = model.model.base_model
    h = base(inputs_embeds=x, attention_mask=full, position_ids=positions, use_cache=True,
             **{_cache_kwarg(base): past}).last_hidden_state
    last = (mask * torch.arange(1, n + 1, device=ids.device)).argmax(1)
    rows = h[torch.arange(b, device=h.device), last]
    target = torch.as_tensor(label_ids, device=ids.device)
    return model.lm_head()(rows).log_softmax(-1)[:, target]


@torch.no_grad()
def batched_predictions(model, encoder, id_lists: list[list[int]], batch_size: int = 64, *, sort: bool = True,
                prompt_cache: bool = True) -> dict:
    """Predictions for already-built source ids, in the order given.

    Returns ``{"predictions": [...], "label_scores": [[per label]] or None}``: class indices with their label
    scores (rank-classification log-probabilities, or the encoder head's logits) for classification, numbers
    (regression) or texts (generation) otherwise, as :func:`adept.encoding.evaluate_ids` computes them.
    ``sort``: length buckets; ``prompt_cache``: the prompt's keys and values once (causal classification).
    """
    from adept.encoding import _parse_float

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    model.eval()
    task, device = encoder.task, model.prompt.device
    pad_id = encoder.tok.pad_token_id or 0
    order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i])) if sort else list(range(len(id_lists)))
    classify = task.kind == "classification"
    cache = None
    if classify and prompt_cache and model.kind == "causal":
        try:
            cache = _prompt_cache(model)
        except (TypeError, ValueError, AttributeError):  # a backbone without cache support: the plain path
            cache = None
    preds: list = [None] * len(id_lists)
    scores: list | None = [None] * len(id_lists) if classify else None
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids, mask = encoder.pad([id_lists[i] for i in rows], model.padding_side, pad_id)
        ids, mask = ids.to(device), mask.to(device)
        if classify:
            s = (_cached_label_scores(model, cache, ids, mask, encoder.label_ids) if cache is not None
                 else model.score_labels(ids, mask, encoder.label_ids)).float()
            batch_preds = s.argmax(-1).tolist()
            for i, row, p in zip(rows, s.tolist(), batch_preds, strict=True):
                preds[i], scores[i] = p, row
            continue
        if model.kind == "encoder":
            batch_preds = model(ids, mask).logits.squeeze(-1).float().tolist()
        else:
            new = model.generate_new_tokens(ids, mask)
            texts = [encoder.tok.decode(o, skip_special_tokens=True).strip() for o in new]
            batch_preds = [_parse_float(t) for t in texts] if task.kind == "regression" else texts
        for i, p in zip(rows, batch_preds, strict=True):
            preds[i] = p
    return {"predictions": preds, "label_scores": scores}


def per_example_scores(task, predictions: list, references: list) -> list[float]:
    """One score per example on which the pilot's bands and slopes are computed: 1/0 correctness for
    classification, minus the squared error for regression, 1/0 exact match (after stripping, case-folded)
    for generation."""
    if task.kind == "classification":
        return [float(int(p) == int(r)) for p, r in zip(predictions, references, strict=True)]
    if task.kind == "regression":
        return [-(float(p) - float(r)) ** 2 if p == p else float("nan")
                for p, r in zip(predictions, references, strict=True)]

    def norm(x) -> set[str]:
        refs = x if isinstance(x, list | tuple) else [x]
        return {str(r).strip().casefold() for r in refs}

    return [float(str(p).strip().casefold() in norm(r)) for p, r in zip(predictions, references, strict=True)]
