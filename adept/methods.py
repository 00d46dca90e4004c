"""PT, DePT and ADePT as torch modules around a frozen backbone.

Notation: ``e`` is a frozen input token embedding (row of ``E``), ``d`` the model width, ``l`` the
soft-prompt length, ``r`` the rank, ``s`` the maximum input length. The model reads ``[P ; E + Δ]``:

* PT:    ``Δ = 0``; ``P`` has ``l`` rows.
* DePT:  ``Δ_j = α (A B)_j`` for position ``j`` of the input padded to ``s`` (``A: s x r`` Kaiming-
  uniform, ``B: r x d`` zeros, ``α = 8 / sqrt(r)`` as in DePT's code). Offsets depend only on position.
* ADePT: ``Δ(e) = ReLU(Dropout_0.1(e A + a)) B + b`` (``A: d x r`` Kaiming-uniform; ``B``, ``a``, ``b``
  zeros). Offsets depend only on the token's own embedding, so after training they fold into the
  vocabulary table, ``E' = E + Δ(E)`` (:meth:`PromptTunedModel.fold`).

The backbone never trains. Encoder backbones get a trainable classification head, counted apart.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from adept import budget as budget_mod
from adept.adapter_files import ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapter_config_path, load_adapter, save_adapter
from adept.backbones import Backbone, input_embedding

__all__ = ["ADAPTER_CONFIG", "ADAPTER_WEIGHTS", "PromptTunedModel", "adapter_config_path", "build_method",
           "load_adapter"]
DEPT_LORA_ALPHA = 8.0
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "identity": lambda h: h}


def _kaiming_(weight: torch.Tensor) -> torch.Tensor:
    """``kaiming_uniform_(a=sqrt(5))`` as the official code: for a (rows, r) tensor PyTorch takes
    fan_in = r, so entries are U(-1/sqrt(r), 1/sqrt(r))."""
    return nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


def positions_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Position ids from an attention mask: real tokens get consecutive positions whichever side the padding
    is on (pads clamped to 0; they are masked out)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def _mean_or_sum(logits: torch.Tensor, target: torch.Tensor, num_items=None) -> torch.Tensor:
    """Cross-entropy of ``logits`` (b, t, V) against ``target`` (b, t) where ``target != -100``: the mean, or
    the sum / ``num_items`` when the caller counts the items over accumulated batches (transformers'
    ``num_items_in_batch``)."""
    keep = target != -100
    ce = F.cross_entropy(logits[keep].float(), target[keep], reduction="mean" if num_items is None else "sum")
    return ce if num_items is None else ce / num_items


def _drop_backbone_state(module, state_dict, prefix, local_metadata) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + "model.")]:
        del state_dict[key]


def _backbone_not_missing(module, incompatible) -> None:
    names = {"model." + k for k in module.model.state_dict()}
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys
                                    if not any(k == n or k.endswith("." + n) for n in names)]


class PositionOffsets(nn.Module):
    """DePT's position table ``Δ = α A B`` (``s x d``), ``α = lora_alpha / sqrt(r)``, ``lora_alpha = 8``."""

    def __init__(self, max_length: int, d_model: int, rank: int):
        super().__init__()
        self.A = nn.Parameter(torch.empty(max_length, rank))
        self.B = nn.Parameter(torch.empty(rank, d_model))
        self.scaling = DEPT_LORA_ALPHA / math.sqrt(rank)
        self.initialize_parameters()

    def initialize_parameters(self) -> None:
        _kaiming_(self.A)
        nn.init.zeros_(self.B)  # offsets start at exactly zero

    def table(self) -> torch.Tensor:
        """All ``s`` offset rows, ``α A B`` of shape (s, d)."""
        return self.scaling * (self.A @ self.B)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.table()[positions]


