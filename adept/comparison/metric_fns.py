"""A task metric as a fast ``(predictions, references) -> float`` of numpy arrays, for the bootstrap (which calls
it thousands of times), and whether a metric is a plain mean of per-example scores (then the paired bootstrap
of the scores is used directly). Values are on the tasks' 0-100 scale and equal :mod:`adept.tasks.metrics`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# metric -> the per-example record field whose mean (x 100) it is
MEAN_FIELDS = {("classification", "accuracy"): "score", ("generation", "f1"): "score",
               ("generation", "em"): "correct"}


def mean_field(task_kind: str, metric: str) -> str | None:
    """The record field whose mean x 100 is ``metric`` (accuracy, SQuAD F1 / EM), or None (F1, Matthews ...)."""
    return MEAN_FIELDS.get((task_kind, metric))


def _f1(p: np.ndarray, r: np.ndarray, pos: int) -> float:
    pp, rp = p == pos, r == pos
    tp = np.count_nonzero(pp & rp)
    denom = 2 * tp + np.count_nonzero(pp & ~rp) + np.count_nonzero(~pp & rp)
    return 100.0 * 2 * tp / denom if denom else 0.0


def _mcc(p: np.ndarray, r: np.ndarray) -> float:
    s = p.size
    c = np.count_nonzero(p == r)
    labels = np.union1d(p, r)
    pk = np.array([np.count_nonzero(p == k) for k in labels], dtype=float)
    tk = np.array([np.count_nonzero(r == k) for k in labels], dtype=float)
    den = np.sqrt((s * s - (pk ** 2).sum()) * (s * s - (tk ** 2).sum()))
    return 100.0 * float(c * s - (pk * tk).sum()) / den if den else 0.0


def _pearson(p: np.ndarray, r: np.ndarray) -> float:
    x, y = p.astype(float), r.astype(float)
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return 100.0 * float(np.corrcoef(x, y)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as pandas' ``rank(method="average")``)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return sums[inv] / counts[inv]


def metric_fn(task_kind: str, metric: str, num_labels: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """The metric as a function of prediction and reference arrays (classification: class indices, -1 = none;
    regression: floats, -1 where unparsable)."""
    if task_kind == "classification":
        fns = {"accuracy": lambda p, r: 100.0 * float(np.mean(p == r)),
               "f1": lambda p, r: _f1(p, r, 1),
               "macro_f1": lambda p, r: float(np.mean([_f1(p, r, c) for c in range(num_labels)])),
               "mcc": _mcc}
    elif task_kind == "regression":
        fns = {"pearson": _pearson, "spearman": lambda p, r: _pearson(_ranks(p.astype(float)), _ranks(r.astype(float)))}
    else:
        fns = {}
    if metric not in fns:
        raise ValueError(f"no metric bootstrap for {metric!r} on a {task_kind} task: pick one of "
                         f"{sorted(fns) or 'the per-example metrics f1 / em'}.")
    return fns[metric]


def prediction_arrays(payload: dict) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, references) of one run's payload as arrays for :func:`metric_fn`."""
    recs = payload["records"]
    if payload.get("task_kind") == "regression":
        p = np.array([-1.0 if r["prediction"] is None else float(r["prediction"]) for r in recs])
        return p, np.array([float(r["reference"]) for r in recs])
    return (np.array([int(r["prediction"]) for r in recs]), np.array([int(r["reference"]) for r in recs]))
