"""Inference folding: write a model with its offsets folded away, reload it, check it answers the same.

* ADePT: ``E' = E + f(E)`` over the whole vocabulary table. Exact: in eval mode dropout is off and ``f``
  acts on each row alone, so for every token id ``t`` the folded lookup ``E'[t] = E[t] + f(E[t])`` is what
  the unfolded model computes at run time. Inference is then a PT model with ADePT's (shorter) prompt.
  Tied tables are untied first: only the copy that embeds the prompt-tuned input changes (T5: the encoder's;
  causal LMs: the input table, never the output head).
* DePT: ``Δ_j`` depends on the slot, not the token, so it folds only into a learned absolute position table
  (GPT-2, BERT/MiniLM), rows ``l .. l + s - 1``; on rotary / relative backbones the table ``α A B`` is
  written as it is and nothing folds.
* PT: nothing to fold.

:func:`fold_run` checks the reloaded folded model's outputs against the unfolded one's (``max_abs_diff``).

More on why it is exact and on tied embeddings: docs/analyses.md, section 7.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import torch

from adept.analysis.common import encode_examples
from adept.analysis.run import load_run_model

FOLDED_TABLE = "input_embedding.safetensors"
FOLDED_POSITIONS = "position_embedding.safetensors"
DEPT_TABLE = "dept_position_offsets.safetensors"
FOLD_REPORT = "fold_report.json"


@torch.no_grad()
def _outputs(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What inference reads: causal next-token logits after the last real token (b, V); seq2seq the first
    decoder step's logits (b, V); encoder the head's logits (b, k)."""
    model.eval()
    if model.kind == "encoder":
        return model(ids, mask).logits
    if model.kind == "seq2seq":
        x, m = model.prompted_inputs(ids, mask)
        start = torch.full((ids.shape[0], 1), model.model.config.decoder_start_token_id, device=ids.device)
        return model.model(inputs_embeds=x, attention_mask=m, decoder_input_ids=start).logits[:, 0]
    h = model.hidden_states(ids, mask)
    n = ids.shape[1]
    last = (mask * torch.arange(1, n + 1, device=ids.device)).argmax(1)
    return model.lm_head()(h[torch.arange(h.shape[0], device=h.device), model.num_virtual_tokens + last])


