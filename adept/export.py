"""Export a run's adapter in the formats other tools read (``python -m adept export RUN_ID --format F``).

* ``peft``: a PEFT ``PromptTuning`` adapter (``adapter_config.json`` with ``peft_type`` PROMPT_TUNING and
  ``adapter_model.safetensors``) that ``peft.PeftModel.from_pretrained(base, DIR)`` loads with our logits.

  - PT: the soft prompt on the unchanged backbone (``base_model/`` holds it only with ``with_base``).
  - ADePT: ``E' = E + f(E)`` folded into the input table (:meth:`PromptTunedModel.fold`, untied from the output
    head / decoder) and saved as ``base_model/`` (``save_pretrained`` + tokenizer), the prompt on top.
  - DePT on a learned absolute position table (GPT-2, BERT): ``α A B`` folded into rows ``l .. l + s - 1``, the
    same way; on rotary / relative backbones (Llama, SmolLM2, T5) nothing can hold a per-position offset and
    the export raises ``ValueError`` saying so.
  - Encoder backbones: PEFT's ``FEATURE_EXTRACTION`` adapter reproduces the hidden states; our classification
    head (mean of the input tokens' states, then a linear layer) has no PEFT equivalent and is written next to
    it as ``classification_head.safetensors`` (:func:`head_logits` applies it).
  - Seq2seq: the prompt goes on the encoder only (``num_transformer_submodules=1``).

  The export is written to a temporary folder, loaded back with PEFT and compared with our logits
  (``max_abs_diff`` in the report) before it is moved into place: a failed check leaves nothing behind.
* ``adept``: our own adapter folder (:meth:`PromptTunedModel.save_pretrained`).
* ``folded``: :func:`adept.analysis.fold.fold_run` with the full folded backbone.

What can and cannot be exported, and how to load each: docs/ecosystem-hf.md.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path

import torch

FORMATS = ("peft", "adept", "folded")
BASE_DIR = "base_model"
HEAD_FILE = "classification_head.safetensors"
REPORT_FILE = "export_report.json"
PEFT_TASK = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "encoder": "FEATURE_EXTRACTION"}
CHECK_TOLERANCE = 1e-4


def _auto_class(kind: str):
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return {"causal": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM, "encoder": AutoModel}[kind]


def hf_source(backbone_name: str) -> str | None:
    """Where transformers can load this backbone from: the converted SmolLM2 / MiniLM folders for registry
    names, the name itself for hub ids and folders; None for the tiny test models (built from configs)."""
    from adept.backbones import ensure_smollm2_cached, minilm_dir

    if backbone_name.startswith("tiny-"):
        return None
    if backbone_name == "smollm2-135m":
        return str(ensure_smollm2_cached(verbose=False))
    if backbone_name == "minilm-l6":
        return str(minilm_dir())
    return backbone_name


def peft_base(model) -> torch.nn.Module | None:
    """The transformers model the PEFT adapter sits on: None for PT (the backbone as it is), otherwise a copy
    with the offsets folded into its tables. Raises ``ValueError`` where the offsets cannot fold."""
    if model.method == "pt":
        return None
    try:
        folded = model.fold()
    except ValueError as exc:
        raise ValueError(
            f"DePT on {model.backbone.name} cannot be exported to PEFT: {exc} PEFT's PromptTuning has no per-position "
            "offsets. Export it with --format adept (our adapter) instead.") from exc
    base = folded.model
    if model.kind == "seq2seq":
        # PEFT embeds input_ids with the first vocabulary-sized table it finds, T5's `shared`: make that the
        # folded encoder table. The decoder gets its own copy of the original table, so that saving (which keeps
        # one of several tensors sharing memory) writes it and loading cannot re-tie it to `shared`.
        decoder = base.get_decoder()
        original = decoder.embed_tokens
        decoder.embed_tokens = torch.nn.Embedding.from_pretrained(original.weight.detach().clone(), freeze=True,
                                                                 padding_idx=original.padding_idx)
        base.shared = base.get_encoder().embed_tokens
    return base


def export_peft(source, out_dir: str | Path, *, with_base: bool = False, overwrite: bool = False,
                check: bool = True) -> dict:
    """Write ``source`` (a run id or a :class:`PromptTunedModel`) as a PEFT PromptTuning adapter in ``out_dir``
    (see the module docstring for each method). ``with_base``: also save PT's unchanged backbone as
    ``base_model/`` (ADePT and DePT always have one). ``check``: load the export back with PEFT and compare
    its logits with ours on a small right-padded batch, raising ``RuntimeError`` above 1e-4.

    Returns the report (also ``export_report.json``): ``{"format": "peft", "method", "backbone", "out_dir",
    "task_type", "num_virtual_tokens", "files", "base_model": "base_model" | hub id / folder | None,
    "classification_head": file | None, "max_abs_diff", "load": python snippet}``.
    """
    from peft import PromptTuningConfig
    from safetensors.torch import save_file

    model = _model(source)
    out = _fresh_target(out_dir, overwrite)
    base = peft_base(model)
    if base is None and with_base:
        base = model.model
    kind = model.kind
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files = ["adapter_config.json", "adapter_model.safetensors", "README.md", REPORT_FILE]
        if base is not None:
            base.save_pretrained(tmp / BASE_DIR)
            model.backbone.tokenizer.save_pretrained(tmp / BASE_DIR)
            files.append(BASE_DIR + "/")
        source_name = BASE_DIR if base is not None else hf_source(model.backbone.name)
        PromptTuningConfig(task_type=PEFT_TASK[kind], num_virtual_tokens=model.num_virtual_tokens,
                           token_dim=model.backbone.d_model, num_transformer_submodules=1, inference_mode=True,
                           base_model_name_or_path=source_name).save_pretrained(str(tmp))
        save_file({"prompt_embeddings": model.prompt.detach().float().cpu().contiguous()},
                  str(tmp / "adapter_model.safetensors"), metadata={"format": "pt"})
        if model.head is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()},
                      str(tmp / HEAD_FILE))
            files.append(HEAD_FILE)
        head = HEAD_FILE if model.head is not None else None
        report = {"format": "peft", "method": model.method, "backbone": model.backbone.name, "out_dir": str(out),
                  "task_type": PEFT_TASK[kind], "num_virtual_tokens": model.num_virtual_tokens, "files": files,
                  "base_model": source_name, "classification_head": head, "max_abs_diff": None,
                  "load": _load_snippet(kind, source_name, head is not None, model.backbone.name)}
        (tmp / "README.md").write_text(_readme(report))
        if check:
            report["max_abs_diff"] = _check(model, tmp, base is None)
            if report["max_abs_diff"] > CHECK_TOLERANCE:
                raise RuntimeError(f"The PEFT export of {model.backbone.name} / {model.method} does not reproduce our "
                                   f"logits (max |diff| = {report['max_abs_diff']:.2e}); nothing was written.")
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2))
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def load_peft_export(out_dir: str | Path, base: torch.nn.Module | None = None):
    """The PEFT model in an export folder, in eval mode: on ``base_model/`` when the folder has one, else on
    ``base`` (PT's unchanged backbone: a transformers model, which PEFT wraps)."""
    from peft import PeftModel

    out = Path(out_dir)
    cfg = json.loads((out / "adapter_config.json").read_text())
    kind = {v: k for k, v in PEFT_TASK.items()}[cfg["task_type"]]
    if (out / BASE_DIR).exists():
        base = _auto_class(kind).from_pretrained(out / BASE_DIR, trust_remote_code=False)
    elif base is None:
        raise ValueError(f"{out} has no {BASE_DIR}/: pass the backbone's transformers model "
                         f"({cfg['base_model_name_or_path'] or 'the one it was trained on'}) as base.")
    return PeftModel.from_pretrained(base, str(out)).eval()


def head_logits(out_dir: str | Path, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor,
                num_virtual_tokens: int) -> torch.Tensor:
    """Our encoder head on PEFT's output: mean of the input tokens' states (prompt positions excluded, pads
    masked), then ``classification_head.safetensors``' linear layer; (b, num_labels)."""
    from safetensors.torch import load_file

    w = load_file(str(Path(out_dir) / HEAD_FILE))
    h = last_hidden_state[:, num_virtual_tokens:]
    m = attention_mask.unsqueeze(-1).to(h.dtype)
    pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    return pooled @ w["weight"].to(pooled).T + w["bias"].to(pooled)


def export_run(run_id: str, fmt: str = "peft", out_dir: str | Path | None = None, *, with_base: bool = False,
               overwrite: bool = False) -> dict:
    """Export a run in ``fmt`` (``peft``, ``adept`` or ``folded``) to ``out_dir`` (default
    ``<ADEPT_HOME>/exports/<run_id>-<fmt>``); the report of :func:`export_peft`, :func:`export_adapter` or
    :func:`adept.analysis.fold.fold_run`. What the dashboard's download buttons call."""
    from adept.tracking import adept_home

    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.")
    out = Path(out_dir) if out_dir else Path(adept_home()) / "exports" / f"{run_id}-{fmt}"
    if fmt == "peft":
        return export_peft(run_id, out, with_base=with_base, overwrite=overwrite)
    if fmt == "adept":
        return export_adapter(run_id, out, overwrite=overwrite)
    from adept.analysis.fold import fold_run

    _fresh_target(out, overwrite)
    return {"format": "folded", **fold_run(run_id, out, full_model=True)}


def export_archive(run_id: str, fmt: str = "peft", work_dir: str | Path | None = None, **options) -> Path:
    """:func:`export_run` into ``work_dir`` (a new temporary folder by default), zipped: the path of
    ``<run_id>-<fmt>.zip`` (for a download button)."""
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="adept-export-"))
    out = work / f"{run_id}-{fmt}"
    export_run(run_id, fmt, out, overwrite=True, **options)
    return Path(shutil.make_archive(str(out), "zip", root_dir=out))


