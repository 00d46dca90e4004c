"""The paper's analyses on a trained (or any) PT / DePT / ADePT model, and inference folding.

Everything here follows PAPER.md section 5 (analyses) and section 6 (folding). Notation: ``e`` is a
frozen input token embedding, ``Δ`` the offset added to it (PT: 0; DePT: ``Δ_j = α (A B)_j`` for the
padded slot ``j``; ADePT: ``Δ(e) = f(e)``, a token-shared FFN), ``l`` the soft-prompt length, ``n`` the
number of input tokens, ``s`` DePT's table length (``max_length``).

Two layers:

* **Pure functions** on a :class:`adept.methods.PromptTunedModel` and token ids (tested on tiny
  backbones): :func:`offset_statistics`, :func:`position_vs_input`, :func:`token_offsets`,
  :func:`pca_2d` / :func:`offset_pca`, :func:`pilot_experiment`, :func:`first_layer_attention` /
  :func:`relative_attention_change` / :func:`attention_analysis`, :func:`latency`.
* **Run level**: :func:`analyze_run` loads a finished run's config and best adapter from MLflow, computes
  all of the above on the task's validation / test examples (bounded sizes) and logs each result as the
  JSON artifact ``analysis/<name>.json`` of that run (computed once; later calls read them back).
  :func:`fold_run` writes a folded inference model and checks that its outputs equal the unfolded one's.

Artifacts written by :func:`analyze_run` (the JSON shapes are documented on the function that makes each):

=============================  ==================================================================
``analysis/offset_stats.json``       :func:`offset_statistics`
``analysis/position_vs_input.json``  :func:`position_vs_input`
``analysis/offset_pca.json``         :func:`offset_pca`
``analysis/pilot.json``              :func:`pilot_experiment`
``analysis/attention.json``          :func:`attention_analysis`
``analysis/latency.json``            :func:`latency` (+ ``variants`` description)
``analysis/meta.json``               what was computed, on which examples, in how many seconds
=============================  ==================================================================

No Streamlit here: the app reads the artifacts (``adept.tracking.load_json_artifact``) and plots them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import shutil
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

ANALYSIS_DIR = "analysis"
ARTIFACT_NAMES = ("offset_stats", "position_vs_input", "offset_pca", "pilot", "attention", "latency")
PILOT_KS = (0, 1, 2, 4, 8, 16)
NEUTRAL_TEXT = "Note :"
FOLDED_TABLE = "input_embedding.safetensors"
FOLDED_POSITIONS = "position_embedding.safetensors"
DEPT_TABLE = "dept_position_offsets.safetensors"
FOLD_REPORT = "fold_report.json"
ANALYSIS_VERSION = 1


# ======================================================================================================
# Small helpers


def _token_str(tokenizer, token_id: int) -> str:
    """A readable form of one token: its decoded text, or the raw vocabulary entry when that is blank."""
    text = tokenizer.decode([int(token_id)])
    if text.strip():
        return text
    raw = tokenizer.convert_ids_to_tokens(int(token_id))
    return raw if isinstance(raw, str) and raw.strip() else repr(text)


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


def encode_examples(model, encoder, examples: Sequence, padding_side: str | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Source token ids of ``examples`` as the training code builds them, padded into one batch.

    Returns ``(input_ids, attention_mask)``, both (b, n), on the model's device.
    """
    if not examples:
        raise ValueError("No examples to encode: pass at least one example.")
    pad_id = encoder.tok.pad_token_id if encoder.tok.pad_token_id is not None else 0
    ids, mask = encoder.pad([encoder.source(ex) for ex in examples], padding_side or model.padding_side, pad_id)
    device = model.prompt.device
    return ids.to(device), mask.to(device)


