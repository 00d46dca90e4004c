"""Offset statistics: how large the offsets are, how many distinct ones a batch uses, and where they sit.

Over the ``N`` real tokens of a batch, with ``e`` the embedding and ``Δ`` the offset of each token:

* the official ADePT code's statistic (:func:`paper_stat`): per dimension ``m_k = mean_t |Δ_tk|``, then
  ``mean_k m_k`` and ``std_k m_k`` across the ``d`` dimensions, next to the same two numbers for ``|e|``;
* per-token sizes ``||Δ||``, ``||e||`` and ``||Δ|| / ||e||`` (summaries and histograms);
* distinct offset vectors used: ADePT one per token id, DePT one per table row, PT one (all zero);
* the offset norm by position (DePT: ``||α (A B)_j||`` of every table row ``j``; PT / ADePT: the mean
  ``||Δ||`` at slot ``j``) next to the lengths of the inputs;
* ADePT only: the tokens with the largest and smallest ``||f(e)||``, among the tokens seen and over the
  whole vocabulary.

What the paper expects and how to read the chart: docs/analyses.md, section 1.
"""

from __future__ import annotations

import math

import torch

from adept.analysis.common import _offsets, _slots, _token_str


def _finite(x: float) -> float | None:
    """JSON-safe float: NaN / inf become None."""
    x = float(x)
    return x if math.isfinite(x) else None


def _histogram(values: torch.Tensor, bins: int) -> dict:
    """``{"edges": [bins + 1], "counts": [bins]}`` of ``values`` (equal-width bins over their range)."""
    v = values.detach().double().flatten()
    if v.numel() == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo + 1e-12 if lo == 0 else lo + abs(lo) * 1e-6
    counts = torch.histc(v, bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _distinct_rows(x: torch.Tensor, rel_tol: float = 1e-5) -> int:
    """Number of distinct rows of ``x`` (N, d), rows equal up to ``rel_tol`` x max|x| counted once."""
    if x.numel() == 0:
        return 0
    scale = float(x.abs().max())
    if scale == 0.0:
        return 1
    q = torch.round(x.double() / (rel_tol * scale)).to(torch.int64)
    return int(torch.unique(q, dim=0).shape[0])


def paper_stat(x: torch.Tensor) -> dict[str, float]:
    """The official code's offset statistic (docs/analyses.md, section 1.1) of ``x`` (N tokens, d).

    ``m_k = mean_t |x_tk|`` (mean absolute value of dimension k over the N tokens), then
    ``{"mean": mean_k m_k, "std": std_k m_k}`` (population std across the d dimensions, as numpy's).
    """
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"paper_stat needs a (tokens, d) matrix with at least one token, got shape {tuple(x.shape)}.")
    per_dim = x.detach().double().abs().mean(0)
    return {"mean": float(per_dim.mean()), "std": float(per_dim.std(unbiased=False))}


def _top_tokens(tokenizer, ids: torch.Tensor, norms: torch.Tensor, rel: torch.Tensor, counts: torch.Tensor | None,
                k: int) -> dict:
    order = torch.argsort(norms, descending=True)

    def rows(idx: torch.Tensor) -> list[dict]:
        out = []
        for i in idx.tolist():
            row = {"id": int(ids[i]), "token": _token_str(tokenizer, int(ids[i])), "offset_norm": float(norms[i]),
                   "relative": float(rel[i])}
            if counts is not None:
                row["count"] = int(counts[i])
            out.append(row)
        return out

    k = min(k, order.numel())
    return {"largest": rows(order[:k]), "smallest": rows(order.flip(0)[:k])}


