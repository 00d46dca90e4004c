"""2-D PCA of the offsets of real tokens, for a scatter of one point per token occurrence.

With ``X`` the (N, d) offsets, centred, ``X_c = X - mean_t X_t = U S Vᵀ`` (thin SVD): the coordinate of
token ``t`` on component ``i`` is ``U_ti S_i`` and the component's explained-variance ratio
``S_i² / Σ_k S_k²``. DePT's points fall on as many places as there are slots; ADePT's group by token.

What the paper expects and how to read the chart: docs/analyses.md, section 3.
"""

from __future__ import annotations

import torch

from adept.analysis.common import _offsets, _slots, _token_str


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
