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
        cfg = json.loads(legacy.read_text())
        if "peft_type" in cfg:
            raise ValueError(f"{directory} holds a PEFT adapter ({cfg['peft_type']}), not an ADePT Lab one: load it "
                             "with peft.PeftModel.from_pretrained(base_model, folder).")
        return legacy
    return None


def load_adapter(directory: str | Path, backbone=None):
    """Rebuild a saved adapter on ``backbone`` (None: the one named in its config); refuses a backbone it was
    not trained on."""
    from safetensors.torch import load_file

    from adept.methods import PromptTunedModel

    directory = Path(directory)
    cfg_path = adapter_config_path(directory)
    if cfg_path is None or not (directory / ADAPTER_WEIGHTS).exists():
        raise ValueError(f"{directory} is not an adapter folder: it needs {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS}.")
    cfg = json.loads(cfg_path.read_text())
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
        num_labels=cfg["num_labels"], padding_side=cfg["padding_side"], depth=cfg.get("depth", 1),
        activation=cfg.get("activation", "relu"), bias=cfg.get("bias", True), dropout=cfg.get("dropout", 0.1),
    )
    missing, unexpected = model.load_state_dict(load_file(str(directory / ADAPTER_WEIGHTS)), strict=False)
    missing = [k for k in missing if not k.startswith("model.")]
    if missing or unexpected:
        raise ValueError(f"Adapter weights in {directory} do not match its config: missing {missing}, "
                         f"unexpected {unexpected}.")
    model.folded_from = cfg.get("folded_from")
    return model
