"""First-layer attention under PT, DePT and ADePT, and the relative-attention-change scalar.

The layer-1 logit between content tokens ``i`` and ``j`` is ``(e_i + Δ_i) W_Q W_Kᵀ (e_j + Δ_j)ᵀ`` (plus the
backbone's position terms). PT has ``Δ = 0``: its prompt only adds keys, which divide each content query's
softmax row by one factor, so the ratios ``a_ij / a_ij'`` among content keys stay those of the frozen
backbone (with relative positions; absolute positions shift every content token by ``l``). Offsets change
the logits themselves. The scalar of :func:`relative_attention_change`::

    R = mean over heads, content queries i and visible content key pairs j < j' of
        | log(a_ij / a_ij') - log(a0_ij / a0_ij') |

with ``a`` the prompted model's and ``a0`` the frozen backbone's attention over the same ``n`` content tokens:
``R ≈ 0`` for PT, ``R > 0`` for DePT and ADePT.

What the paper expects and how to read the chart: docs/analyses.md, section 5.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from adept.analysis.common import ANALYSIS_DIR, _token_str


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
    """The relative-attention change (docs/analyses.md, section 5): mean over heads, content queries ``i``
    and content key pairs ``j < j'`` of ``|log(a_ij / a_ij') - log(a0_ij / a0_ij')|``, where ``a`` is the
    prompted model's and ``a0`` the frozen model's first-layer attention between the same ``n`` content tokens.

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
