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
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from adept import budget as budget_mod
from adept.backbones import Backbone, input_embedding

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
DEPT_LORA_ALPHA = 8.0
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "identity": lambda h: h}


def _kaiming_(weight: torch.Tensor) -> torch.Tensor:
    """``kaiming_uniform_(a=sqrt(5))`` as the official code: for a (rows, r) tensor PyTorch takes
    fan_in = r, so entries are U(-1/sqrt(r), 1/sqrt(r))."""
    return nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


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
        h = e @ self.A
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
        a = math.sqrt(3.0) * self.embed_table().weight.std().item()
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
        """``Δ`` for embedded tokens ``e`` (b, n, d)."""
        if self.offsets is None:
            return torch.zeros_like(e)
        if self.method == "dept":
            mask = attention_mask if attention_mask is not None else torch.ones(e.shape[:2], device=e.device)
            return self.offsets(self.dept_positions(mask))
        return self.offsets(e)

    def embedding_offsets(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """What is added to each input token embedding, (b, n, d): zeros for PT."""
        return self.offsets_for(self.embed_table()(input_ids), attention_mask)

    def input_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``E + Δ`` for the input tokens (no prompt), (b, n, d)."""
        e = self.embed_table()(input_ids)
        return e + self.offsets_for(e, attention_mask)

    def prompted_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """``[P ; E + Δ]`` and its attention mask (prompt positions always attended)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        b = input_ids.shape[0]
        x = torch.cat([self.prompt.unsqueeze(0).expand(b, -1, -1), self.input_embeddings(input_ids, attention_mask)], 1)
        ones = torch.ones(b, self.num_virtual_tokens, dtype=attention_mask.dtype, device=attention_mask.device)
        return x, torch.cat([ones, attention_mask], 1)

    # ----- forward passes -----------------------------------------------------------------------
    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last hidden states of a causal or encoder backbone over ``[P ; x]``, (b, l + n, d)."""
        x, mask = self.prompted_inputs(input_ids, attention_mask)
        kwargs = {}
        if self.kind == "causal":
            # Real tokens get consecutive positions whichever side the padding is on.
            kwargs["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
        return self.model.base_model(inputs_embeds=x, attention_mask=mask, **kwargs).last_hidden_state

    def lm_head(self) -> nn.Module:
        return self.model.get_output_embeddings()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Full output logits: causal (b, l + n, V) over prompt and input; seq2seq (b, t, V) for ``labels``
        (decoder side); encoder (b, num_labels) from mean-pooled input states."""
        if self.kind == "seq2seq":
            x, mask = self.prompted_inputs(input_ids, attention_mask)
            return self.model(inputs_embeds=x, attention_mask=mask, labels=labels).logits
        h = self.hidden_states(input_ids, attention_mask)
        if self.kind == "causal":
            return self.lm_head()(h)
        return self.head(self._pool(h, attention_mask, input_ids))

    def _pool(self, h: torch.Tensor, attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.Tensor:
        """Mean of the input tokens' final states (prompt excluded), as MiniLM's sentence pooling."""
        h = h[:, self.num_virtual_tokens:]
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
            return self.model(inputs_embeds=x, attention_mask=mask, labels=labels).loss
        h = self.hidden_states(input_ids, attention_mask)
        if self.kind == "encoder":
            out = self.head(self._pool(h, attention_mask, input_ids))
            if out.shape[-1] == 1:
                return F.mse_loss(out.squeeze(-1), labels.float())
            return F.cross_entropy(out, labels)
        target = labels[:, 1:]
        keep = target != -100
        states = h[:, self.num_virtual_tokens: -1][keep]  # the state at t predicts token t + 1
        return F.cross_entropy(self.lm_head()(states), target[keep])

    def score_labels(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     label_token_ids: list[int] | torch.Tensor | None = None) -> torch.Tensor:
        """Rank classification, (b, k): log-probability of each label word's first token as the next token
        (causal: after the last real input token; seq2seq: first decoder step). Encoder: head logits."""
        if self.kind == "encoder":
            return self.forward(input_ids, attention_mask)
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
        return logits.log_softmax(-1)[:, ids]

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 max_new_tokens: int = 20) -> list[list[int]]:
        """Greedy decoding of new tokens per example. Generated tokens get their offsets too (causal),
        so decoding matches training, where the target tokens were embedded with offsets."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if self.kind == "encoder":
            raise ValueError("Encoder backbones classify with their head; they cannot generate text.")
        if self.kind == "seq2seq":
            x, mask = self.prompted_inputs(input_ids, attention_mask)
            out = self.model.generate(inputs_embeds=x, attention_mask=mask, max_new_tokens=max_new_tokens,
                                      do_sample=False, num_beams=1)
            return [self._strip(row.tolist()) for row in out]
        results = []
        for ids, mask in zip(input_ids, attention_mask):
            seq = ids[mask.bool()].unsqueeze(0)
            new: list[int] = []
            for _ in range(max_new_tokens):
                if self.method == "dept" and seq.shape[1] > self.max_length:
                    break
                h = self.hidden_states(seq, torch.ones_like(seq))
                token = int(self.lm_head()(h[:, -1]).argmax(-1))
                if token in self._stop_ids():
                    break
                new.append(token)
                seq = torch.cat([seq, torch.tensor([[token]], device=seq.device)], 1)
            results.append(new)
        return results

    def _stop_ids(self) -> set[int]:
        tok = self.backbone.tokenizer
        return {i for i in (tok.eos_token_id, tok.pad_token_id, getattr(tok, "sep_token_id", None)) if i is not None}

    def _strip(self, ids: list[int]) -> list[int]:
        stop, start = self._stop_ids(), self.model.config.decoder_start_token_id
        out = []
        for i, t in enumerate(ids):
            if i == 0 and t == start:
                continue
            if t in stop:
                break
            out.append(t)
        return out

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
                folded[start:start + 8192] = rows + self.offsets(rows)
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

    # ----- save / load --------------------------------------------------------------------------
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

    def save(self, directory: str | Path) -> Path:
        """Write ``adapter.safetensors`` (prompt, offsets, head) and ``adapter_config.json``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self.adapter_state(), str(directory / ADAPTER_WEIGHTS))
        (directory / ADAPTER_CONFIG).write_text(json.dumps(self.adapter_config(), indent=2))
        return directory


