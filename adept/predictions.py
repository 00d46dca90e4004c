"""Per-example predictions of an evaluation, stored as a run artifact and read back for the statistics.

A test evaluation writes ``predictions/test.json``: for every test example, in split order, its index, the
reference, the prediction, the label scores (rank classification: log-probability of each label word; an
encoder: the head's logits), whether it is correct and its per-example score (1/0 for a class, the SQuAD token
F1 in 0-1 for generated answers; none for regression, whose metrics are correlations: they are bootstrapped
over the examples instead). ``examples_digest`` fingerprints the examples (source text and reference, in
order), so two runs can be checked to have been tested on the same examples before they are paired.

The test examples do not depend on the method or the training seed: a task's splits come from its fixed data
seed (42), and a run tests on the first ``test_examples`` of the test split (all of it by default).

:func:`predict_ids` is the evaluation itself (the same batches and the same metric code as
:func:`adept.encoding.evaluate_ids`, so its metrics are the run's), :func:`predictions_payload` the artifact,
:func:`load_predictions` the reader, :func:`score_matrix` the ``(runs, examples)`` array the statistics take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch

FORMAT = 1
DIR = "predictions"


def artifact_name(split: str = "test") -> str:
    """``predictions/<split>.json``."""
    return f"{DIR}/{split}.json"


def examples_digest(task, examples: Sequence) -> str:
    """A short fingerprint of ``examples`` in order (source text and reference of each)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(task.source_text(ex).encode("utf-8", "replace"))
        h.update(b"\0")
        h.update(repr(ex.label).encode())
        h.update(b"\1")
    return h.hexdigest()[:20]


@torch.no_grad()
def predict_ids(model, encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                ) -> tuple[dict[str, float], list[dict]]:
    """``(metrics, records)`` for already-built source ids: the metrics :func:`adept.encoding.evaluate_ids`
    returns (same batches, same code) and one record per input (see the module text)."""
    from adept.encoding import _parse_float

    model.eval()
    task, preds, label_scores = encoder.task, [], []
    device = model.prompt.device
    pad_id = encoder.tok.pad_token_id or 0
    for start in range(0, len(id_lists), batch_size):
        ids, mask = encoder.pad(id_lists[start:start + batch_size], model.padding_side, pad_id)
        ids, mask = ids.to(device), mask.to(device)
        if task.kind == "classification":
            scores = model.score_labels(ids, mask, encoder.label_ids).float()
            label_scores += scores.cpu().tolist()
            preds += scores.argmax(-1).tolist()
        elif model.kind == "encoder":
            preds += model(ids, mask).logits.squeeze(-1).tolist()
        else:
            new = model.generate_new_tokens(ids, mask)
            texts = [encoder.tok.decode(o, skip_special_tokens=True).strip() for o in new]
            preds += [_parse_float(t) for t in texts] if task.kind == "regression" else texts
    metrics = task.compute_metrics(preds, references)
    return metrics, _records(task, preds, references, label_scores)


def _records(task, preds: list, refs: list, label_scores: list) -> list[dict]:
    from adept.tasks.metrics import _as_refs, _token_f1, normalize_answer

    out = []
    for i, (p, r) in enumerate(zip(preds, refs, strict=True)):
        rec: dict = {"index": i, "reference": r, "prediction": p}
        if task.kind == "classification":
            correct = int(p) == int(r)
            rec.update(label_scores=[round(float(s), 5) for s in label_scores[i]], correct=correct,
                       score=float(correct))
        elif task.kind == "generation":
            text = "" if p is None else str(p)
            rec.update(correct=any(normalize_answer(text) == normalize_answer(a) for a in _as_refs(r)),
                       score=max(_token_f1(text, a) for a in _as_refs(r)))
        else:
            p = float(p)
            rec.update(prediction=p if np.isfinite(p) else None, correct=None, score=None)
        out.append(rec)
    return out


def predict(model, encoder, examples: Sequence, batch_size: int = 32) -> tuple[dict[str, float], list[dict]]:
    """``(metrics, records)`` on task examples: :func:`adept.encoding.evaluate` plus the per-example records."""
    return predict_ids(model, encoder, [encoder.source(ex) for ex in examples], [ex.label for ex in examples],
                       batch_size)


def predictions_payload(task, examples: Sequence, metrics: dict, records: list[dict], split: str = "test") -> dict:
    """The JSON artifact: what was evaluated (task, split, how many, their digest), the metrics, the records."""
    return {
        "format": FORMAT, "split": split, "task": task.name, "task_kind": task.kind,
        "metric_names": list(task.metric_names), "label_names": list(task.label_names),
        "num_examples": len(records), "examples_digest": examples_digest(task, examples),
        "metrics": dict(metrics), "records": records,
    }


def load_predictions(run_id: str, split: str = "test", *, uri: str | None = None) -> dict | None:
    """The stored predictions of ``run_id`` on ``split`` (the payload above), or None when the run has none
    (a run from before predictions were logged, or one that has not reached its test evaluation)."""
    from adept.tracking import load_json_artifact

    data = load_json_artifact(run_id, artifact_name(split), uri=uri)
    if data is None:
        return None
    if not isinstance(data, dict) or "records" not in data:
        raise ValueError(f"run {run_id}: {artifact_name(split)} is not a predictions file (no records).")
    return data


def check_same_examples(payloads: Sequence[dict], names: Sequence[str] | None = None) -> None:
    """ValueError unless every payload was evaluated on the same examples (same digest and count)."""
    if not payloads:
        return
    names = list(names) if names is not None else [str(i) for i in range(len(payloads))]
    first = payloads[0]
    for name, p in zip(names, payloads, strict=True):
        if p.get("examples_digest") != first.get("examples_digest") or p.get("num_examples") != first.get(
                "num_examples"):
            raise ValueError(
                f"run {name} was tested on other examples ({p.get('num_examples')} examples, digest "
                f"{p.get('examples_digest')}) than run {names[0]} ({first.get('num_examples')}, "
                f"{first.get('examples_digest')}): pair only runs with the same task and test_examples.")


def score_matrix(payloads: Sequence[dict], field: str = "score") -> np.ndarray:
    """``(runs, examples)`` float array of a per-example field (``score`` or ``correct``) of runs tested on the
    same examples (checked). ValueError when the task has no per-example score (regression)."""
    check_same_examples(payloads)
    rows = []
    for p in payloads:
        vals = [r.get(field) for r in p["records"]]
        if any(v is None for v in vals):
            raise ValueError(f"{p.get('task')}: its predictions have no per-example {field!r} (a regression "
                             "task): use the metric bootstrap over the predictions instead.")
        rows.append(np.asarray(vals, dtype=float))
    return np.vstack(rows) if rows else np.zeros((0, 0))


def prediction_lists(payloads: Sequence[dict]) -> tuple[list[list], list]:
    """(predictions per run, references) of runs tested on the same examples (checked): what the metric
    bootstrap (:func:`adept.stats.metric_interval`) takes."""
    check_same_examples(payloads)
    if not payloads:
        return [], []
    refs = [r["reference"] for r in payloads[0]["records"]]
    return [[r["prediction"] for r in p["records"]] for p in payloads], refs