@torch.no_grad()
def offset_statistics(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                      bins: int = 40, top_k: int = 15, vocabulary: bool = True) -> dict:
    """How large the offsets are, how many distinct ones are used, and where (docs/analyses.md, section 1).

    Over the real (unpadded) tokens of the batch, with ``Δ`` the offset and ``e`` the embedding:

    JSON shape::

        {"method": "adept", "num_tokens": N, "num_examples": b, "d_model": d,
         "paper_stat": {"offset": {"mean", "std"}, "embedding": {"mean", "std"}},   # see paper_stat()
         "norms": {"offset_mean", "offset_std", "embedding_mean", "embedding_std",
                   "relative_mean", "relative_median", "relative_p90"},           # ||Δ||, ||e||, ||Δ||/||e||
         "relative_histogram": {"edges": [bins+1], "counts": [bins]},              # ||Δ|| / ||e|| per token
         "offset_norm_histogram": {"edges", "counts"},                             # ||Δ|| per token
         "distinct": {"tokens_seen", "positions_seen", "offset_vectors", "possible"},
             # offset_vectors = distinct Δ rows actually used; ADePT: = tokens_seen, DePT: = positions_seen,
             # PT: 1 (all zero). possible = vocabulary size (ADePT), s (DePT), 0 (PT)
         "position_profile": {
             "row": [0..R-1],                  # DePT: table row j (R = s); others: padded slot j (R = n)
             "offset_norm": [R],               # DePT: ||α (A B)_j|| of every row; others: mean ||Δ|| at slot j
             "row_usage": [R],                 # real tokens that used row/slot j in this batch
             "padding_side": "right"},
         "input_lengths": {"lengths": [...], "counts": [...]},                    # real tokens per input
         "top_tokens": null | {"seen": {"largest": [row], "smallest": [row]},
                               "vocabulary": {"largest": [row], "smallest": [row]} | null}}
             # ADePT only; row = {"id", "token", "offset_norm", "relative", "count" (seen only)}
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    keep = attention_mask.bool()
    e, delta = _offsets(model, input_ids, attention_mask)
    e_t, d_t = e[keep], delta[keep]
    if d_t.shape[0] == 0:
        raise ValueError("The batch has no real tokens (attention_mask is all zero): pass non-empty inputs.")
    en, dn = e_t.norm(dim=-1), d_t.norm(dim=-1)
    rel = dn / en.clamp(min=1e-12)
    tok = model.backbone.tokenizer
    ids_t = input_ids[keep]
    slots = _slots(attention_mask)
    out: dict = {
        "method": model.method, "num_tokens": int(d_t.shape[0]), "num_examples": int(input_ids.shape[0]),
        "d_model": int(e.shape[-1]),
        "paper_stat": {"offset": paper_stat(d_t), "embedding": paper_stat(e_t)},
        "norms": {
            "offset_mean": float(dn.mean()), "offset_std": float(dn.std()) if dn.numel() > 1 else 0.0,
            "embedding_mean": float(en.mean()), "embedding_std": float(en.std()) if en.numel() > 1 else 0.0,
            "relative_mean": float(rel.mean()), "relative_median": float(rel.median()),
            "relative_p90": float(torch.quantile(rel.double(), 0.9)),
        },
        "relative_histogram": _histogram(rel, bins),
        "offset_norm_histogram": _histogram(dn, bins),
    }
    possible = {"adept": model.embed_table().weight.shape[0], "dept": model.max_length, "pt": 0}[model.method]
    out["distinct"] = {
        "tokens_seen": int(torch.unique(ids_t).numel()),
        "positions_seen": int(torch.unique(slots[keep]).numel()),
        "offset_vectors": _distinct_rows(d_t),
        "possible": int(possible),
    }
    # Offset size against position, with where the real tokens sit.
    if model.method == "dept":
        table = model.offsets.table().detach()
        rows = model.dept_positions(attention_mask)[keep]
        usage = torch.bincount(rows, minlength=table.shape[0])
        profile_norm = [float(x) for x in table.norm(dim=-1)]
    else:
        n = input_ids.shape[1]
        s_keep = slots[keep]
        usage = torch.bincount(s_keep, minlength=n)
        sums = torch.zeros(n, dtype=torch.float64, device=dn.device).index_add_(0, s_keep, dn.double())
        profile_norm = [_finite(sums[j] / usage[j]) if usage[j] else None for j in range(n)]
    out["position_profile"] = {"row": list(range(len(profile_norm))), "offset_norm": profile_norm,
                               "row_usage": [int(u) for u in usage], "padding_side": model.padding_side}
    lengths = attention_mask.sum(1)
    uniq, cnt = torch.unique(lengths, return_counts=True)
    out["input_lengths"] = {"lengths": [int(x) for x in uniq], "counts": [int(c) for c in cnt]}
    out["top_tokens"] = None
    if model.method == "adept":
        uniq_ids, inverse, counts = torch.unique(ids_t, return_inverse=True, return_counts=True)
        first = torch.full((uniq_ids.numel(),), -1, dtype=torch.long, device=ids_t.device)
        first.scatter_reduce_(0, inverse, torch.arange(ids_t.numel(), device=ids_t.device), "amin", include_self=False)
        seen = _top_tokens(tok, uniq_ids, dn[first], rel[first], counts, top_k)
        vocab = None
        if vocabulary:
            vocab_ids, vocab_norm, vocab_rel = _vocabulary_offset_norms(model)
            vocab = _top_tokens(tok, vocab_ids, vocab_norm, vocab_rel, None, top_k)
        out["top_tokens"] = {"seen": seen, "vocabulary": vocab}
    return out


@torch.no_grad()
def _vocabulary_offset_norms(model, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ADePT: ``(ids, ||f(E_v)||, ||f(E_v)|| / ||E_v||)`` for every vocabulary row ``v`` (special tokens excluded)."""
    weight = model.embed_table().weight
    was_training = model.offsets.training
    model.offsets.eval()
    norms, rels = [], []
    try:
        for start in range(0, weight.shape[0], chunk):
            rows = weight[start:start + chunk]
            dn = model.offsets(rows).norm(dim=-1)
            norms.append(dn)
            rels.append(dn / rows.norm(dim=-1).clamp(min=1e-12))
    finally:
        model.offsets.train(was_training)
    ids = torch.arange(weight.shape[0], device=weight.device)
    norm, rel = torch.cat(norms), torch.cat(rels)
    special = set(getattr(model.backbone.tokenizer, "all_special_ids", []) or [])
    vocab_real = min(weight.shape[0], len(model.backbone.tokenizer))  # padded tables have unused tail rows
    keep = ids < vocab_real
    if special:
        keep &= ~torch.isin(ids, torch.tensor(sorted(special), device=ids.device))
    return ids[keep], norm[keep], rel[keep]