@torch.no_grad()
def _offsets(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(e, Δ)`` for every slot, both (b, n, d), in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    try:
        e = model.embed_table()(input_ids)
        return e, model.offsets_for(e, attention_mask)
    finally:
        model.train(was_training)


def _slots(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of each slot in the padded batch, (b, n)."""
    b, n = attention_mask.shape
    return torch.arange(n, device=attention_mask.device).unsqueeze(0).expand(b, -1)


def _distinct_rows(x: torch.Tensor, rel_tol: float = 1e-5) -> int:
    """Number of distinct rows of ``x`` (N, d), rows equal up to ``rel_tol`` x max|x| counted once."""
    if x.numel() == 0:
        return 0
    scale = float(x.abs().max())
    if scale == 0.0:
        return 1
    q = torch.round(x.double() / (rel_tol * scale)).to(torch.int64)
    return int(torch.unique(q, dim=0).shape[0])


# ======================================================================================================
# Offset statistics (PAPER.md 5.2)


def paper_stat(x: torch.Tensor) -> dict[str, float]:
    """The official code's offset statistic (PAPER.md 5.2) of ``x`` (N tokens, d).

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
    """How large the offsets are, how many distinct ones are used, and where (PAPER.md 5.2).

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


# ======================================================================================================
# Position-based vs input-adaptive (PAPER.md 5.1 / 5.2)


@torch.no_grad()
def same_token_offset_difference(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                                 max_examples: int = 10) -> dict:
    """The same token at different slots: ``||Δ(t at j) - Δ(t at j')||`` (0 for ADePT, > 0 for DePT).

    For every token id that occurs (as a real token) at two or more different slots of the batch, the
    distance of each occurrence's offset to that token's first occurrence. JSON shape::

        {"tokens_compared": int,            # token ids seen at >= 2 different slots
         "pairs": int,                      # occurrences compared with their token's first occurrence
         "max_difference": float, "mean_difference": float,
         "mean_offset_norm": float,         # scale: mean ||Δ|| over the same occurrences
         "examples": [{"token", "id", "slots": [j, ...], "max_difference"}]}   # largest differences first
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    keep = attention_mask.bool()
    _, delta = _offsets(model, input_ids, attention_mask)
    ids_t, d_t, s_t = input_ids[keep], delta[keep], _slots(attention_mask)[keep]
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(ids_t.tolist()):
        groups.setdefault(t, []).append(i)
    diffs: list[float] = []
    norms: list[float] = []
    per_token = []
    for t, occ in groups.items():
        slots = sorted({int(s_t[i]) for i in occ})
        if len(slots) < 2:
            continue
        idx = torch.tensor(occ, device=d_t.device)
        dist = (d_t[idx] - d_t[idx[0]]).norm(dim=-1)[1:]
        diffs += dist.tolist()
        norms += d_t[idx].norm(dim=-1).tolist()
        per_token.append({"token": _token_str(model.backbone.tokenizer, t), "id": t, "slots": slots,
                          "max_difference": float(dist.max())})
    per_token.sort(key=lambda r: -r["max_difference"])
    return {
        "tokens_compared": len(per_token), "pairs": len(diffs),
        "max_difference": max(diffs) if diffs else 0.0,
        "mean_difference": sum(diffs) / len(diffs) if diffs else 0.0,
        "mean_offset_norm": sum(norms) / len(norms) if norms else 0.0,
        "examples": per_token[:max_examples],
    }


@torch.no_grad()
def position_variance(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> dict:
    """Variance across inputs of the offset at each padded slot (0 for DePT, measured for ADePT).

    At slot ``j``, over the inputs with a real token there: ``v_j = mean_k Var_b(Δ_bjk)`` (population
    variance per dimension, averaged over the d dimensions). JSON shape::

        {"slot": [j...], "variance": [v_j or null], "count": [inputs with a real token at j],
         "mean_variance": float,        # count-weighted mean over slots with >= 2 inputs
         "mean_sq_offset": float}       # scale: mean_k of Δ_k^2 over the same tokens
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    _, delta = _offsets(model, input_ids, attention_mask)
    m = attention_mask.to(torch.float64).unsqueeze(-1)  # (b, n, 1)
    d64 = delta.double()
    count = m.sum(0).squeeze(-1)  # (n,)
    mean = (d64 * m).sum(0) / count.clamp(min=1).unsqueeze(-1)
    var = (((d64 - mean) ** 2) * m).sum(0) / count.clamp(min=1).unsqueeze(-1)  # (n, d)
    v = var.mean(-1)
    ok = count >= 2
    weighted = float((v[ok] * count[ok]).sum() / count[ok].sum()) if ok.any() else 0.0
    sq = float(((d64 ** 2) * m).sum() / (m.sum() * d64.shape[-1]).clamp(min=1))
    return {"slot": list(range(v.numel())), "variance": [float(x) if c >= 2 else None for x, c in zip(v, count)],
            "count": [int(c) for c in count], "mean_variance": weighted, "mean_sq_offset": sq}


def tokens_per_position(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                        rows: torch.Tensor | None = None) -> dict:
    """How many distinct tokens share one DePT row: distinct token ids seen at each row (or slot).

    ``rows`` (b, n): the table row each slot reads (``model.dept_positions(mask)``); default: the slot.
    JSON shape: ``{"row": [j...], "distinct_tokens": [k_j], "mean": float, "max": int}`` (rows never
    used by a real token are left out).
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    rows = _slots(attention_mask) if rows is None else rows
    keep = attention_mask.bool()
    seen: dict[int, set] = {}
    for r, t in zip(rows[keep].tolist(), input_ids[keep].tolist()):
        seen.setdefault(r, set()).add(t)
    order = sorted(seen)
    k = [len(seen[r]) for r in order]
    return {"row": order, "distinct_tokens": k, "mean": sum(k) / len(k) if k else 0.0, "max": max(k) if k else 0}


@torch.no_grad()
def shift_demo(model, input_ids: torch.Tensor, neutral_ids: Sequence[int], shifts: Sequence[int] = (1, 2, 4, 8)
               ) -> dict:
    """One input, shifted right by ``k`` neutral tokens: how much each original token's offset moves.

    ``input_ids`` is one unpadded input (n,) or (1, n). For each ``k``: the mean and max over the
    original tokens of ``||Δ_shifted(t) - Δ_original(t)||`` (ADePT: 0; DePT: the rows move under them).
    JSON shape: ``{"shifts": [k...], "mean_change": [...], "max_change": [...], "mean_offset_norm": float,
    "tokens": [str]}``.
    """
    ids = input_ids.reshape(1, -1)
    n = ids.shape[1]
    _, base = _offsets(model, ids, torch.ones_like(ids))
    neutral = torch.tensor(list(neutral_ids), device=ids.device)
    mean_c, max_c, used = [], [], []
    for k in shifts:
        if k > neutral.numel():
            raise ValueError(f"shift {k} needs {k} neutral tokens, only {neutral.numel()} given.")
        if model.method == "dept" and n + k > model.max_length:
            break
        shifted = torch.cat([neutral[:k].unsqueeze(0), ids], 1)
        _, d = _offsets(model, shifted, torch.ones_like(shifted))
        change = (d[0, k:] - base[0]).norm(dim=-1)
        mean_c.append(float(change.mean()))
        max_c.append(float(change.max()))
        used.append(int(k))
    tok = model.backbone.tokenizer
    return {"shifts": used, "mean_change": mean_c, "max_change": max_c,
            "mean_offset_norm": float(base[0].norm(dim=-1).mean()),
            "tokens": [_token_str(tok, t) for t in ids[0].tolist()]}


def position_vs_input(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      neutral_ids: Sequence[int] | None = None) -> dict:
    """Position-based (DePT) vs input-adaptive (ADePT) offsets on real inputs. JSON shape::

        {"method": str, "padding_side": str,
         "same_token": same_token_offset_difference(...),
         "position_variance": position_variance(...),
         "tokens_per_position": tokens_per_position(...),    # rows = the DePT rows the slots read
         "shift_demo": shift_demo(...) on the first input | null}
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    rows = model.dept_positions(attention_mask) if model.method == "dept" else None
    out = {
        "method": model.method, "padding_side": model.padding_side,
        "same_token": same_token_offset_difference(model, input_ids, attention_mask),
        "position_variance": position_variance(model, input_ids, attention_mask),
        "tokens_per_position": tokens_per_position(input_ids, attention_mask, rows),
        "shift_demo": None,
    }
    if neutral_ids:
        first = input_ids[0][attention_mask[0].bool()]
        out["shift_demo"] = shift_demo(model, first, neutral_ids, [k for k in PILOT_KS if 0 < k <= len(neutral_ids)])
    return out


@torch.no_grad()
def token_offsets(model, text: str) -> dict:
    """Per-token offset sizes of a user's text, aligned with its tokens (the Offsets page).

    Tokenized as the model reads it (special tokens added for encoder / seq2seq backbones, truncated to
    ``max_length``). JSON shape::

        {"method", "tokens": [str], "token_ids": [int], "offset_norm": [||Δ||], "embedding_norm": [||e||],
         "relative": [||Δ|| / ||e||]}
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("The text is empty: type a sentence to see its per-token offsets.")
    tok = model.backbone.tokenizer
    ids = tok(text, add_special_tokens=model.kind != "causal", truncation=True,
              max_length=model.max_length)["input_ids"]
    x = torch.tensor([ids], device=model.prompt.device)
    e, d = _offsets(model, x, torch.ones_like(x))
    en, dn = e[0].norm(dim=-1), d[0].norm(dim=-1)
    return {"method": model.method, "tokens": [_token_str(tok, t) for t in ids], "token_ids": list(ids),
            "offset_norm": dn.tolist(), "embedding_norm": en.tolist(),
            "relative": (dn / en.clamp(min=1e-12)).tolist()}


# ======================================================================================================
# PCA


def pca_2d(x: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, list[float]]:
    """Project rows of ``x`` (N, d) on their top-``k`` principal components (SVD of the centred data).

    Returns ``(coords (N, k), explained_variance_ratio [k])``. Signs are fixed so that each component's
    largest-magnitude loading is positive (deterministic output). All-equal rows give zeros and ratio 0.
    """
    if x.dim() != 2 or x.shape[0] < 1:
        raise ValueError(f"pca_2d needs an (N, d) matrix with N >= 1, got shape {tuple(x.shape)}.")
    xc = x.detach().double() - x.detach().double().mean(0, keepdim=True)
    u, s, vh = torch.linalg.svd(xc, full_matrices=False)
    k_eff = min(k, s.numel())
    total = float((s ** 2).sum())
    coords = torch.zeros(x.shape[0], k, dtype=torch.float64)
    ratios = [0.0] * k
    if total > 0:
        for i in range(k_eff):
            sign = 1.0 if vh[i][vh[i].abs().argmax()] >= 0 else -1.0
            coords[:, i] = sign * u[:, i] * s[i]
            ratios[i] = float(s[i] ** 2 / total)
    return coords, ratios


@torch.no_grad()
def offset_pca(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               max_points: int = 1500) -> dict:
    """2-D PCA of the offsets of the real tokens (first ``max_points``), for a scatter coloured by token.

    JSON shape::

        {"method", "x": [N], "y": [N], "token": [N], "token_id": [N], "slot": [N],
         "explained_variance_ratio": [pc1, pc2], "num_points": N}
    """
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    keep = attention_mask.bool()
    _, delta = _offsets(model, input_ids, attention_mask)
    d_t, ids_t, s_t = delta[keep][:max_points], input_ids[keep][:max_points], _slots(attention_mask)[keep][:max_points]
    coords, ratio = pca_2d(d_t.cpu())
    tok = model.backbone.tokenizer
    names = {t: _token_str(tok, t) for t in set(ids_t.tolist())}
    return {"method": model.method, "x": coords[:, 0].tolist(), "y": coords[:, 1].tolist(),
            "token": [names[t] for t in ids_t.tolist()], "token_id": ids_t.tolist(), "slot": s_t.tolist(),
            "explained_variance_ratio": ratio, "num_points": int(d_t.shape[0])}


# ======================================================================================================
# Pilot experiment: k neutral tokens prepended at test time (PAPER.md 5.1)


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
        from adept.training import CAUSAL_SUFFIX

        tail = len(encoder._ids(CAUSAL_SUFFIX))
    else:
        tail = 1 if len(ids) > head and ids[-1] in special else 0
    return head, tail


@torch.no_grad()
def evaluate_ids(model, encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                 ) -> dict[str, float]:
    """The task's metrics for already-built source ids: :func:`adept.training.evaluate_ids`, the same code the
    training loop evaluates with, so the pilot's k = 0 point is the run's own metric."""
    from adept.training import evaluate_ids as evaluate_source_ids

    return evaluate_source_ids(model, encoder, id_lists, references, batch_size)


@contextlib.contextmanager
def _padding(model, side: str) -> Iterator[None]:
    old = model.padding_side
    model.padding_side = side
    try:
        yield
    finally:
        model.padding_side = old


def pilot_experiment(model, encoder, examples: Sequence, ks: Sequence[int] = PILOT_KS, *,
                     padding_sides: Sequence[str] | None = None, neutral_text: str = NEUTRAL_TEXT,
                     batch_size: int = 32) -> dict:
    """Test metric when ``k`` neutral tokens are prepended to every input at test time only.

    DePT's offset rows are tied to slots, so a shift moves them onto other tokens; ADePT's follow the
    tokens. ``padding_sides``: default the model's own side, plus the other side for causal backbones
    (with left padding DePT rows sit on pads for short inputs). JSON shape::

        {"method", "task", "metric": primary metric name, "metric_names": [...], "ks": [k...],
         "neutral_text": str, "neutral_tokens": [str], "num_examples": N, "trained_padding_side": str,
         "results": {"right": {"accuracy": [per k], "f1": [per k]}, "left": {...}}}
    """
    if not examples:
        raise ValueError("The pilot experiment needs at least one example.")
    ks = [int(k) for k in ks]
    if any(k < 0 for k in ks):
        raise ValueError(f"ks must be >= 0, got {ks}.")
    sides = list(padding_sides) if padding_sides else [model.padding_side] + (
        [{"left": "right", "right": "left"}[model.padding_side]] if model.kind == "causal" else [])
    neutral = neutral_token_ids(encoder.tok, max(ks) if ks else 0, neutral_text) if max(ks, default=0) else []
    refs = [ex.label for ex in examples]
    sources = [encoder.source(ex) for ex in examples]
    results: dict[str, dict[str, list[float]]] = {}
    for side in sides:
        if side not in ("left", "right"):
            raise ValueError(f"padding side {side!r}: use left or right.")
        per_metric: dict[str, list[float]] = {}
        with _padding(model, side):
            for k in ks:
                lists = []
                for ids in sources:
                    head, tail = _frame(encoder, ids)
                    lists.append(prepend_tokens(ids, neutral[:k], max_length=model.max_length, head=head, tail=tail)
                                 if k else ids)
                for name, value in evaluate_ids(model, encoder, lists, refs, batch_size).items():
                    per_metric.setdefault(name, []).append(value)
        results[side] = per_metric
    return {
        "method": model.method, "task": encoder.task.name, "metric": encoder.task.metric_names[0],
        "metric_names": list(encoder.task.metric_names), "ks": ks, "neutral_text": neutral_text,
        "neutral_tokens": [_token_str(encoder.tok, t) for t in neutral], "num_examples": len(examples),
        "trained_padding_side": model.padding_side, "results": results,
    }


# ======================================================================================================
# First-layer attention (PAPER.md 5.3)


@contextlib.contextmanager
def eager_attention(hf_model) -> Iterator[None]:
    """transformers 5.x returns attention maps only with the eager implementation (sdpa refuses
    ``output_attentions``): switch for the duration, then restore the previous implementation."""
    previous = getattr(hf_model.config, "_attn_implementation", None)
    changed = previous not in (None, "eager") and hasattr(hf_model, "set_attn_implementation")
    if changed:
        hf_model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if changed:
            hf_model.set_attn_implementation(previous)


@torch.no_grad()
def layer_attention(model, input_ids: torch.Tensor, layer: int = 0) -> torch.Tensor:
    """Attention probabilities of layer ``layer`` (0 = first) over ``[P ; x]`` for one unpadded input:
    (heads, l + n, l + n). Rows are queries, columns keys; every row sums to 1 (causal rows over the visible
    keys only). Seq2seq: the encoder's self-attention.
    """
    ids = input_ids.reshape(1, -1)
    model.eval()
    x, mask = model.prompted_inputs(ids, torch.ones_like(ids))
    with eager_attention(model.model):
        if model.kind == "seq2seq":
            out = model.model.get_encoder()(inputs_embeds=x, attention_mask=mask, output_attentions=True)
        else:
            kwargs = {}
            if model.kind == "causal":
                kwargs["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
            out = model.model.base_model(inputs_embeds=x, attention_mask=mask, output_attentions=True, **kwargs)
    if not out.attentions:
        raise ValueError(f"Backbone {model.backbone.name!r} returned no attention maps: it needs eager attention.")
    return out.attentions[layer][0].float()


def first_layer_attention(model, input_ids: torch.Tensor) -> torch.Tensor:
    """Layer-1 attention over ``[P ; x]``, (heads, l + n, l + n): :func:`layer_attention` with ``layer=0``."""
    return layer_attention(model, input_ids, 0)


def relative_attention_change(att: torch.Tensor, att0: torch.Tensor, causal: bool) -> dict:
    """PAPER.md 5.3's scalar: mean over heads, content queries ``i`` and content key pairs ``j < j'`` of
    ``|log(a_ij / a_ij') - log(a0_ij / a0_ij')|``, where ``a`` is the prompted model's and ``a0`` the
    frozen model's first-layer attention between the same ``n`` content tokens.

    ``att``, ``att0``: (heads, n, n) content blocks (queries x keys). ``causal``: only keys ``j <= i``.
    PT leaves every content logit unchanged and only adds prompt keys, which rescale each query's row by
    one factor: on relative-position backbones (RoPE, T5 bias) its change is 0 up to float error.
    Returns ``{"mean": float, "per_head": [float], "pairs": int}``.
    """
    if att.shape != att0.shape or att.dim() != 3:
        raise ValueError(f"Attention blocks must both be (heads, n, n), got {tuple(att.shape)} and "
                         f"{tuple(att0.shape)}.")
    h, n, _ = att.shape
    dlog = att.double().clamp_min(1e-300).log() - att0.double().clamp_min(1e-300).log()  # (h, n, n)
    vis = torch.tril(torch.ones(n, n, dtype=torch.bool)) if causal else torch.ones(n, n, dtype=torch.bool)
    vis = vis.to(att.device)
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=att.device), diagonal=1)  # j < j'
    pair = vis.unsqueeze(-1) & vis.unsqueeze(-2) & upper  # (i, j, j')
    diff = (dlog.unsqueeze(-1) - dlog.unsqueeze(-2)).abs()  # (h, i, j, j')
    count = int(pair.sum())
    if count == 0:
        return {"mean": 0.0, "per_head": [0.0] * h, "pairs": 0}
    per_head = (diff * pair).sum((1, 2, 3)) / count
    return {"mean": float(per_head.mean()), "per_head": [float(x) for x in per_head], "pairs": count}


def _position_encoding(model) -> str:
    m = model.model
    absolute = (hasattr(m, "transformer") and hasattr(m.transformer, "wpe")) or (
        hasattr(m, "embeddings") and hasattr(m.embeddings, "position_embeddings"))
    return "absolute" if absolute else "relative"


@torch.no_grad()
def attention_analysis(model, input_ids: torch.Tensor, frozen=None) -> dict:
    """Layer-1 attention (head-averaged) for one input under the frozen backbone and under ``model``,
    and the relative-attention change between them (:func:`relative_attention_change`).

    ``frozen``: the bare backbone as a 0-token PT model (built when None). JSON shape::

        {"method", "tokens": [n str], "num_virtual_tokens": l, "causal": bool,
         "position_encoding": "relative" | "absolute",   # absolute: PT also shifts content positions by l
         "frozen": [[n x n]],                 # head-averaged content block of the bare backbone
         "attention": [[n x n]],              # head-averaged content block under the method
         "to_prompt": [n],                    # per content query: attention mass on the l prompt keys
         "relative_change": float, "relative_change_per_head": [float], "pairs": int}
    """
    from adept.methods import PromptTunedModel

    ids = input_ids.reshape(1, -1)
    if frozen is None:
        frozen = PromptTunedModel(model.backbone, "pt", 0, 0, model.max_length, num_labels=model.num_labels,
                                  padding_side=model.padding_side).to(model.prompt.device)
    a0 = first_layer_attention(frozen, ids)
    a = first_layer_attention(model, ids)
    m = model.num_virtual_tokens
    content = a[:, m:, m:]
    causal = model.kind == "causal"
    change = relative_attention_change(content, a0, causal)
    tok = model.backbone.tokenizer
    return {
        "method": model.method, "tokens": [_token_str(tok, t) for t in ids[0].tolist()],
        "num_virtual_tokens": m, "causal": causal, "position_encoding": _position_encoding(model),
        "frozen": a0.mean(0).tolist(), "attention": content.mean(0).tolist(),
        "to_prompt": a[:, m:, :m].sum(-1).mean(0).tolist(),
        "relative_change": change["mean"], "relative_change_per_head": change["per_head"], "pairs": change["pairs"],
    }


def attention_comparison(run_ids: Sequence[str]) -> dict:
    """Merge the ``analysis/attention.json`` of several runs (e.g. a PT, a DePT and an ADePT run on the same
    task) for one figure: ``{"tokens", "frozen", "methods": {label: {"attention", "relative_change",
    "run_id"}}}``. Raises ValueError when a run lacks the artifact or the runs used different inputs."""
    from adept import tracking

    merged: dict = {"tokens": None, "frozen": None, "methods": {}}
    for run_id in run_ids:
        art = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/attention.json")
        if art is None:
            raise ValueError(f"Run {run_id} has no {ANALYSIS_DIR}/attention.json: run "
                             f"`python -m adept analyze {run_id}`.")
        if merged["tokens"] is None:
            merged["tokens"], merged["frozen"] = art["tokens"], art["frozen"]
        elif art["tokens"] != merged["tokens"]:
            raise ValueError(f"Run {run_id} analysed another input than the first run: compare runs of one "
                             "task and backbone.")
        label = art["method"] if art["method"] not in merged["methods"] else f"{art['method']} ({run_id[:8]})"
        merged["methods"][label] = {"attention": art["attention"], "relative_change": art["relative_change"],
                                    "run_id": run_id}
    return merged


# ======================================================================================================
# Latency


@torch.no_grad()
def _infer(model, ids: torch.Tensor, mask: torch.Tensor, label_ids: list[int] | None) -> torch.Tensor:
    """One inference pass as evaluation does it: rank classification, or the encoder head."""
    if model.kind == "encoder" or label_ids is None:
        if model.kind == "encoder":
            return model(ids, mask)
        return model.hidden_states(ids, mask)
    return model.score_labels(ids, mask, label_ids)


def ab_timings(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, A/B interleaved: every round calls each function once, in an
    order rotated round by round (so drifting machine load hits every arm alike). ``warmup`` untimed
    rounds first. Returns ``{name: [seconds per round]}``."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def latency(models: dict, id_lists: list[list[int]], *, label_ids: list[int] | None = None, repeats: int = 3,
            warmup: int = 1, threads: int | None = 1) -> dict:
    """Per-example inference latency (batch size 1) of several models on the same inputs.

    Each round runs every model over all inputs, models interleaved in rotated order; the figure is the
    median over rounds of (round time / inputs). ``threads``: torch threads during the measurement (default
    1: a batch-1 forward of a small model gains little from more, and on a busy machine multi-threaded
    batch-1 timings are dominated by threads waiting for each other; None keeps the current setting).
    JSON shape::

        {"num_examples": N, "repeats": R, "batch_size": 1, "threads": T,
         "models": {name: {"median_ms": float, "rounds_ms": [R floats], "num_virtual_tokens": l}},
         "ratios": {"<a>/<b>": median_a / median_b, ...}}      # every ordered pair of models
    """
    if not id_lists:
        raise ValueError("latency needs at least one input.")
    first = next(iter(models.values()))
    device = first.prompt.device
    tensors = [torch.tensor([ids], device=device) for ids in id_lists]

    def runner(m):
        def run():
            for x in tensors:
                _infer(m, x, torch.ones_like(x), label_ids)
        return run

    for m in models.values():
        m.eval()
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = ab_timings({name: runner(m) for name, m in models.items()}, repeats, warmup)
    finally:
        torch.set_num_threads(previous)
    n = len(id_lists)
    out = {"num_examples": n, "repeats": repeats, "batch_size": 1, "threads": threads or previous,
           "models": {}, "ratios": {}}
    med = {}
    for name, ts in times.items():
        med[name] = statistics.median(ts) / n
        out["models"][name] = {"median_ms": 1000 * med[name], "rounds_ms": [1000 * t / n for t in ts],
                               "num_virtual_tokens": models[name].num_virtual_tokens}
    for a in med:
        for b in med:
            if a != b:
                out["ratios"][f"{a}/{b}"] = med[a] / med[b]
    return out


# ======================================================================================================
# Runs: load, analyze, fold


def _run_config(run_id: str):
    from adept import tracking
    from adept.training import RunConfig

    cfg = tracking.load_json_artifact(run_id, "config.json")
    if cfg is None:
        raise ValueError(f"Run {run_id} has no config.json artifact: is the run id right (and MLFLOW_TRACKING_URI)?")
    import dataclasses

    known = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig.from_dict({k: v for k, v in cfg.items() if k in known})


def load_run_model(run_id: str, device: str | None = None):
    """A finished run's best adapter on its backbone, with its task and encoder.

    Returns ``(model, encoder, task, config)`` (model in eval mode). Raises ValueError when the run has no
    ``config.json`` or no ``adapter/`` artifact (it has not evaluated once yet).
    """
    from adept import tracking
    from adept.backbones import load_backbone
    from adept.methods import load_adapter
    from adept.tasks import load_task
    from adept.training import Encoder

    cfg = _run_config(run_id)
    try:
        adapter_dir = tracking.download_artifacts(run_id, "adapter")
    except ValueError as exc:
        raise ValueError(f"Run {run_id} has no adapter/ artifact yet (it saves one at its first evaluation): "
                         "wait for it or pick a finished run.") from exc
    if cfg.data_file:
        task = load_task(cfg.data_file, seed=cfg.seed, text_column=cfg.text_column,
                         text_pair_column=cfg.text_pair_column, label_column=cfg.label_column)
    else:
        task = load_task(cfg.task, data_dir=cfg.data_dir)
    bb = load_backbone(cfg.backbone)
    model = load_adapter(adapter_dir, bb)
    dev = torch.device(device) if device else torch.device("cpu")
    model.to(dev).eval()
    encoder = Encoder(task, bb.tokenizer, bb.kind, model.max_length)
    return model, encoder, task, cfg


def default_sizes(backbone: str) -> dict[str, int]:
    """Example counts for :func:`analyze_run`, sized so a SmolLM2 run's analysis stays under ~2 minutes on 2
    idle CPU cores. The pilot experiment dominates: it scores every example at 6 values of k, for both padding
    sides on decoder backbones (SmolLM2: ~0.6 CPU-seconds per example at l = 60, so 16 examples = 192
    forwards, ~70 s on 2 idle cores, ~2.5 min on a busy one). That is a quick look (one example moves
    accuracy by 6 points); a real pilot: ``python -m adept analyze RUN_ID --force --pilot-examples 200``."""
    from adept.backbones import BACKBONE_INFO

    cost = BACKBONE_INFO.get(backbone, {}).get("sec_per_step_cpu", 3.0)
    if cost >= 1.0:  # SmolLM2 and unknown (hub) backbones
        return {"stats_examples": 128, "pilot_examples": 16, "attention_tokens": 40, "latency_examples": 4,
                "latency_repeats": 2}
    return {"stats_examples": 256, "pilot_examples": 100, "attention_tokens": 48, "latency_examples": 8,
            "latency_repeats": 3}


def _latency_variants(model, cfg) -> dict:
    """PT, DePT, ADePT (unfolded) and ADePT folded at the run's budget; the run's own model for its method."""
    from adept import budget as budget_mod
    from adept.methods import build_method

    bb, d = model.backbone, model.backbone.d_model
    total = cfg.budget if cfg.budget is not None else 100 * d
    l_m = model.num_virtual_tokens if model.method != "pt" else None
    variants = {}
    for method in ("pt", "dept", "adept"):
        if method == model.method:
            variants[method] = model
            continue
        try:
            sol = budget_mod.solve(method, d, model.max_length, total, l_m if method != "pt" else None)
        except ValueError:
            sol = budget_mod.solve(method, d, model.max_length, total)
        variants[method] = build_method(method, bb, sol[0], sol[1] or None, model.max_length,
                                        num_labels=model.num_labels, padding_side=model.padding_side).eval()
    variants["adept_folded"] = variants["adept"].fold()
    return variants


def _log_json(run_id: str, obj, name: str) -> None:
    from adept import tracking
    from adept.tracking import _json_default

    tracking.get_client().log_text(run_id, json.dumps(obj, default=_json_default), f"{ANALYSIS_DIR}/{name}.json")


def _run_status(run_id: str) -> str | None:
    from adept import tracking

    try:
        return tracking.get_client().get_run(run_id).info.status
    except Exception:  # noqa: BLE001 - a missing run is reported by load_run_model with a clear message
        return None


def load_analysis(run_id: str) -> dict | None:
    """The stored analysis of a run (``{name: json}`` for every artifact plus ``meta``), or None if the run was
    never analysed completely."""
    from adept import tracking

    meta = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/meta.json")
    if meta is None:
        return None
    out = {"meta": meta}
    for name in meta.get("artifacts", ARTIFACT_NAMES):
        out[name] = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/{name}.json")
    return out


def analyze_run(run_id: str, *, force: bool = False, sizes: dict[str, int] | None = None,
                log: Callable[[str], None] | None = None) -> dict:
    """Every analysis of PAPER.md section 5 on one run, logged as ``analysis/<name>.json`` artifacts.

    Computed once: when ``analysis/meta.json`` exists the stored results are read back, unless ``force``.
    Offset statistics, position-vs-input and PCA use the first ``stats_examples`` validation examples; the
    pilot experiment the first ``pilot_examples`` test examples; attention the first validation example
    (first ``attention_tokens`` tokens, the same input for every run of a task, so runs can be compared with
    :func:`attention_comparison`); latency the first ``latency_examples`` validation examples.
    ``sizes`` overrides :func:`default_sizes`. A run analysed while RUNNING (its best adapter so far) is
    analysed again once its status changed. Returns ``{name: json}`` for the names in ``ARTIFACT_NAMES`` and
    ``"meta"`` = ``{"run_id", "run_status", "method", "backbone", "task", "sizes", "seconds": {name: s},
    "total_seconds", "artifacts", "version", "threads"}``.
    """
    say = log or (lambda msg: None)
    status = _run_status(run_id)
    if not force:
        stored = load_analysis(run_id)
        if stored is not None and stored["meta"].get("run_status") in (status, None):
            say(f"analysis of {run_id} already stored; reading it back (force=True recomputes)")
            return stored
        if stored is not None:
            say(f"stored analysis was made while the run was {stored['meta'].get('run_status')}; recomputing")
    t_all = time.perf_counter()
    model, encoder, task, cfg = load_run_model(run_id)
    size = {**default_sizes(cfg.backbone), **(sizes or {})}
    val, test = task.splits["validation"], task.splits["test"] or task.splits["validation"]
    if not val:
        raise ValueError(f"Task {task.name!r} has no validation examples to analyse.")
    seconds: dict[str, float] = {}
    results: dict[str, object] = {}

    def step(name: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        results[name] = fn()
        seconds[name] = time.perf_counter() - t0
        _log_json(run_id, results[name], name)
        say(f"{name}: {seconds[name]:.1f} s")

    ids, mask = encode_examples(model, encoder, val[: size["stats_examples"]])
    neutral = neutral_token_ids(encoder.tok, max(PILOT_KS))
    step("offset_stats", lambda: offset_statistics(model, ids, mask))
    step("position_vs_input", lambda: position_vs_input(model, ids, mask, neutral))
    step("offset_pca", lambda: offset_pca(model, ids, mask))
    one = torch.tensor([encoder.source(val[0])[: size["attention_tokens"]]], device=model.prompt.device)
    step("attention", lambda: attention_analysis(model, one))
    step("pilot", lambda: pilot_experiment(model, encoder, test[: size["pilot_examples"]],
                                           batch_size=cfg.eval_batch_size))

    def run_latency() -> dict:
        variants = _latency_variants(model, cfg)
        lists = [encoder.source(ex) for ex in val[: size["latency_examples"]]]
        out = latency(variants, lists, label_ids=encoder.label_ids or None, repeats=size["latency_repeats"])
        out["variants"] = {name: {"method": m.method, "num_virtual_tokens": m.num_virtual_tokens, "rank": m.rank,
                                  "from_run": m is model, "folded": name == "adept_folded"}
                           for name, m in variants.items()}
        return out

    step("latency", run_latency)
    meta = {"run_id": run_id, "run_status": status, "method": model.method, "backbone": cfg.backbone,
            "task": task.name, "sizes": size,
            "seconds": seconds, "total_seconds": time.perf_counter() - t_all, "artifacts": list(ARTIFACT_NAMES),
            "version": ANALYSIS_VERSION, "threads": torch.get_num_threads()}
    _log_json(run_id, meta, "meta")
    results["meta"] = meta
    return results


# ----- folding -----------------------------------------------------------------------------------------


@torch.no_grad()
def _outputs(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What inference reads: causal next-token logits after the last real token (b, V); seq2seq the first
    decoder step's logits (b, V); encoder the head's logits (b, k)."""
    model.eval()
    if model.kind == "encoder":
        return model(ids, mask)
    if model.kind == "seq2seq":
        x, m = model.prompted_inputs(ids, mask)
        start = torch.full((ids.shape[0], 1), model.model.config.decoder_start_token_id, device=ids.device)
        return model.model(inputs_embeds=x, attention_mask=m, decoder_input_ids=start).logits[:, 0]
    h = model.hidden_states(ids, mask)
    n = ids.shape[1]
    last = (mask * torch.arange(1, n + 1, device=ids.device)).argmax(1)
    return model.lm_head()(h[torch.arange(h.shape[0], device=h.device), model.num_virtual_tokens + last])


def fold_model(model, out_dir: str | Path, *, full_model: bool = False) -> dict:
    """Fold ``model``'s offsets for inference and write the result to ``out_dir``.

    * ADePT: ``E' = E + f(E)`` over the whole vocabulary -> ``input_embedding.safetensors`` (``weight``, V x d)
      plus ``adapter/`` (a PT adapter: the soft prompt, and the head of encoder backbones).
    * DePT on a backbone with a learned absolute position table (GPT-2, BERT/MiniLM): ``α A B`` added to rows
      ``l..l+s-1`` -> ``position_embedding.safetensors`` (``weight``) plus ``adapter/``. On rotary / relative
      backbones (Llama, SmolLM2, T5) it cannot fold: the precomputed table ``α A B`` (s x d) is written as
      ``dept_position_offsets.safetensors`` and ``folded`` is false.
    * PT: nothing to fold; ``adapter/`` only.

    ``full_model``: also ``model/`` (the folded backbone's ``save_pretrained`` + tokenizer). Returns the
    report ``{"method", "folded": bool, "reason", "files": [...], "out_dir"}`` (no equality check here;
    :func:`fold_run` adds it).
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"method": model.method, "backbone": model.backbone.name, "out_dir": str(out), "files": [],
                    "folded": True, "reason": ""}
    try:
        folded = model.fold()
    except ValueError as exc:  # DePT on a backbone without an absolute position table
        folded = None
        report.update(folded=False, reason=str(exc))
    if model.method == "dept" and folded is None:
        save_file({"table": model.offsets.table().detach().cpu().contiguous()}, str(out / DEPT_TABLE))
        report["files"].append(DEPT_TABLE)
        model.save(out / "adapter")
        report["files"].append("adapter/")
        return report
    if model.method == "adept":
        save_file({"weight": folded.embed_table().weight.detach().cpu().contiguous()}, str(out / FOLDED_TABLE))
        report["files"].append(FOLDED_TABLE)
    elif model.method == "dept":
        table = _absolute_position_table(folded.model)
        save_file({"weight": table.weight.detach().cpu().contiguous()}, str(out / FOLDED_POSITIONS))
        report["files"].append(FOLDED_POSITIONS)
    folded.save(out / "adapter")
    report["files"].append("adapter/")
    if full_model:
        folded.model.save_pretrained(out / "model")
        folded.backbone.tokenizer.save_pretrained(out / "model")
        report["files"].append("model/")
    return report


def _absolute_position_table(hf_model):
    if hasattr(hf_model, "transformer") and hasattr(hf_model.transformer, "wpe"):
        return hf_model.transformer.wpe
    if hasattr(hf_model, "embeddings") and hasattr(hf_model.embeddings, "position_embeddings"):
        return hf_model.embeddings.position_embeddings
    raise ValueError("This backbone has no learned absolute position table.")


def load_folded(out_dir: str | Path, backbone=None):
    """The inference model written by :func:`fold_model`: the backbone (loaded by name from the adapter
    config unless given; it is copied, never modified) with the folded table(s) swapped in, and the PT adapter.
    A DePT folder that could not fold loads the unfolded DePT adapter."""
    import dataclasses

    from safetensors.torch import load_file
    from torch import nn

    from adept.backbones import input_embedding, load_backbone
    from adept.methods import ADAPTER_CONFIG, load_adapter

    out = Path(out_dir)
    cfg_path = out / "adapter" / ADAPTER_CONFIG
    if not cfg_path.exists():
        raise ValueError(f"{out} is not a folded model folder: it has no adapter/{ADAPTER_CONFIG}.")
    cfg = json.loads(cfg_path.read_text())
    bb = backbone if backbone is not None else load_backbone(cfg["backbone"])
    if (out / FOLDED_TABLE).exists() or (out / FOLDED_POSITIONS).exists():
        model = copy.deepcopy(bb.model)
        if (out / FOLDED_TABLE).exists():
            weight = load_file(str(out / FOLDED_TABLE))["weight"]
            old = input_embedding(model, bb.kind)
            table = nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=old.padding_idx)
            if bb.kind == "seq2seq":
                model.get_encoder().set_input_embeddings(table)
            else:
                model.set_input_embeddings(table)
            model.config.tie_word_embeddings = False
        if (out / FOLDED_POSITIONS).exists():
            with torch.no_grad():
                _absolute_position_table(model).weight.copy_(load_file(str(out / FOLDED_POSITIONS))["weight"])
        bb = dataclasses.replace(bb, model=model)
    return load_adapter(out / "adapter", bb).eval()


def fold_run(run_id: str, out_dir: str | Path | None = None, *, full_model: bool = False,
             check_examples: int = 16) -> dict:
    """Fold a run's best adapter into ``out_dir`` (default ``<ADEPT_HOME>/folded/<run_id>``), reload it from
    disk and check that its outputs equal the unfolded model's on the first ``check_examples`` validation
    examples. Returns :func:`fold_model`'s report plus ``{"run_id", "max_abs_diff": float | None,
    "predictions_equal": bool | None, "check_examples": N}``, also written to ``<out_dir>/fold_report.json``.
    """
    from adept.tracking import adept_home

    model, encoder, task, _ = load_run_model(run_id)
    out = Path(out_dir) if out_dir else Path(adept_home()) / "folded" / run_id
    if out.exists():
        shutil.rmtree(out)
    report = fold_model(model, out, full_model=full_model)
    report["run_id"] = run_id
    report["max_abs_diff"] = None
    report["predictions_equal"] = None
    report["check_examples"] = 0
    if report["folded"] or model.method == "dept":
        reloaded = load_folded(out, model.backbone)
        ids, mask = encode_examples(model, encoder, task.splits["validation"][:check_examples])
        a, b = _outputs(model, ids, mask), _outputs(reloaded, ids, mask)
        report["max_abs_diff"] = float((a - b).abs().max())
        if encoder.label_ids:
            idx = torch.tensor(encoder.label_ids, device=a.device)
            report["predictions_equal"] = bool(torch.equal(a[:, idx].argmax(-1), b[:, idx].argmax(-1)))
        else:
            report["predictions_equal"] = bool(torch.equal(a.argmax(-1), b.argmax(-1)))
        report["check_examples"] = int(ids.shape[0])
    (out / FOLD_REPORT).write_text(json.dumps(report, indent=2))
    return report


# ======================================================================================================
# CLI entry points (wired in adept/__main__.py)


def add_analyze_arguments(parser) -> None:
    parser.add_argument("run_id", help="MLflow run id of a finished (or evaluated once) run")
    parser.add_argument("--force", action="store_true", help="recompute even if analysis/*.json exist")
    parser.add_argument("--pilot-examples", type=int, help="test examples for the pilot experiment")
    parser.add_argument("--stats-examples", type=int, help="validation examples for the offset statistics")


def cli_analyze(args) -> int:
    """``python -m adept analyze RUN_ID [--force]``: compute (or read back) and print a summary."""
    sizes = {k: v for k, v in (("pilot_examples", getattr(args, "pilot_examples", None)),
                               ("stats_examples", getattr(args, "stats_examples", None))) if v}
    res = analyze_run(args.run_id, force=getattr(args, "force", False), sizes=sizes or None,
                      log=lambda m: print(f"[analyze] {m}", flush=True))
    for line in summary_lines(res):
        print(line)
    return 0


def summary_lines(res: dict) -> list[str]:
    """Human-readable key numbers of an :func:`analyze_run` result."""
    lines = []
    st, pv, pilot, att, lat = (res.get(k) or {} for k in ("offset_stats", "position_vs_input", "pilot",
                                                          "attention", "latency"))
    meta = res.get("meta", {})
    lines.append(f"run {meta.get('run_id')} ({meta.get('method')}, {meta.get('backbone')}, {meta.get('task')})")
    if st:
        ps = st["paper_stat"]
        lines.append(f"offsets: mean|Δ| {ps['offset']['mean']:.4g} ± {ps['offset']['std']:.4g} (across dims) vs "
                     f"|E| {ps['embedding']['mean']:.4g} ± {ps['embedding']['std']:.4g}; ||Δ||/||e|| mean "
                     f"{st['norms']['relative_mean']:.4g}; distinct offsets {st['distinct']['offset_vectors']} "
                     f"(tokens {st['distinct']['tokens_seen']}, positions {st['distinct']['positions_seen']})")
    if pv:
        lines.append(f"same token at other slots: max ||ΔΔ|| {pv['same_token']['max_difference']:.4g}; "
                     f"per-slot variance across inputs {pv['position_variance']['mean_variance']:.4g}")
    if pilot:
        for side, metrics in pilot["results"].items():
            vals = metrics[pilot["metric"]]
            lines.append(f"pilot ({side} padding) {pilot['metric']} at k={pilot['ks']}: "
                         + ", ".join(f"{v:.1f}" for v in vals))
    if att:
        lines.append(f"layer-1 relative attention change vs frozen: {att['relative_change']:.4g} "
                     f"({att['position_encoding']} positions)")
    if lat:
        lines.append("latency per example: " + ", ".join(f"{k} {v['median_ms']:.1f} ms"
                                                        for k, v in lat["models"].items()))
    return lines


def add_fold_arguments(parser) -> None:
    parser.add_argument("run_id", help="MLflow run id")
    parser.add_argument("--out", help="output folder (default <ADEPT_HOME>/folded/<run_id>)")
    parser.add_argument("--full-model", action="store_true", help="also save the whole folded backbone")


def cli_fold(args) -> int:
    """``python -m adept fold RUN_ID [--out DIR] [--full-model]``: fold, reload, check equality."""
    report = fold_run(args.run_id, getattr(args, "out", None), full_model=getattr(args, "full_model", False))
    print(json.dumps(report, indent=2))
    ok = report["max_abs_diff"] is None or report["max_abs_diff"] < 1e-4
    return 0 if ok else 1


def register_cli(subparsers) -> None:
    """Add ``analyze`` and ``fold`` to ``python -m adept``'s subparsers (one call from adept/__main__.py)."""
    p = subparsers.add_parser("analyze", help="paper analyses of a run, logged as analysis/*.json artifacts")
    add_analyze_arguments(p)
    p.set_defaults(func=cli_analyze)
    p = subparsers.add_parser("fold", help="fold a run's offsets into the embedding table and check equality")
    add_fold_arguments(p)
    p.set_defaults(func=cli_fold)


__all__ = [
    "ARTIFACT_NAMES", "PILOT_KS", "ab_timings", "analyze_run", "attention_analysis", "attention_comparison",
    "cli_analyze", "cli_fold", "default_sizes", "eager_attention", "encode_examples", "evaluate_ids",
    "first_layer_attention", "fold_model", "fold_run", "latency", "layer_attention", "load_analysis", "load_folded",
    "load_run_model", "neutral_token_ids", "offset_pca", "offset_statistics", "paper_stat", "pca_2d",
    "pilot_experiment", "position_variance", "position_vs_input", "prepend_tokens", "register_cli",
    "relative_attention_change", "same_token_offset_difference", "shift_demo", "token_offsets",
    "tokens_per_position",
]
