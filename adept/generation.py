"""Generation for :class:`adept.methods.PromptTunedModel`: transformers' ``generate`` (KV cache, batched, every
``GenerationConfig`` option) over ``[P ; E + Δ]``.

Causal backbones. The batch is left padded (real tokens moved to the right end, order kept) so that new tokens
follow every example's last real token. The prefill reads ``[P ; E + Δ]`` with position ids from the mask
(prompt ``0 .. l-1``, real token ``j`` at ``l + j``, as :meth:`PromptTunedModel.hidden_states`). Each generated
token is fed back embedded with its offset, as training embedded the target tokens: ADePT ``e + f(e)``, DePT
``e + Δ_j`` with ``j`` its index among the example's tokens (position - l), PT ``e``. A forward pre-hook on the
backbone's base model does that (it turns the fed-back ``input_ids`` into ``inputs_embeds``), only during the
call, so the cache, beams, sampling and stopping are transformers' own. ADePT could equally generate through
its folded table ``E' = E + f(E)``; the hook gives the same embeddings without copying the model.

Seq2seq backbones: prompt and offsets are on the encoder input only; the decoder generates as usual.

DePT's table has ``s`` rows (``max_length``): :func:`generate` refuses a request that would embed a token at
slot ``>= s``; :func:`generate_new_tokens` (what evaluation decodes) stops each example there instead, as the
uncached loop always did. DePT with left padding anchors its slots at the end of the input (``s - n + j``), so
every token's offset changes as the output grows: no cache can hold that, and it decodes greedily with
:func:`greedy_uncached`, which re-runs the whole sequence for each token (the reference for the cached path).
"""

from __future__ import annotations

import contextlib
import copy

import torch

DEFAULT_MAX_NEW_TOKENS = 20


def stop_ids(model) -> set[int]:
    """Tokens that end an answer in evaluation: the tokenizer's eos, pad and sep."""
    tok = model.backbone.tokenizer
    return {i for i in (tok.eos_token_id, tok.pad_token_id, getattr(tok, "sep_token_id", None)) if i is not None}


