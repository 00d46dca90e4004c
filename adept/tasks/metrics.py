"""Task metrics, all on the 0-100 scale (accuracy 87.5, Pearson x 100).

Classification: :func:`accuracy`, :func:`f1_score` (one class), :func:`macro_f1`, :func:`matthews_corrcoef`.
Regression (STS-B): :func:`pearson`, :func:`spearman`, with :func:`parse_float` for text predictions.
Extractive QA (the MRQA tasks): SQuAD v1.1 :func:`squad_em` and :func:`squad_f1` after
:func:`normalize_answer`.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Share of exact matches, x 100."""
    return 100.0 * float(np.mean([p == r for p, r in zip(predictions, references, strict=True)]))


def f1_score(predictions: Sequence, references: Sequence, positive=1) -> float:
    """F1 of one class, x 100: ``2 TP / (2 TP + FP + FN)`` (0 when the class is never true nor predicted)."""
    tp = sum(p == positive and r == positive for p, r in zip(predictions, references, strict=True))
    fp = sum(p == positive and r != positive for p, r in zip(predictions, references, strict=True))
    fn = sum(p != positive and r == positive for p, r in zip(predictions, references, strict=True))
    denom = 2 * tp + fp + fn
    return 100.0 * 2 * tp / denom if denom else 0.0


def macro_f1(predictions: Sequence, references: Sequence, num_classes: int) -> float:
    """Unweighted mean of the per-class F1 over classes ``0..num_classes-1``, x 100 (T5's
    ``mean_multiclass_f1``: a class absent from both predictions and references contributes 0)."""
    return float(np.mean([f1_score(predictions, references, positive=c) for c in range(num_classes)]))


def matthews_corrcoef(predictions: Sequence, references: Sequence) -> float:
    """Matthews correlation x 100, multi-class form (as sklearn):
    ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2))``, with c correct, s total,
    p_k / t_k the predicted / true counts of label k. 0 when the denominator is 0."""
    s = len(references)
    c = sum(p == r for p, r in zip(predictions, references, strict=True))
    pk, tk = Counter(predictions), Counter(references)
    labels = set(pk) | set(tk)
    num = c * s - sum(pk[k] * tk[k] for k in labels)
    den = math.sqrt((s * s - sum(v * v for v in pk.values())) * (s * s - sum(v * v for v in tk.values())))
    return 100.0 * num / den if den else 0.0


def pearson(predictions: Sequence[float], references: Sequence[float]) -> float:
    """Pearson correlation x 100; 0 when either side is constant (correlation undefined)."""
    x, y = np.asarray(predictions, dtype=float), np.asarray(references, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return 100.0 * float(np.corrcoef(x, y)[0, 1])


def spearman(predictions: Sequence[float], references: Sequence[float]) -> float:
    """Spearman correlation x 100 = Pearson of the ranks (ties get their average rank)."""
    rx = pd.Series(list(predictions), dtype=float).rank(method="average").to_numpy()
    ry = pd.Series(list(references), dtype=float).rank(method="average").to_numpy()
    return pearson(rx, ry)


def parse_float(value, default: float = -1.0) -> float:
    """A regression prediction as a float; ``default`` (-1, T5's ``string_to_float``) if unparsable."""
    try:
        v = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


# SQuAD v1.1 exact match and token F1: the MRQA tasks' metrics


def normalize_answer(s: str) -> str:
    """SQuAD answer normalisation: lower case, drop punctuation, drop articles (a/an/the), squeeze spaces."""
    s = str(s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_PUNCT = set(string.punctuation)


def _token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _as_refs(reference) -> list[str]:
    if isinstance(reference, str):
        return [reference]
    return [str(r) for r in reference]


def squad_f1(predictions: Sequence[str], references: Sequence) -> float:
    """SQuAD v1.1 token F1 x 100: per example the best bag-of-tokens F1 over the gold answers, averaged."""
    pairs = zip(predictions, references, strict=True)
    scores = [max(_token_f1(p, r) for r in _as_refs(refs)) for p, refs in pairs]
    return 100.0 * float(np.mean(scores))


def squad_em(predictions: Sequence[str], references: Sequence) -> float:
    """SQuAD exact match x 100 after :func:`normalize_answer`, best over the gold answers."""
    scores = [max(normalize_answer(p) == normalize_answer(r) for r in _as_refs(refs))
              for p, refs in zip(predictions, references, strict=True)]
    return 100.0 * float(np.mean(scores))
