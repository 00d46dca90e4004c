"""What every analysis reads: a batch of real inputs, the embedding ``e`` and offset ``Δ`` at each slot.

Notation of the whole package: ``e`` is a frozen input token embedding, ``Δ`` the offset added to it (PT: 0;
DePT: ``Δ_j = α (A B)_j`` for the padded slot ``j``; ADePT: ``Δ(e) = f(e)``, a token-shared FFN), ``l`` the
soft-prompt length, ``n`` the number of input tokens, ``s`` DePT's table length (``max_length``). A *slot* is a
column ``j`` of the padded batch; *real* tokens are those with ``attention_mask = 1``.

A run's analyses are stored as its JSON artifacts ``<ANALYSIS_DIR>/<name>.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

ANALYSIS_DIR = "analysis"


def _token_str(tokenizer, token_id: int) -> str:
    """A readable form of one token: its decoded text, or the raw vocabulary entry when that is blank."""
    text = tokenizer.decode([int(token_id)])
    if text.strip():
        return text
    raw = tokenizer.convert_ids_to_tokens(int(token_id))
    return raw if isinstance(raw, str) and raw.strip() else repr(text)


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
