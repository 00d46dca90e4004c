"""Position-based (DePT) vs input-adaptive (ADePT) offsets, measured on real inputs.

DePT's offset depends only on the slot, ``Δ_j = α (A B)_j``; ADePT's only on the token, ``Δ = f(e)``.
Four measurements tell them apart:

* the same token at other slots (:func:`same_token_offset_difference`): ``||Δ(t at j) - Δ(t at j')||``,
  0 for ADePT, > 0 for DePT;
* the variance at one slot across inputs (:func:`position_variance`): ``v_j = mean_k Var_b(Δ_bjk)``,
  0 for DePT, > 0 for ADePT;
* the tokens sharing one DePT row (:func:`tokens_per_position`): distinct token ids that read row ``j``;
* the shift demo (:func:`shift_demo`): ``k`` neutral tokens prepended to one input move each original
  token from slot ``j`` to ``j + k``; ``||Δ_shifted(t) - Δ(t)||`` is 0 for ADePT, DePT's rows slide under
  the tokens.

:func:`token_offsets` gives the per-token ``||Δ||`` of a user's text (the dashboard's Offsets page).

What the paper expects and how to read the chart: docs/analyses.md, section 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from adept.analysis.common import _offsets, _slots, _token_str
from adept.analysis.pilot import PILOT_KS


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
