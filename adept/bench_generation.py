"""Generation speed figures for ``python -m adept bench`` (one call from :func:`adept.bench.run_bench`).

Three arms, A/B interleaved (:func:`adept.analysis.ab_timings`), medians over rounds, the same batch of real
task inputs and the same number of new tokens each (greedy, no stop token, so every arm makes ``b x T``):

* ``cached``: ADePT's :meth:`PromptTunedModel.generate` (transformers' generate, KV cache, batched, offsets on
  every fed-back token; :mod:`adept.generation`);
* ``uncached``: :func:`adept.generation.greedy_uncached`, one example at a time re-running the whole sequence
  per token (what generation did before the cache);
* ``bare``: the backbone's own ``model.generate`` from ``inputs_embeds`` of the same length ``l + n``
  (``[P ; E]``, no offsets), the speed a plain transformers user gets.

Lines: ``cached/uncached generation tokens/s`` (how much the cache and batching give) and
``ours/bare-generate tokens/s`` (target >= 0.8: what the prompt tuning costs on top of transformers).
"""

from __future__ import annotations

import statistics

import torch

from adept.analysis import ab_timings


def bench_generation(backbone_name: str, *, repeats: int = 3, batch_size: int = 4, new_tokens: int = 8,
                     max_length: int = 128, num_virtual_tokens: int = 60) -> dict:
    """Tokens/s of the three arms. Returns ``{"backbone", "batch_size", "new_tokens", "n", "l",
    "tokens_per_s": {"cached", "uncached", "bare"}, "ratio": {"cached/uncached", "ours/bare"},
    "same_tokens": cached == uncached, "repeats"}``."""
    from adept.backbones import load_backbone
    from adept.encoding import Encoder
    from adept.generation import greedy_uncached, left_pad
    from adept.methods import build_method
    from adept.tasks import load_task

    bb = load_backbone(backbone_name)
    if bb.kind != "causal":
        raise ValueError(f"The generation figures need a causal backbone; {backbone_name!r} is {bb.kind}.")
    model = build_method("adept", bb, num_virtual_tokens, None, max_length, budget=100 * bb.d_model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameter_groups()["offsets"]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)  # B starts at zero: make the offsets real
    model.eval()
    task = load_task("rotten-tomatoes")
    enc = Encoder(task, bb.tokenizer, bb.kind, max_length)
    ids, mask = enc.pad([enc.source(ex) for ex in task.splits["validation"][:batch_size]], "right",
                        bb.tokenizer.pad_token_id or 0)
    left, left_mask = left_pad(ids, mask)
    with torch.no_grad():
        bare_x = torch.cat([model.prompt.unsqueeze(0).expand(batch_size, -1, -1), bb.input_embedding()(left)], 1)
    bare_mask = torch.cat([torch.ones(batch_size, model.num_virtual_tokens, dtype=left_mask.dtype), left_mask], 1)
    every = {"max_new_tokens": new_tokens, "do_sample": False, "eos_token_id": [], "pad_token_id": 0}
    out: dict = {}

    def cached():
        out["cached"] = model.generate(ids, mask, **every)[:, ids.shape[1]:].tolist()

    def uncached():
        out["uncached"] = greedy_uncached(model, ids, mask, new_tokens, set())

    @torch.no_grad()
    def bare():
        bb.model.generate(inputs_embeds=bare_x, attention_mask=bare_mask, **every)

    times = ab_timings({"cached": cached, "uncached": uncached, "bare": bare}, repeats)
    tokens = batch_size * new_tokens
    tps = {k: tokens / statistics.median(v) for k, v in times.items()}
    return {"backbone": backbone_name, "batch_size": batch_size, "new_tokens": new_tokens, "n": int(ids.shape[1]),
            "l": model.num_virtual_tokens, "tokens_per_s": tps, "rounds_s": times, "repeats": repeats,
            "ratio": {"cached/uncached": tps["cached"] / tps["uncached"], "ours/bare": tps["cached"] / tps["bare"]},
            "same_tokens": out["cached"] == out["uncached"]}


def generation_lines(r: dict) -> list[str]:
    tps = r["tokens_per_s"]
    setup = (f"ADePT l={r['l']}, batch {r['batch_size']}, n={r['n']}, {r['new_tokens']} new tokens each, greedy; "
             f"medians of {r['repeats']} A/B rounds")
    return [
        f"[{r['backbone']}] cached/uncached generation tokens/s: {r['ratio']['cached/uncached']:.2f}  ({setup}: "
        f"cached {tps['cached']:.1f} tok/s, uncached {tps['uncached']:.1f} tok/s; same tokens: {r['same_tokens']})",
        f"[{r['backbone']}] ours/bare-generate tokens/s: {r['ratio']['ours/bare']:.3f}  (target >= 0.8; bare = the "
        f"backbone's model.generate on [P ; E] of the same length {r['l']}+{r['n']}: {tps['bare']:.1f} tok/s)",
    ]