class TokenOffsetFFN(nn.Module):
    """ADePT's token-shared network ``Δ(e) = act(Dropout(e A + a)) B + b``.

    Ablations (defaults are the paper's): ``depth`` hidden layers of width ``r`` (extra ``r x r``
    layers with the same activation), ``activation`` relu / gelu / identity, ``bias`` on or off.
    """

    def __init__(self, d_model: int, rank: int, *, depth: int = 1, activation: str = "relu",
                 bias: bool = True, dropout: float = 0.1):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}: use relu, gelu or identity.")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}.")
        self.activation, self.act = activation, _ACTIVATIONS[activation]
        self.A = nn.Parameter(torch.empty(d_model, rank))
        self.a = nn.Parameter(torch.zeros(rank)) if bias else None
        self.hidden = nn.ParameterList(nn.Parameter(torch.empty(rank, rank)) for _ in range(depth - 1))
        self.hidden_bias = nn.ParameterList(nn.Parameter(torch.zeros(rank)) for _ in range(depth - 1) if bias)
        self.B = nn.Parameter(torch.empty(rank, d_model))
        self.b = nn.Parameter(torch.zeros(d_model)) if bias else None
        self.dropout = nn.Dropout(dropout)
        self.initialize_parameters()

    def initialize_parameters(self) -> None:
        _kaiming_(self.A)
        for w in self.hidden:
            _kaiming_(w)
        nn.init.zeros_(self.B)  # Δ ≡ 0 at step 0
        for p in (self.a, self.b, *self.hidden_bias):
            if p is not None:
                nn.init.zeros_(p)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        h = e.to(self.A.dtype) @ self.A  # a bf16 backbone's embeddings meet float32 master weights
        if self.a is not None:
            h = h + self.a
        h = self.act(self.dropout(h))
        for i, w in enumerate(self.hidden):
            h = h @ w
            if len(self.hidden_bias):
                h = h + self.hidden_bias[i]
            h = self.act(h)
        out = h @ self.B
        return out + self.b if self.b is not None else out


