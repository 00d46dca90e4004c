"""One input through a trained run: what it predicts (label scores for classification, the generated text
otherwise) and whether the folded model (offsets baked into the embedding / position table) reads it the
same. Pure functions of a loaded ``(model, encoder, task)``; no Streamlit."""

from __future__ import annotations

import torch


def example(task, text: str, text_pair: str | None = None):
    from adept.tasks.task import Example

    if not isinstance(text, str) or not text.strip():
        raise ValueError("The text is empty: type a sentence, or pick a test example.")
    return Example(text=text, text_pair=text_pair or None)


def _batch(model, encoder, ex) -> tuple[torch.Tensor, torch.Tensor]:
    ids = encoder.source(ex)
    pad = encoder.tok.pad_token_id or 0
    x, mask = encoder.pad([ids], model.padding_side, pad)
    return x.to(model.prompt.device), mask.to(model.prompt.device)


@torch.no_grad()
def predict(model, encoder, task, ex) -> dict:
    """``{"kind", "prediction", "labels", "scores", "probabilities"}`` for classification (scores: the
    head's logits, or each label word's log-probability under rank classification; probabilities: their
    softmax over the labels), ``{"kind", "prediction"}`` (a number or generated text) otherwise."""
    model.eval()
    x, mask = _batch(model, encoder, ex)
    if task.kind == "classification":
        scores = model.score_labels(x, mask, encoder.label_ids)[0].float()
        probs = scores.softmax(-1)
        k = int(scores.argmax())
        return {"kind": "classification", "prediction": task.label_names[k], "labels": list(task.label_names),
                "verbalizers": list(encoder.verbalizers), "scores": scores.tolist(),
                "probabilities": probs.tolist(),
                "score_name": "head logit" if model.kind == "encoder" else "log-probability of the label word"}
    if model.kind == "encoder":
        return {"kind": task.kind, "prediction": float(model(x, mask).logits.squeeze())}
    new = model.generate_new_tokens(x, mask)[0]
    return {"kind": task.kind, "prediction": encoder.tok.decode(new, skip_special_tokens=True).strip()}


@torch.no_grad()
def fold_check(model, encoder, ex, folded=None) -> dict:
    """The outputs inference reads (head logits, or next-token logits) of the model and of its folded copy on
    this input: ``{"method", "max_abs_diff", "same_argmax", "folded"}``. PT has nothing to fold; a DePT on a
    backbone without a learned position table cannot fold (``{"error": why}``)."""
    from adept.analysis.fold import _outputs

    if model.method == "pt":
        return {"method": "pt", "folded": False,
                "message": "PT adds no offsets: there is nothing to fold (the folded model is the model)."}
    try:
        folded = folded if folded is not None else model.fold()
    except ValueError as exc:
        return {"method": model.method, "folded": False, "message": str(exc)}
    x, mask = _batch(model, encoder, ex)
    a, b = _outputs(model, x, mask).float(), _outputs(folded, x, mask).float()
    return {"method": model.method, "folded": True, "max_abs_diff": float((a - b).abs().max()),
            "same_argmax": bool((a.argmax(-1) == b.argmax(-1)).all()), "scale": float(a.abs().max())}