def export_adapter(source, out_dir: str | Path, *, overwrite: bool = False) -> dict:
    """Our adapter format (``adapter.safetensors`` + ``adept_adapter.json``); reload with
    ``PromptTunedModel.from_pretrained(DIR, backbone)``."""
    model = _model(source)
    out = _fresh_target(out_dir, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"format": "adept", "method": model.method, "backbone": model.backbone.name, "out_dir": str(out),
            "files": sorted(p.name for p in out.iterdir()),
            "load": f"adept.PromptTunedModel.from_pretrained({str(out)!r}, {model.backbone.name!r})"}


# ----- helpers ------------------------------------------------------------------------------------------------


def _model(source):
    from adept.methods import PromptTunedModel

    if isinstance(source, PromptTunedModel):
        return source
    from adept.analysis.run import load_run_model

    return load_run_model(str(source))[0]


def _fresh_target(out_dir: str | Path, overwrite: bool) -> Path:
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out} exists and is not empty: choose another --out folder or pass --force.")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished folder into place (one rename), replacing what was there."""
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


@torch.no_grad()
def _check(model, folder: Path, needs_base: bool) -> float:
    """max |PEFT logits - ours| on a right-padded batch of two inputs (real positions only)."""
    was_training = model.training
    model.eval()
    try:
        peft_model = load_peft_export(folder, copy.deepcopy(model.model) if needs_base else None)
        g = torch.Generator().manual_seed(0)
        vocab = model.backbone.vocab_size
        ids = torch.randint(min(1000, vocab // 2), vocab, (2, 7), generator=g)
        mask = torch.ones_like(ids)
        mask[1, 4:] = 0
        ids, mask = ids.to(model.prompt.device), mask.to(model.prompt.device)
        peft_model.to(model.prompt.device)
        if model.kind == "seq2seq":
            dec = torch.full((2, 3), model.model.config.decoder_start_token_id, device=ids.device)
            dec[:, 1:] = ids[:, :2]
            ours = model(ids, mask, decoder_input_ids=dec).logits
            theirs = peft_model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
            return float((ours - theirs).abs().max())
        if model.kind == "encoder":
            h = peft_model(input_ids=ids, attention_mask=mask).last_hidden_state
            theirs = head_logits(folder, h, mask, model.num_virtual_tokens)
            return float((model(ids, mask).logits - theirs).abs().max())
        real = torch.cat([torch.ones(2, model.num_virtual_tokens, dtype=torch.bool, device=ids.device),
                          mask.bool()], 1)
        ours = model(ids, mask).logits[real]
        theirs = peft_model(input_ids=ids, attention_mask=mask).logits[real]
        return float((ours - theirs).abs().max())
    finally:
        model.train(was_training)


def _load_snippet(kind: str, base: str | None, head: bool, backbone: str) -> str:
    auto = _auto_class(kind).__name__
    lines = [f"from transformers import {auto}", "from peft import PeftModel"]
    if base == BASE_DIR:
        lines.append(f"base = {auto}.from_pretrained(DIR + '/{BASE_DIR}')")
    elif base:
        lines.append(f"base = {auto}.from_pretrained({base!r})")
    else:  # a tiny test backbone, built from a config: nothing on disk to point at
        lines += ["import adept", f"base = adept.load_backbone({backbone!r}).model"]
    lines.append("model = PeftModel.from_pretrained(base, DIR).eval()")
    if head:
        lines += ["import adept.export", "logits = adept.export.head_logits(DIR, model(**inputs).last_hidden_state, "
                  "inputs['attention_mask'], model.peft_config['default'].num_virtual_tokens)"]
    return "\n".join(lines)


def _readme(report: dict) -> str:
    notes = {
        "pt": "The soft prompt of a PT run, on the unchanged backbone.",
        "adept": "ADePT's token offsets are folded into the input embedding table of `base_model/` "
                 "(E' = E + f(E), untied from the output head / decoder); the soft prompt sits on top.",
        "dept": "DePT's position offsets are folded into the learned position table of `base_model/` "
                "(rows l .. l + s - 1); inputs must be right padded and at most s tokens long.",
    }
    head = ("\nThe classification head (mean of the input tokens' last hidden states, then a linear layer) has no "
            f"PEFT equivalent: it is `{HEAD_FILE}` (`weight`, `bias`).\n" if report["classification_head"] else "")
    return (f"# ADePT Lab export: {report['method'].upper()} on {report['backbone']}\n\n"
            f"A PEFT PromptTuning adapter ({report['task_type']}, {report['num_virtual_tokens']} virtual tokens). "
            f"{notes[report['method']]}\n{head}\n```python\nDIR = '.'\n{report['load']}\n```\n")


# ----- command line ---------------------------------------------------------------------------------------------


def cli_export(args) -> int:
    """``python -m adept export RUN_ID [--format peft|adept|folded] [--out DIR] [--with-base] [--force]``."""
    report = export_run(args.run_id, args.format, args.out, with_base=args.with_base, overwrite=args.force)
    print(json.dumps(report, indent=2))
    return 0


def register_cli(subparsers) -> None:
    """Add ``export`` to ``python -m adept``'s subparsers (one call from adept/__main__.py)."""
    p = subparsers.add_parser("export", help="a run's adapter as PEFT PromptTuning, our adapter, or the folded model")
    p.add_argument("run_id", help="MLflow run id (finished, or evaluated once)")
    p.add_argument("--format", choices=FORMATS, default="peft",
                   help="peft: adapter_config.json + adapter_model.safetensors for peft.PeftModel (ADePT / DePT with "
                        "the folded base model); adept: our adapter folder; folded: the folded model (default peft)")
    p.add_argument("--out", help="output folder (default <ADEPT_HOME>/exports/<run_id>-<format>)")
    p.add_argument("--with-base", action="store_true", help="peft, PT: also save the unchanged backbone in base_model/")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(func=cli_export)
