"""Adapter files: what :meth:`PromptTunedModel.save_pretrained` writes and :func:`load_adapter` reads.

A folder holds ``adapter.safetensors`` (soft prompt, offsets, encoder head: every parameter outside the frozen
backbone) and ``adept_adapter.json`` (:meth:`PromptTunedModel.adapter_config`: method, backbone, l, r, s, ...).
Runs saved before the rename wrote the config as ``adapter_config.json``, the name PEFT uses for its own
format (``peft.PeftConfig.from_pretrained`` fails on ours); those folders still load. A PEFT adapter is
told apart by its ``peft_type`` key and refused with how to load it instead.
"""

from __future__ import annotations

import json
from pathlib import Path

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adept_adapter.json"
LEGACY_ADAPTER_CONFIG = "adapter_config.json"


def save_adapter(model, directory: str | Path) -> Path:
    """Write ``model``'s adapter state and config to ``directory`` (created); the backbone is not saved."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(model.adapter_state(), str(directory / ADAPTER_WEIGHTS))
    (directory / ADAPTER_CONFIG).write_text(json.dumps(model.adapter_config(), indent=2))
    return directory


def adapter_config_path(directory: str | Path) -> Path | None:
    """Our adapter config in ``directory``: ``adept_adapter.json``, or a run saved earlier's
    ``adapter_config.json`` when it is ours (not PEFT's); None when neither."""
    directory = Path(directory)
    if (directory / ADAPTER_CONFIG).exists():
        return directory / ADAPTER_CONFIG
    legacy = directory / LEGACY_ADAPTER_CONFIG
    if legacy.exists():
        cfg = read_adapter_config(legacy, check=False)
        if "peft_type" in cfg:
            raise ValueError(f"{directory} holds a PEFT adapter ({cfg['peft_type']}), not an ADePT Lab one: load it "
                             "with peft.PeftModel.from_pretrained(base_model, folder).")
        return legacy
    return None


# What load_adapter needs from a config, with its type: a broken file is one message, not a KeyError.
_ADAPTER_KEYS = {"method": str, "backbone": str, "kind": str, "d_model": int, "vocab_size": int,
                 "num_virtual_tokens": int, "rank": int, "max_length": int}


def read_adapter_config(path: Path, check: bool = True) -> dict:
    """An adapter config file parsed (and with ``check``, its keys, types and sizes checked); ``ValueError``
    naming the file and what to do when it is not."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}): save the adapter again (re-run or fold the run).") from exc
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} holds a {type(cfg).__name__}, not an adapter config: save the adapter again.")
    if not check:
        return cfg
    for key, typ in _ADAPTER_KEYS.items():
        if not isinstance(cfg.get(key), typ) or isinstance(cfg.get(key), bool):
            raise ValueError(f"{path}: {key!r} is missing or not {typ.__name__} ({cfg.get(key)!r}): the adapter "
                             "config is broken — save the adapter again (re-run or fold the run).")
    sizes = (cfg["num_virtual_tokens"], cfg["rank"], cfg["max_length"])
    if min(sizes) < 0 or cfg["max_length"] < 1 or max(sizes) > 2**20:
        raise ValueError(f"{path}: sizes l={cfg['num_virtual_tokens']}, r={cfg['rank']}, s={cfg['max_length']} are "
                         "impossible: the adapter config is broken — save the adapter again.")
    return cfg


def load_adapter(directory: str | Path, backbone=None):
    """Rebuild a saved adapter on ``backbone`` (None: the one named in its config); refuses a backbone it was
    not trained on."""
    from safetensors.torch import load_file

    from adept.methods import PromptTunedModel

    directory = Path(directory)
    cfg_path = adapter_config_path(directory)
    if cfg_path is None or not (directory / ADAPTER_WEIGHTS).is_file():
        raise ValueError(f"{directory} is not an adapter folder: it needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS}.")
    cfg = read_adapter_config(cfg_path)
    if backbone is None or isinstance(backbone, str):
        from adept.backbones import load_backbone

        backbone = load_backbone(backbone or cfg["backbone"])
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