def fold_model(model, out_dir: str | Path, *, full_model: bool = False) -> dict:
    """Fold ``model``'s offsets for inference and write the result to ``out_dir``.

    * ADePT: ``E' = E + f(E)`` over the whole vocabulary -> ``input_embedding.safetensors`` (``weight``, V x d)
      plus ``adapter/`` (a PT adapter: the soft prompt, and the head of encoder backbones).
    * DePT on a backbone with a learned absolute position table (GPT-2, BERT/MiniLM): ``α A B`` added to rows
      ``l..l+s-1`` -> ``position_embedding.safetensors`` (``weight``) plus ``adapter/``. On rotary / relative
      backbones (Llama, SmolLM2, T5) it cannot fold: the precomputed table ``α A B`` (s x d) is written as
      ``dept_position_offsets.safetensors`` and ``folded`` is false.
    * PT: nothing to fold; ``adapter/`` only.

    ``full_model``: also ``model/`` (the folded backbone's ``save_pretrained`` + tokenizer). Returns the
    report ``{"method", "folded": bool, "reason", "files": [...], "out_dir"}`` (no equality check here;
    :func:`fold_run` adds it).
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"method": model.method, "backbone": model.backbone.name, "out_dir": str(out), "files": [],
                    "folded": True, "reason": ""}
    try:
        folded = model.fold()
    except ValueError as exc:  # DePT on a backbone without an absolute position table
        folded = None
        report.update(folded=False, reason=str(exc))
    if model.method == "dept" and folded is None:
        save_file({"table": model.offsets.table().detach().cpu().contiguous()}, str(out / DEPT_TABLE))
        report["files"].append(DEPT_TABLE)
        model.save_pretrained(out / "adapter")
        report["files"].append("adapter/")
        return report
    if model.method == "adept":
        save_file({"weight": folded.embed_table().weight.detach().cpu().contiguous()}, str(out / FOLDED_TABLE))
        report["files"].append(FOLDED_TABLE)
    elif model.method == "dept":
        table = _absolute_position_table(folded.model)
        save_file({"weight": table.weight.detach().cpu().contiguous()}, str(out / FOLDED_POSITIONS))
        report["files"].append(FOLDED_POSITIONS)
    folded.save_pretrained(out / "adapter")
    report["files"].append("adapter/")
    if full_model:
        folded.model.save_pretrained(out / "model")
        folded.backbone.tokenizer.save_pretrained(out / "model")
        report["files"].append("model/")
    return report


def _absolute_position_table(hf_model):
    if hasattr(hf_model, "transformer") and hasattr(hf_model.transformer, "wpe"):
        return hf_model.transformer.wpe
    if hasattr(hf_model, "embeddings") and hasattr(hf_model.embeddings, "position_embeddings"):
        return hf_model.embeddings.position_embeddings
    raise ValueError("This backbone has no learned absolute position table.")


def load_folded(out_dir: str | Path, backbone=None):
    """The inference model written by :func:`fold_model`: the backbone (loaded by name from the adapter
    config unless given; it is copied, never modified) with the folded table(s) swapped in, and the PT adapter.
    A DePT folder that could not fold loads the unfolded DePT adapter."""
    import dataclasses

    from safetensors.torch import load_file
    from torch import nn

    from adept.backbones import input_embedding, load_backbone
    from adept.methods import ADAPTER_CONFIG, adapter_config_path, load_adapter

    out = Path(out_dir)
    cfg_path = adapter_config_path(out / "adapter")
    if cfg_path is None:
        raise ValueError(f"{out} is not a folded model folder: it has no adapter/{ADAPTER_CONFIG}.")
    cfg = json.loads(cfg_path.read_text())
    bb = backbone if backbone is not None else load_backbone(cfg["backbone"])
    if (out / FOLDED_TABLE).exists() or (out / FOLDED_POSITIONS).exists():
        model = copy.deepcopy(bb.model)
        if (out / FOLDED_TABLE).exists():
            weight = load_file(str(out / FOLDED_TABLE))["weight"]
            old = input_embedding(model, bb.kind)
            table = nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=old.padding_idx)
            if bb.kind == "seq2seq":
                model.get_encoder().set_input_embeddings(table)
            else:
                model.set_input_embeddings(table)
            model.config.tie_word_embeddings = False
        if (out / FOLDED_POSITIONS).exists():
            with torch.no_grad():
                _absolute_position_table(model).weight.copy_(load_file(str(out / FOLDED_POSITIONS))["weight"])
        bb = dataclasses.replace(bb, model=model)
    return load_adapter(out / "adapter", bb).eval()


def _check_out_dir(out: Path) -> None:
    """Refuse an output folder that is a file, or a non-empty folder that holds no earlier fold (it would be
    deleted): ``ValueError`` saying what to pick instead; nothing is changed."""
    from adept.adapter_files import ADAPTER_CONFIG, LEGACY_ADAPTER_CONFIG

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: give a new or empty folder (it is created).")
    earlier = (out / FOLD_REPORT).exists() or any((out / "adapter" / n).exists()
                                                  for n in (ADAPTER_CONFIG, LEGACY_ADAPTER_CONFIG))
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise ValueError(f"--out {out} is a folder with other files in it (no earlier fold): give a new or empty "
                         "folder — nothing in it was changed.")


def fold_run(run_id: str, out_dir: str | Path | None = None, *, full_model: bool = False,
             check_examples: int = 16) -> dict:
    """Fold a run's best adapter into ``out_dir`` (default ``<ADEPT_HOME>/folded/<run_id>``), reload it from
    disk and check that its outputs equal the unfolded model's on the first ``check_examples`` validation
    examples. Returns :func:`fold_model`'s report plus ``{"run_id", "max_abs_diff": float | None,
    "predictions_equal": bool | None, "check_examples": N}``, also written to ``<out_dir>/fold_report.json``.
    """
    from adept.tracking import adept_home

    out = Path(out_dir).expanduser() if out_dir else Path(adept_home()) / "folded" / run_id
    _check_out_dir(out)
    model, encoder, task, _ = load_run_model(run_id)
    if out.exists():
        shutil.rmtree(out)  # an earlier fold of a run (checked above): replaced whole
    report = fold_model(model, out, full_model=full_model)
    report["run_id"] = run_id
    report["max_abs_diff"] = None
    report["predictions_equal"] = None
    report["check_examples"] = 0
    if report["folded"] or model.method == "dept":
        reloaded = load_folded(out, model.backbone)
        ids, mask = encode_examples(model, encoder, task.splits["validation"][:check_examples])
        a, b = _outputs(model, ids, mask), _outputs(reloaded, ids, mask)
        report["max_abs_diff"] = float((a - b).abs().max())
        if encoder.label_ids:
            idx = torch.tensor(encoder.label_ids, device=a.device)
            report["predictions_equal"] = bool(torch.equal(a[:, idx].argmax(-1), b[:, idx].argmax(-1)))
        else:
            report["predictions_equal"] = bool(torch.equal(a.argmax(-1), b.argmax(-1)))
        report["check_examples"] = int(ids.shape[0])
    (out / FOLD_REPORT).write_text(json.dumps(report, indent=2))
    return report