def left_pad(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same batch with each row's real tokens moved to its right end (their order kept)."""
    mask = attention_mask.long()
    order = torch.sort(mask, dim=1, stable=True).indices  # pads (0) first, then the real tokens in order
    return input_ids.gather(1, order), mask.gather(1, order)


def prefill_inputs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """``[P ; E + Δ]`` and its mask for a left-padded causal batch. DePT's slot is the token's index among its
    example's real tokens (what right padding gives in training), read from the mask."""
    if model.method != "dept":
        return model.prompted_inputs(input_ids, attention_mask)
    from adept.methods import positions_from_mask

    longest = int(attention_mask.sum(1).max())
    if longest > model.max_length:
        raise ValueError(f"Input of {longest} tokens is longer than DePT's max_length {model.max_length}: its position "
                         f"table has no row for the extra positions. Truncate inputs to {model.max_length} tokens.")
    e = model.embed_table()(input_ids)
    x = e + model.offsets(positions_from_mask(attention_mask)).to(e.dtype)
    b = input_ids.shape[0]
    ones = torch.ones(b, model.num_virtual_tokens, dtype=attention_mask.dtype, device=attention_mask.device)
    prompt = model.prompt.unsqueeze(0).expand(b, -1, -1).to(e.dtype)
    return torch.cat([prompt, x], 1), torch.cat([ones, attention_mask], 1)


@contextlib.contextmanager
def offsets_on_fed_back_tokens(model):
    """While active, the causal backbone embeds token ids it is fed (the generated ones) as ``E + Δ``."""
    if model.offsets is None:  # PT: plain embeddings
        yield
        return
    table, prompt_len, s = model.embed_table(), model.num_virtual_tokens, model.max_length

    def embed(ids: torch.Tensor, position_ids: torch.Tensor | None) -> torch.Tensor:
        e = table(ids)
        if model.method == "adept":
            return e + model.offsets(e).to(e.dtype)
        if position_ids is None:
            raise RuntimeError("DePT generation needs the position ids transformers passes to the backbone.")
        # clamp: only rows that have already hit the table's end (and whose tokens are dropped) go past it
        return e + model.offsets((position_ids - prompt_len).clamp(0, s - 1)).to(e.dtype)

    def pre_hook(module, args, kwargs):
        ids = kwargs.get("input_ids")
        positional = ids is None and len(args) > 0 and torch.is_tensor(args[0])
        if positional:
            ids = args[0]
        if ids is None:  # the prefill, already embedded
            return None
        kwargs = {**kwargs, "inputs_embeds": embed(ids, kwargs.get("position_ids"))}
        if positional:
            args = (None, *args[1:])
        else:
            kwargs["input_ids"] = None
        return args, kwargs

    handle = model.model.base_model.register_forward_pre_hook(pre_hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def resolve_config(model, generation_config, kwargs: dict):
    """``(GenerationConfig, model kwargs)``: the backbone's generation config (or the one given) updated with
    ``kwargs``; ``max_new_tokens`` 20 when no length was asked for; pad = the tokenizer's pad token."""
    base = generation_config if generation_config is not None else model.model.generation_config
    gc = copy.deepcopy(base)
    asked_length = generation_config is not None or "max_new_tokens" in kwargs or "max_length" in kwargs
    rest = gc.update(**kwargs)
    if not asked_length or (gc.max_new_tokens is None and gc.max_length is None):
        gc.max_new_tokens = DEFAULT_MAX_NEW_TOKENS
    if gc.pad_token_id is None:
        tok = model.backbone.tokenizer
        gc.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rest = model.backbone_kwargs(rest)
    if "token_type_ids" in rest:
        raise ValueError("token_type_ids other than zeros are not supported in generation: leave them out.")
    return gc, rest


@torch.no_grad()
def generate(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None = None,
             generation_config=None, **kwargs):
    """transformers' ``generate`` for a prompt-tuned model; ``generation_config`` and ``kwargs`` as there
    (``max_new_tokens`` (default 20), ``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``num_beams``,
    ``num_return_sequences``, ``eos_token_id``, ``pad_token_id``, ``return_dict_in_generate``, ...).

    Returns what transformers returns: causal, ``[left-padded input_ids ; new tokens]`` (``out[:, n:]`` are the
    new tokens, ``n = input_ids.shape[1]``); seq2seq, the decoder sequences. Raises ``ValueError`` for encoder
    backbones, for DePT past its table (see the module docstring) and for DePT with left padding unless greedy.
    """
    if model.kind == "encoder":
        raise ValueError("Encoder backbones classify with their head; they cannot generate text. Use "
                         "model(input_ids, attention_mask).logits or model.score_labels(...).")
    if input_ids is None:
        raise ValueError("generate needs input_ids (the prompt and offsets are built from token ids).")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    gc, rest = resolve_config(model, generation_config, kwargs)
    if model.kind == "seq2seq":
        x, mask = model.prompted_inputs(input_ids, attention_mask)
        return model.model.generate(inputs_embeds=x, attention_mask=mask, generation_config=gc, **rest)
    ids, mask = left_pad(input_ids, attention_mask)
    limit = gc.max_new_tokens
    if limit is None:  # transformers' max_length counts every position read, the virtual tokens too
        limit = gc.max_length - model.num_virtual_tokens - ids.shape[1]
    if model.method == "dept":
        longest = int(mask.sum(1).max())
        if longest + limit - 1 > model.max_length:
            raise ValueError(
                f"DePT's position table has {model.max_length} rows (max_length): the longest input ({longest} tokens) "
                f"plus {limit} new tokens would need offsets for slots up to {longest + limit - 2}. Ask for at most "
                f"{max(model.max_length - longest + 1, 0)} new tokens, build the method with a larger max_length, or "
                "call model.generate_new_tokens, which stops each example at the table's end.")
        if model.padding_side == "left":
            return _dept_left_greedy(model, ids, mask, gc, limit)
    out = _causal_generate(model, ids, mask, gc, rest)
    seqs = out.sequences if gc.return_dict_in_generate else out
    full = torch.cat([ids.repeat_interleave(seqs.shape[0] // ids.shape[0], 0), seqs], 1)
    if gc.return_dict_in_generate:
        out.sequences = full
        return out
    return full


def _causal_generate(model, ids: torch.Tensor, mask: torch.Tensor, gc, rest: dict):
    """The new tokens of a left-padded causal batch (or transformers' output object holding them)."""
    x, full_mask = prefill_inputs(model, ids, mask)
    with offsets_on_fed_back_tokens(model):
        return model.model.generate(inputs_embeds=x, attention_mask=full_mask, generation_config=gc, **rest)


def _dept_left_greedy(model, ids: torch.Tensor, mask: torch.Tensor, gc, limit: int) -> torch.Tensor:
    if gc.do_sample or (gc.num_beams or 1) != 1 or (gc.num_return_sequences or 1) != 1 or gc.return_dict_in_generate:
        raise ValueError(
            "DePT with left padding gives each token the slot s - n + j, so every offset changes as the output "
            "grows: only uncached greedy decoding is exact (no sampling, beams, extra sequences or dict output). "
            "Build the method with padding_side='right' for cached generation with every option.")
    eos = gc.eos_token_id
    stops = set(eos if isinstance(eos, list | tuple) else [] if eos is None else [int(eos)])
    new = greedy_uncached(model, ids, mask, limit, stops, keep_stop=True)
    width = max((len(t) for t in new), default=0)
    pad = torch.full((ids.shape[0], width), gc.pad_token_id, dtype=ids.dtype, device=ids.device)
    for i, toks in enumerate(new):
        pad[i, :len(toks)] = torch.tensor(toks, dtype=ids.dtype)
    return torch.cat([ids, pad], 1)


@torch.no_grad()
def greedy_uncached(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int,
                    stops: set[int], *, keep_stop: bool = False) -> list[list[int]]:
    """Greedy decoding one example at a time, re-running the whole sequence (prompt, input, tokens so far)
    for every new token: no cache. New tokens per example, ended by the first stop token (kept with
    ``keep_stop``); DePT stops where its next token would need a slot past its table."""
    results = []
    for ids, mask in zip(input_ids, attention_mask):
        seq = ids[mask.bool()].unsqueeze(0)
        new: list[int] = []
        for _ in range(max_new_tokens):
            if model.method == "dept" and seq.shape[1] > model.max_length:
                break
            h = model.hidden_states(seq, torch.ones_like(seq))
            token = int(model.lm_head()(h[:, -1]).argmax(-1))
            if token in stops:
                if keep_stop:
                    new.append(token)
                break
            new.append(token)
            seq = torch.cat([seq, torch.tensor([[token]], device=seq.device)], 1)
        results.append(new)
    return results


@torch.no_grad()
def generate_new_tokens(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> list[list[int]]:
    """Greedy new tokens per example, cut before the first stop token (:func:`stop_ids`): what evaluation
    decodes for regression and QA. Batched with the KV cache; DePT stops each example where its next token
    would need a slot past its table (``s - n_i + 1`` tokens at most), as :func:`greedy_uncached` does."""
    from transformers import GenerationConfig

    if model.kind == "encoder" or attention_mask is None:
        return generate_new_tokens(model, input_ids, torch.ones_like(input_ids), max_new_tokens) \
            if model.kind != "encoder" else generate(model, input_ids)  # the latter raises the encoder error
    stops = stop_ids(model)
    if model.kind == "seq2seq":
        out = generate(model, input_ids, attention_mask, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
        return [_strip_decoder_output(model, row.tolist(), stops) for row in out]
    if model.method == "dept" and model.padding_side == "left":
        return greedy_uncached(model, input_ids, attention_mask, max_new_tokens, stops)
    ids, mask = left_pad(input_ids, attention_mask)
    limits = [max_new_tokens] * ids.shape[0]
    if model.method == "dept":
        limits = [max(0, min(max_new_tokens, model.max_length - int(n) + 1)) for n in mask.sum(1)]
    if max(limits) == 0:
        return [[] for _ in limits]
    gc = GenerationConfig(max_new_tokens=max(limits), do_sample=False, num_beams=1, eos_token_id=sorted(stops),
                          pad_token_id=model.backbone.tokenizer.pad_token_id)
    new = _causal_generate(model, ids, mask, gc, {})
    results = []
    for row, limit in zip(new.tolist(), limits):
        toks = []
        for t in row[:limit]:
            if t in stops:
                break
            toks.append(t)
        results.append(toks)
    return results


def _strip_decoder_output(model, ids: list[int], stops: set[int]) -> list[int]:
    """A seq2seq decoder row without its start token, up to the first stop token."""
    start, out = model.model.config.decoder_start_token_id, []
    for i, t in enumerate(ids):
        if i == 0 and t == start:
            continue
        if t in stops:
            break
        out.append(t)
    return out