_ADAPTER_KEYS = {"method": str, "backbone": str, "kind": str, "d_model": int, "vocab_size": int,
                 "num_virtual_tokens": int, "rank": int, "max_length": int}


def _read_adapter_config(path: Path) -> dict:
    """``adapter_config.json`` parsed and checked (the keys and types :func:`load_adapter` needs)."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}): save the adapter again (re-run or fold the run).") from exc
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} holds a {type(cfg).__name__}, not an adapter config: save the adapter again.")
    for key, typ in _ADAPTER_KEYS.items():
        if not isinstance(cfg.get(key), typ) or isinstance(cfg.get(key), bool):
            raise ValueError(f"{path}: {key!r} is missing or not {typ.__name__} ({cfg.get(key)!r}): the adapter "
                             "config is broken — save the adapter again (re-run or fold the run).")
    sizes = (cfg["num_virtual_tokens"], cfg["rank"], cfg["max_length"])
    if min(sizes) < 0 or cfg["max_length"] < 1 or max(sizes) > 2**20:
        raise ValueError(f"{path}: sizes l={cfg['num_virtual_tokens']}, r={cfg['rank']}, s={cfg['max_length']} are "
                         "impossible: the adapter config is broken — save the adapter again.")
    return cfg


def load_adapter(directory: str | Path, backbone: Backbone) -> PromptTunedModel:
    """Rebuild a saved adapter on ``backbone``; refuses a backbone it was not trained on."""
    from safetensors.torch import load_file

    directory = Path(directory)
    if not (directory / ADAPTER_CONFIG).is_file() or not (directory / ADAPTER_WEIGHTS).is_file():
        raise ValueError(f"{directory} is not an adapter folder: it needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS}.")
    cfg = _read_adapter_config(directory / ADAPTER_CONFIG)
    vocab = backbone.vocab_size
    if cfg["d_model"] != backbone.d_model or cfg["vocab_size"] != vocab or cfg["kind"] != backbone.kind:
        raise ValueError(
            f"Adapter in {directory} was trained on {cfg['backbone']!r} "
            f"(d={cfg['d_model']}, vocab={cfg['vocab_size']}, "
            f"{cfg['kind']}), but the backbone given is {backbone.name!r} (d={backbone.d_model}, vocab={vocab}, "
            f"{backbone.kind}): load it on the backbone it was trained on."
        )
    if cfg["backbone"] != backbone.name:
        raise ValueError(
            f"Adapter in {directory} was trained on {cfg['backbone']!r}, not {backbone.name!r}: load that backbone."
        )
    model = PromptTunedModel(
        backbone, cfg["method"], cfg["num_virtual_tokens"], cfg["rank"], cfg["max_length"],
        num_labels=cfg.get("num_labels"), padding_side=cfg.get("padding_side"), depth=cfg.get("depth", 1),
        activation=cfg.get("activation", "relu"), bias=cfg.get("bias", True), dropout=cfg.get("dropout", 0.1),
    )
    try:
        weights = load_file(str(directory / ADAPTER_WEIGHTS))
    except Exception as exc:  # safetensors' own error type: a truncated, empty or foreign file
        raise ValueError(f"{directory / ADAPTER_WEIGHTS} is damaged or not a safetensors file "
                         f"({str(exc).splitlines()[0][:160]}): save it again (re-run or fold the run).") from exc
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise ValueError(f"Adapter weights in {directory} do not fit its config: {str(exc).splitlines()[-1][:200]}"
                         ) from exc
    missing = [k for k in missing if not k.startswith("model.")]
    if missing or unexpected:
        raise ValueError(f"Adapter weights in {directory} do not match its config: missing {missing}, "
                         f"unexpected {unexpected}.")
    model.folded_from = cfg.get("folded_from")
    return model


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