class PromptTunedModel(nn.Module):
    """A frozen backbone reading ``[P ; E + Δ]``; see the module docstring for ``Δ`` per method."""

    def __init__(self, backbone: Backbone, method: str, num_virtual_tokens: int, rank: int, max_length: int,
                 *, num_labels: int | None = None, padding_side: str | None = None, depth: int = 1,
                 activation: str = "relu", bias: bool = True, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        self.model = backbone.model  # registered so .to()/.train()/.eval() reach it; never saved
        self.kind = backbone.kind
        self.method = method
        self.num_virtual_tokens, self.rank, self.max_length = num_virtual_tokens, rank, max_length
        self.padding_side = padding_side or getattr(backbone.tokenizer, "padding_side", "right") or "right"
        self.options = {"depth": depth, "activation": activation, "bias": bias, "dropout": dropout}
        self.folded_from: str | None = None
        d = backbone.d_model
        self.prompt = nn.Parameter(torch.zeros(num_virtual_tokens, d))
        self.init_prompt_random()
        if method == "dept":
            self.offsets = PositionOffsets(max_length, d, rank)
        elif method == "adept":
            self.offsets = TokenOffsetFFN(d, rank, depth=depth, activation=activation, bias=bias, dropout=dropout)
        else:
            self.offsets = None
        self.num_labels = num_labels
        self.head = nn.Linear(d, num_labels) if self.kind == "encoder" else None
        # The state (state_dict, and so torch.save or transformers.Trainer checkpoints) is the adapter alone:
        # the frozen backbone is shared, never saved, and not missing when an adapter state is loaded.
        self.register_state_dict_post_hook(_drop_backbone_state)
        self.register_load_state_dict_post_hook(_backbone_not_missing)

    # ----- parameters ---------------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by learning-rate group: soft prompt, offsets, (encoder) head."""
        return {
            "prompt": [self.prompt] if self.num_virtual_tokens else [],
            "offsets": list(self.offsets.parameters()) if self.offsets is not None else [],
            "head": list(self.head.parameters()) if self.head is not None else [],
        }

    def trainable_parameter_count(self) -> int:
        """Soft prompt + offsets (+ classification head for encoder backbones)."""
        return sum(p.numel() for group in self.parameter_groups().values() for p in group)

    def head_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameter_groups()["head"])

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """What an adapter file holds: every parameter outside the frozen backbone."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items() if not k.startswith("model.")}

    # ----- soft prompt init ---------------------------------------------------------------------
    @torch.no_grad()
    def init_prompt_random(self) -> None:
        """U(-a, a) with a = sqrt(3) std(E): the prompt has the embedding table's own spread."""
        a = math.sqrt(3.0) * self.embed_table().weight.float().std().item()
        self.prompt.uniform_(-a, a)

    @torch.no_grad()
    def init_prompt_from_text(self, text: str) -> None:
        """Like PEFT's TEXT init: the text's token embeddings, tiled or cut to ``l`` rows."""
        ids = self.backbone.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError("The prompt init text tokenizes to nothing: give a non-empty text.")
        if self.num_virtual_tokens == 0:
            return
        reps = math.ceil(self.num_virtual_tokens / len(ids))
        ids = torch.tensor((ids * reps)[: self.num_virtual_tokens], device=self.prompt.device)
        self.prompt.copy_(self.embed_table()(ids))

    # ----- embeddings ---------------------------------------------------------------------------
    def embed_table(self) -> nn.Embedding:
        return input_embedding(self.model, self.kind)

    @property
    def backbone_dtype(self) -> torch.dtype:
        """The frozen backbone's storage type; the trainable tensors stay float32 and meet it at its input."""
        return self.embed_table().weight.dtype

    def dept_positions(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """Row of DePT's table for each slot, as if the batch were padded to exactly ``s`` like DePT's code:
        right padding -> slot j; left padding -> slot j + (s - n), so short inputs' first rows sit on pads."""
        n = attention_mask.shape[1]
        if n > self.max_length:
            raise ValueError(
                f"Input of {n} tokens is longer than DePT's max_length {self.max_length}: its position table has "
                f"no row for the extra positions. Truncate inputs to {self.max_length} tokens (RunConfig.max_length) "
                "or build the method with a larger max_length."
            )
        pos = torch.arange(n, device=attention_mask.device)
        if self.padding_side == "left":
            pos = pos + (self.max_length - n)
        return pos.unsqueeze(0).expand(attention_mask.shape[0], -1)

    def offsets_for(self, e: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``Δ`` for embedded tokens ``e`` (b, n, d), in float32 (the offsets' own type)."""
        if self.offsets is None:
            return torch.zeros_like(e, dtype=self.prompt.dtype)
        if self.method == "dept":
            mask = attention_mask if attention_mask is not None else torch.ones(e.shape[:2], device=e.device)
            return self.offsets(self.dept_positions(mask))
        return self.offsets(e)

    def embedding_offsets(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """What is added to each input token embedding, (b, n, d): zeros for PT."""
        return self.offsets_for(self.embed_table()(input_ids), attention_mask)

    def input_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``E + Δ`` for the input tokens (no prompt), (b, n, d), in float32."""
        e = self.embed_table()(input_ids)
        return e.to(self.prompt.dtype) + self.offsets_for(e, attention_mask)

    def prompted_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """``[P ; E + Δ]`` and its attention mask (prompt positions always attended). Built in float32 and cast
        to the backbone's type (a no-op for float32 backbones): gradients flow back through the cast."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        b = input_ids.shape[0]
        x = torch.cat([self.prompt.unsqueeze(0).expand(b, -1, -1), self.input_embeddings(input_ids, attention_mask)], 1)
        x = x.to(self.backbone_dtype)
        ones = torch.ones(b, self.num_virtual_tokens, dtype=attention_mask.dtype, device=attention_mask.device)
        return x, torch.cat([ones, attention_mask], 1)

    # ----- forward passes -----------------------------------------------------------------------
    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last hidden states of a causal or encoder backbone over ``[P ; x]``, (b, l + n, d)."""
        x, mask = self.prompted_inputs(input_ids, attention_mask)
        kwargs = {}
        if self.kind == "causal":
            kwargs["position_ids"] = positions_from_mask(mask)
        return self.model.base_model(inputs_embeds=x, attention_mask=mask, **kwargs).last_hidden_state

    def lm_head(self) -> nn.Module:
        return self.model.get_output_embeddings()

    # Trainer: our loss is a per-batch mean, so it must not pass num_items_in_batch (it divides by the
    # gradient-accumulation steps itself); a caller that passes it anyway gets the summed loss / num_items.
    accepts_loss_kwargs = False

    @property
    def config(self):
        """The backbone's transformers config (what ``Trainer`` and PEFT users read as ``model.config``)."""
        return self.model.config

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, return_dict: bool | None = None, **kwargs):
        """The transformers model contract over ``[P ; E + Δ]``: a ``ModelOutput`` with ``.logits`` and, when
        ``labels`` are given, ``.loss`` (a tuple when ``return_dict=False``); other keyword arguments go to the
        backbone (``decoder_input_ids``, ``output_hidden_states``, ...).

        causal: the backbone's output (``CausalLMOutputWithPast`` for Llama), logits (b, l + n, V) over prompt
        and input (as PEFT's); ``labels`` (b, n) align with ``input_ids`` (-100 = no loss), loss = next-token
        cross-entropy, the same as :meth:`loss`. seq2seq: the backbone's ``Seq2SeqLMOutput`` (decoder logits
        for ``labels`` or ``decoder_input_ids``). encoder: ``SequenceClassifierOutput``, logits (b, num_labels)
        of the head on the mean-pooled input states; loss cross-entropy (MSE for one output).
        """
        from transformers.modeling_outputs import SequenceClassifierOutput

        if input_ids is None:
            raise ValueError("PromptTunedModel needs input_ids: its prompt and offsets are built from the token ids "
                             "(inputs_embeds alone cannot carry DePT's slots or ADePT's table lookups).")
        num_items = kwargs.pop("num_items_in_batch", None)
        kwargs = self.backbone_kwargs(kwargs)
        x, mask = self.prompted_inputs(input_ids, attention_mask)
        if self.kind == "seq2seq":
            if num_items is not None:
                kwargs["num_items_in_batch"] = num_items
            out = self.model(inputs_embeds=x, attention_mask=mask, labels=labels, return_dict=True, **kwargs)
            if labels is not None and out.logits.dtype != torch.float32:
                out.loss = _mean_or_sum(out.logits, labels, num_items)  # float32, not the backbone's type
        elif self.kind == "causal":
            out = self.model(inputs_embeds=x, attention_mask=mask, position_ids=positions_from_mask(mask),
                             return_dict=True, **kwargs)
            if labels is not None:
                if labels.shape != input_ids.shape:
                    raise ValueError(f"labels {tuple(labels.shape)} must align with input_ids {tuple(input_ids.shape)}"
                                     " (-100 where there is no loss); the prompt positions get none.")
                loss = _mean_or_sum(out.logits[:, self.num_virtual_tokens:-1], labels[:, 1:], num_items)
                out = type(out)(loss=loss, **{k: v for k, v in out.items() if k != "loss"})  # loss first in tuples
        else:
            h = self.model.base_model(inputs_embeds=x, attention_mask=mask, return_dict=True, **kwargs)
            logits = self.head(self._pool(h.last_hidden_state, attention_mask, input_ids).to(self.head.weight.dtype))
            loss = None if labels is None else self._head_loss(logits, labels, num_items)
            out = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=h.hidden_states,
                                           attentions=h.attentions)
        return out if return_dict is None or return_dict else out.to_tuple()

    def backbone_kwargs(self, kwargs: dict) -> dict:
        """Keyword arguments for the backbone: ``token_type_ids`` get zeros for the prompt positions (and are
        dropped when all zero, which is what the backbone assumes without them: tokenizers such as MiniLM's
        return them for decoder backbones that do not take them)."""
        kwargs = dict(kwargs)
        types = kwargs.pop("token_type_ids", None)
        if types is not None and bool(types.ne(0).any()):
            zeros = torch.zeros(types.shape[0], self.num_virtual_tokens, dtype=types.dtype, device=types.device)
            kwargs["token_type_ids"] = torch.cat([zeros, types], 1)
        return kwargs

    def _head_loss(self, logits: torch.Tensor, labels: torch.Tensor, num_items=None) -> torch.Tensor:
        if logits.shape[-1] == 1:
            return F.mse_loss(logits.squeeze(-1), labels.float())
        return _mean_or_sum(logits.unsqueeze(1), labels.unsqueeze(1), num_items)

    def _pool(self, h: torch.Tensor, attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.Tensor:
        """Mean of the input tokens' final states (prompt excluded), as MiniLM's sentence pooling."""
        h = h[:, self.num_virtual_tokens:].float()  # pooled in float32 whatever the backbone's type
        mask = (attention_mask if attention_mask is not None else torch.ones_like(input_ids)).unsqueeze(-1).to(h.dtype)
        return (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Training loss.

        causal: next-token cross-entropy on positions where ``labels != -100`` (``labels`` aligned with
        ``input_ids``); the vocabulary head runs only at those positions, not over the whole sequence.
        seq2seq: the decoder's cross-entropy on ``labels`` (target ids, -100 = padding).
        encoder: cross-entropy on class indices (or MSE when the head has one output).
        """
        if self.kind == "seq2seq":
            x, mask = self.prompted_inputs(input_ids, attention_mask)
            out = self.model(inputs_embeds=x, attention_mask=mask, labels=labels)
            return out.loss if out.logits.dtype == torch.float32 else _mean_or_sum(out.logits, labels)
        h = self.hidden_states(input_ids, attention_mask)
        if self.kind == "encoder":
            pooled = self._pool(h, attention_mask, input_ids).to(self.head.weight.dtype)
            return self._head_loss(self.head(pooled), labels)
        target = labels[:, 1:]
        keep = target != -100
        states = h[:, self.num_virtual_tokens: -1][keep]  # the state at t predicts token t + 1
        return F.cross_entropy(self.lm_head()(states).float(), target[keep])  # loss in float32

    def score_labels(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     label_token_ids: list[int] | torch.Tensor | None = None) -> torch.Tensor:
        """Rank classification, (b, k): log-probability of each label word's first token as the next token
        (causal: after the last real input token; seq2seq: first decoder step). Encoder: head logits."""
        if self.kind == "encoder":
            return self.forward(input_ids, attention_mask).logits
        ids = torch.as_tensor(label_token_ids, device=input_ids.device)
        if self.kind == "seq2seq":
            x, mask = self.prompted_inputs(input_ids, attention_mask)
            start = torch.full((input_ids.shape[0], 1), self.model.config.decoder_start_token_id,
                               device=input_ids.device)
            logits = self.model(inputs_embeds=x, attention_mask=mask, decoder_input_ids=start).logits[:, 0]
        else:
            h = self.hidden_states(input_ids, attention_mask)
            n = input_ids.shape[1]
            last = (attention_mask * torch.arange(1, n + 1, device=input_ids.device)).argmax(1)
            rows = h[torch.arange(h.shape[0], device=h.device), self.num_virtual_tokens + last]
            logits = self.lm_head()(rows)
        return logits.float().log_softmax(-1)[:, ids]

    def generate(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                 generation_config=None, **kwargs):
        """transformers' ``generate`` over ``[P ; E + Δ]`` with the KV cache, every generated token fed back with
        its offset; the usual ``GenerationConfig`` arguments. Returns what transformers does (causal: the
        left-padded input ids followed by the new tokens). See :func:`adept.generation.generate`."""
        from adept.generation import generate

        return generate(self, input_ids, attention_mask, generation_config, **kwargs)

    def generate_new_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                            max_new_tokens: int = 20) -> list[list[int]]:
        """Greedy new tokens per example, cut at the first stop token (what evaluation decodes); see
        :func:`adept.generation.generate_new_tokens`."""
        from adept.generation import generate_new_tokens

        return generate_new_tokens(self, input_ids, attention_mask, max_new_tokens)

    # ----- folding ------------------------------------------------------------------------------
    @torch.no_grad()
    def fold(self) -> PromptTunedModel:
        """An inference model with the offsets folded away; equal outputs in eval mode.

        ADePT: a PT model whose input table is ``E' = E + Δ(E)``. Tied tables are untied first: only the
        copy that embeds the prompt-tuned input changes (T5: the encoder's; causal LMs: the input table,
        not the output head). DePT: the offset depends on position, not token, so it folds into a learned
        absolute position table (GPT-2 ``wpe``, BERT ``position_embeddings``) at rows ``l + j``; backbones
        with rotary or relative positions (Llama, T5) have no such table and raise ``ValueError``.
        PT: a copy of itself.
        """
        model = copy.deepcopy(self.model)
        if self.method == "adept":
            self.offsets.eval()
            table = input_embedding(model, self.kind)
            weight = table.weight
            folded = torch.empty_like(weight)
            for start in range(0, weight.shape[0], 8192):
                rows = weight[start:start + 8192]
                folded[start:start + 8192] = (rows.float() + self.offsets(rows)).to(weight.dtype)
            new_table = nn.Embedding.from_pretrained(folded, freeze=True, padding_idx=table.padding_idx)
            if self.kind == "seq2seq":
                model.get_encoder().set_input_embeddings(new_table)
            else:
                model.set_input_embeddings(new_table)
            model.config.tie_word_embeddings = False  # never re-tie: the head keeps the original table
        elif self.method == "dept":
            self._fold_positions(model)
        bb = dataclasses.replace(self.backbone, model=model)
        out = PromptTunedModel(bb, "pt", self.num_virtual_tokens, 0, self.max_length, num_labels=self.num_labels,
                               padding_side=self.padding_side)
        out.prompt.copy_(self.prompt)
        if self.head is not None:
            out.head.load_state_dict(self.head.state_dict())
        out.folded_from = self.method
        return out.to(self.prompt.device).eval()

    def _fold_positions(self, model: nn.Module) -> None:
        table = None
        if hasattr(model, "transformer") and hasattr(model.transformer, "wpe"):
            table = model.transformer.wpe
        elif hasattr(model, "embeddings") and hasattr(model.embeddings, "position_embeddings"):
            table = model.embeddings.position_embeddings
        if table is None:
            raise ValueError(
                f"Cannot fold DePT into {self.backbone.name}: it has no learned absolute position table (rotary or "
                "relative positions), and DePT's offsets depend on position, not token. Keep the unfolded model: "
                "its per-position add costs one (s x d) table lookup."
            )
        if self.padding_side != "right":
            raise ValueError("Folding DePT into position embeddings needs right padding (slot j = position l + j).")
        rows = min(self.max_length, table.weight.shape[0] - self.num_virtual_tokens)
        table.weight[self.num_virtual_tokens:self.num_virtual_tokens + rows] += self.offsets.table()[:rows]

    # ----- save / load (files: adept/adapter_files.py) -------------------------------------------
    def adapter_config(self) -> dict:
        return {
            "format": "adept-lab-adapter/1",
            "method": self.method,
            "backbone": self.backbone.name,
            "kind": self.kind,
            "d_model": self.backbone.d_model,
            "vocab_size": self.embed_table().weight.shape[0],
            "num_virtual_tokens": self.num_virtual_tokens,
            "rank": self.rank,
            "max_length": self.max_length,
            "num_labels": self.num_labels,
            "padding_side": self.padding_side,
            "folded_from": self.folded_from,
            **self.options,
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the adapter (``adapter.safetensors`` + ``adept_adapter.json``); the backbone is not saved."""
        return save_adapter(self, directory)

    save = save_pretrained  # the name used before the Hugging Face one

    @classmethod
    def from_pretrained(cls, directory: str | Path, backbone: Backbone | str | None = None) -> PromptTunedModel:
        """An adapter written by :meth:`save_pretrained` on ``backbone`` (a loaded one, a name, or None: the
        backbone named in its config). Also reads folders saved before the config file was renamed."""
        return load_adapter(directory, backbone)


def build_method(name: str, backbone: Backbone, num_virtual_tokens: int | None = None, rank: int | None = None,
                 max_length: int = 256, *, budget: int | None = None, num_labels: int | None = None,
                 init: str = "random", init_text: str | None = None, padding_side: str | None = None,
                 depth: int = 1, activation: str = "relu", bias: bool = True,
                 dropout: float = 0.1) -> PromptTunedModel:
    """PT / DePT / ADePT (case-insensitive) around ``backbone``.

    Give ``num_virtual_tokens`` and ``rank``, or a ``budget`` of trainable parameters (soft prompt +
    offsets; an encoder's head is extra) from which :func:`adept.budget.solve` picks them. With neither,
    the budget is PT's 100 tokens (``100 d``), the paper's protocol. PT has no offsets and ignores ``rank``.
    """
    method = budget_mod.normalize_method(name)
    if int(max_length) <= 0:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}.")
    if num_virtual_tokens is not None and num_virtual_tokens < 0:
        raise ValueError(f"num_virtual_tokens must be >= 0, got {num_virtual_tokens}.")
    if backbone.kind == "encoder" and not num_labels:
        raise ValueError("Encoder backbones need num_labels (the classification head's output size).")
    if padding_side not in (None, "left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    d = backbone.d_model
    options = {"depth": depth, "bias": bias}
    if method == "pt":
        if budget is not None:
            num_virtual_tokens = budget_mod.solve("pt", d, max_length, budget, num_virtual_tokens)[0]
        num_virtual_tokens = 100 if num_virtual_tokens is None else num_virtual_tokens
        if num_virtual_tokens <= 0:
            raise ValueError("PT needs at least one prompt token: set num_virtual_tokens > 0.")
        rank = 0
    else:
        if rank is not None and rank <= 0:
            raise ValueError(f"rank must be a positive integer for {method.upper()}, got {rank}.")
        if rank is None:
            num_virtual_tokens, rank = budget_mod.solve(
                method, d, max_length, budget if budget is not None else 100 * d, num_virtual_tokens, **options)
        elif num_virtual_tokens is None:
            num_virtual_tokens = 60
        if budget is not None:
            used = budget_mod.param_count(method, d, max_length, num_virtual_tokens, rank, **options)
            if used > budget:
                raise ValueError(f"{method.upper()} with l={num_virtual_tokens}, r={rank} needs {used:,} parameters, "
                                 f"over the budget {budget:,}: lower l or r, or leave r unset to solve it.")
    model = PromptTunedModel(backbone, method, num_virtual_tokens, rank, max_length, num_labels=num_labels,
                             padding_side=padding_side, depth=depth, activation=activation, bias=bias,
                             dropout=dropout)
    if init == "text":
        model.init_prompt_from_text(init_text or "Classify this text:")
    elif init != "random":
        raise ValueError(f"init must be 'random' or 'text', got {init!r}.")
    return model
