"""RunConfig (validated once, at the edge) -> a tracked training run.

One run: build the method at its budget, train the soft prompt and the offsets with AdamW in two
learning-rate groups (linear warmup then linear decay, gradient clipping), evaluate every
``eval_every`` steps on the validation split, keep the best adapter, stop early if asked, evaluate the
best adapter on the test split, and log everything to MLflow through :mod:`adept.tracking`.
SIGTERM saves a checkpoint and ends the run KILLED; ``resume_from`` continues it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from adept import budget as budget_mod
from adept.backbones import BACKBONE_INFO, backbone_d_model

METHODS = budget_mod.METHODS
CAUSAL_SUFFIX = "\nAnswer:"


@dataclass
class RunConfig:
    """Everything that defines a run. ``budget`` (trainable params of prompt + offsets) solves ``l`` and
    ``r`` with :func:`adept.budget.solve`; otherwise give ``num_virtual_tokens`` and ``rank``."""

    method: str = "adept"
    backbone: str = "smollm2-135m"
    task: str = "rotten-tomatoes"
    budget: int | None = None
    num_virtual_tokens: int | None = None
    rank: int | None = None
    max_length: int = 128
    lr_prompt: float = 0.3
    lr_offsets: float = 1e-4
    lr_head: float = 1e-3
    batch_size: int = 8
    max_steps: int = 300
    warmup_steps: int = 30
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_examples: int = 200
    test_examples: int | None = None
    eval_batch_size: int = 32
    seed: int = 0
    device: str = "auto"
    early_stopping_patience: int = 0
    init: str = "text"
    init_text: str = "Classify this text:"
    padding_side: str = "right"
    adept_depth: int = 1
    adept_activation: str = "relu"
    adept_bias: bool = True
    zero_shot: bool = True
    experiment: str = "adept-lab"
    sweep: str = ""
    run_name: str = ""
    data_file: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    data_dir: str | None = None
    max_train_examples: int | None = None
    resume_from: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from a plain dict (JSON, YAML, a form); unknown keys are an error, not silently dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"Unknown config field(s) {', '.join(unknown)}: valid fields are {', '.join(sorted(names))}."
            )
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def task_name(self) -> str:
        return self.data_file or self.task

    def field_errors(self) -> dict[str, str]:
        """``{field: "what is wrong — what to do"}`` for every invalid field (empty when valid)."""
        err: dict[str, str] = {}

        def need(cond: bool, name: str, msg: str) -> None:
            if not cond and name not in err:
                err[name] = msg

        need(str(self.method).lower() in METHODS, "method", f"{self.method!r} is not a method — use pt, dept or adept")
        need(isinstance(self.backbone, str) and bool(self.backbone.strip()), "backbone", "empty — pick a backbone")
        need(bool(self.task) or bool(self.data_file), "task", "empty — pick a task or upload a data file")
        for name in ("max_length", "batch_size", "max_steps", "eval_every", "eval_examples", "eval_batch_size"):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value > 0, name,
                 f"{value!r} — must be a positive integer")
        for name in ("lr_prompt", "lr_offsets", "lr_head"):
            value = getattr(self, name)
            need(isinstance(value, int | float) and 0 < value <= 10, name, f"{value!r} — a learning rate in (0, 10]")
        for name in ("warmup_steps", "early_stopping_patience", "seed"):
            value = getattr(self, name)
            need(isinstance(value, int) and value >= 0, name, f"{value!r} — must be an integer >= 0")
        need(isinstance(self.weight_decay, int | float) and self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(isinstance(self.grad_clip, int | float) and self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 = off)")
        if isinstance(self.warmup_steps, int) and isinstance(self.max_steps, int):
            need(self.warmup_steps <= self.max_steps, "warmup_steps",
                 f"{self.warmup_steps} warmup steps exceed max_steps {self.max_steps} — lower it")
        for name in ("budget", "num_virtual_tokens", "rank", "test_examples", "max_train_examples"):
            value = getattr(self, name)
            need(value is None or (isinstance(value, int) and value >= 0), name,
                 f"{value!r} — leave empty or give an integer >= 0")
        need(self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:"), "device",
             "use auto, cpu or cuda")
        need(self.init in ("text", "random"), "init", "use text or random")
        need(self.padding_side in ("left", "right"), "padding_side", "use left or right")
        need(self.adept_activation in ("relu", "gelu", "identity"), "adept_activation", "use relu, gelu or identity")
        need(isinstance(self.adept_depth, int) and self.adept_depth >= 1, "adept_depth", "must be >= 1")
        if self.data_file:
            need(Path(self.data_file).exists(), "data_file", f"{self.data_file} does not exist — upload it again")
        if not err:
            try:
                self.solved()
            except ValueError as exc:
                err["budget" if self.budget is not None else "num_virtual_tokens"] = str(exc)
        return err

    def validate(self) -> RunConfig:
        """Raise one ValueError naming every invalid field; return self when valid."""
        errors = self.field_errors()
        if errors:
            raise ValueError("Invalid run config: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        return self

    def d_model(self) -> int:
        d = backbone_d_model(self.backbone)
        if d is None:
            raise ValueError(
                f"Cannot tell the width of backbone {self.backbone!r}: use a registry name or a model folder."
            )
        return d

    def solved(self) -> budget_mod.Solution:
        """``(l, r)`` this config trains, with the parameter count (prompt + offsets)."""
        method, d = self.method.lower(), self.d_model()
        options = {"depth": self.adept_depth, "bias": self.adept_bias} if method == "adept" else {}
        if self.budget is not None:
            return budget_mod.solve(method, d, self.max_length, self.budget,
                                    self.num_virtual_tokens if method != "pt" else None, **options)
        if method == "pt":
            l_pt = self.num_virtual_tokens if self.num_virtual_tokens is not None else 100
            return budget_mod.Solution(l_pt, 0, l_pt * d, l_pt * d)
        if self.rank is None:
            return budget_mod.solve(method, d, self.max_length, 100 * d, self.num_virtual_tokens, **options)
        l_m = 60 if self.num_virtual_tokens is None else self.num_virtual_tokens
        if self.rank <= 0:
            raise ValueError(f"rank must be positive for {method.upper()}: set rank or a budget.")
        params = budget_mod.param_count(method, d, self.max_length, l_m, self.rank, **options)
        return budget_mod.Solution(l_m, self.rank, params, params)

    def display_name(self) -> str:
        task = Path(self.data_file).stem if self.data_file else self.task
        return self.run_name or f"{self.method.lower()}-{task}-s{self.seed}"


PRESETS: dict[str, dict] = {
    "quick": {
        "backbone": "minilm-l6", "task": "rotten-tomatoes", "budget": 100 * 384, "num_virtual_tokens": 60,
        "max_length": 64, "lr_prompt": 0.03, "lr_offsets": 1e-3, "lr_head": 3e-3, "batch_size": 16,
        "max_steps": 150, "warmup_steps": 15, "eval_every": 25, "eval_examples": 300, "test_examples": 600,
        "init": "random", "zero_shot": False,
    },
    "faithful": {
        "backbone": "smollm2-135m", "task": "rotten-tomatoes", "budget": 100 * 576, "num_virtual_tokens": 60,
        "max_length": 96, "lr_prompt": 0.3, "lr_offsets": 1e-4, "batch_size": 8, "max_steps": 300,
        "warmup_steps": 30, "eval_every": 50, "eval_examples": 200, "test_examples": 400, "init": "text",
        "zero_shot": True,
    },
}
PRESET_NOTES = {
    "quick": "MiniLM-L6 encoder + head, 150 steps: about 2-4 minutes per run on 2 idle CPU cores.",
    "faithful": "SmolLM2-135M, the paper's recipe scaled down (l=100 budget, l=60 for DePT/ADePT, "
                "lr 3e-1 / 1e-4, 300 steps): about 20-30 minutes per run on 2 idle CPU cores.",
}


def estimate_seconds(config: dict | RunConfig) -> float:
    """Rough wall time on a 2-core CPU: measured seconds per step (batch 8, ~40 tokens, 100 prompt
    tokens) scaled by batch and sequence length, plus evaluation passes and model loading."""
    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    info = BACKBONE_INFO.get(cfg.backbone, {"sec_per_step_cpu": 3.0})
    try:
        length = cfg.solved()[0]
    except ValueError:
        length = 100
    seq = (length + min(cfg.max_length, 48)) / (100 + 40)
    step = info["sec_per_step_cpu"] * (cfg.batch_size / 8) * seq
    evals = cfg.max_steps // cfg.eval_every + 1
    forward = max(step / 3 / 8, 0.01)  # an eval example costs about a third of a training example
    eval_s = forward * (evals * cfg.eval_examples + (cfg.test_examples or 1300))
    if cfg.zero_shot and info.get("kind") != "encoder":
        eval_s += forward * (cfg.test_examples or 1300)
    load = 8.0 + {"smollm2-135m": 8.0, "minilm-l6": 4.0}.get(cfg.backbone, 1.0)  # process start + weights
    return cfg.max_steps * step + eval_s + load


# ----- data ---------------------------------------------------------------------------------------

def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device is cuda but no GPU is visible: use device=auto or cpu.")
    return torch.device(name)


class Encoder:
    """Turns task examples into token ids for one backbone kind.

    causal:  ``<source>\\nAnswer:`` then `` <verbalizer>`` (loss on the verbalizer tokens only);
    seq2seq: ``<source>`` -> ``<verbalizer>``; encoder: ``<source>`` -> class index.
    Sources are truncated so that input (+ target) fits ``max_length``.
    """

    def __init__(self, task, tokenizer, kind: str, max_length: int):
        self.task, self.tok, self.kind, self.max_length = task, tokenizer, kind, max_length
        self.label_ids: list[int] = []
        self.verbalizers = list(task.verbalizers)
        if task.kind == "classification" and kind != "encoder":
            self.label_ids = self._first_ids(self.verbalizers)
            if len(set(self.label_ids)) != len(self.label_ids):
                # e.g. a user file's "label0" / "label1": fall back to letters, distinct single tokens in any
                # vocabulary (the Options line shows them); logged as the param verbalizers_used
                self.verbalizers = [chr(ord("A") + i) for i in range(len(self.verbalizers))]
                self.label_ids = self._first_ids(self.verbalizers)
            if len(set(self.label_ids)) != len(self.label_ids):
                raise ValueError(
                    f"Verbalizers {self.verbalizers} start with the same token for this tokenizer: rank "
                    "classification needs label words whose first tokens differ."
                )

    def _first_ids(self, words: list[str]) -> list[int]:
        return [self._ids(self._target(w))[0] for w in words]

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _target(self, text: str) -> str:
        return " " + text if self.kind == "causal" else text

    def source(self, ex) -> list[int]:
        text = self.task.source_text(ex)
        if self.task.kind == "classification" and self.kind != "encoder":
            text = f"{text}\nOptions: {', '.join(self.verbalizers)}."
        if self.kind == "causal":
            suffix = self._ids(CAUSAL_SUFFIX)
            target = 1 if self.task.kind == "classification" else len(self._target_ids(ex))
            room = self.max_length - len(suffix) - target
            return self._ids(text)[: max(1, room)] + suffix
        ids = self.tok(text, truncation=True, max_length=self.max_length)["input_ids"]
        return ids

    def _target_ids(self, ex) -> list[int]:
        text = self.verbalizers[ex.label] if self.task.kind == "classification" else self.task.target_text(ex)
        ids = self._ids(self._target(text))
        if self.kind == "seq2seq" and self.tok.eos_token_id is not None:
            ids = ids + [self.tok.eos_token_id]
        return ids

    def train_item(self, ex) -> tuple[list[int], list[int]]:
        """(input_ids, labels): causal labels align with input_ids (-100 = no loss); seq2seq labels are
        the decoder targets; encoder labels are ``[class]`` (or ``[float]`` for regression)."""
        src = self.source(ex)
        if self.kind == "encoder":
            return src, [ex.label]
        tgt = self._target_ids(ex)
        if self.kind == "seq2seq":
            return src, tgt
        tgt = tgt[: max(1, self.max_length - len(src))]
        return src + tgt, [-100] * len(src) + tgt

    def pad(self, seqs: list[list[int]], side: str, value: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), value, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, s in enumerate(seqs):
            sl = slice(n - len(s), n) if side == "left" else slice(0, len(s))
            ids[i, sl] = torch.tensor(s)
            mask[i, sl] = 1
        return ids, mask

    def collate(self, examples, side: str) -> dict[str, torch.Tensor]:
        pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        items = [self.train_item(ex) for ex in examples]
        ids, mask = self.pad([i for i, _ in items], side, pad_id)
        if self.kind == "encoder":
            dtype = torch.float if self.task.kind == "regression" else torch.long
            labels = torch.tensor([lab[0] for _, lab in items], dtype=dtype)
        elif self.kind == "seq2seq":
            labels, _ = self.pad([lab for _, lab in items], "right", -100)
        else:
            labels, _ = self.pad([lab for _, lab in items], side, -100)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@torch.no_grad()
def evaluate(model, encoder: Encoder, examples, batch_size: int = 32) -> dict[str, float]:
    """The task's metrics on ``examples``: rank classification, the encoder head, or greedy generation."""
    return evaluate_ids(model, encoder, [encoder.source(ex) for ex in examples], [ex.label for ex in examples],
                        batch_size)


@torch.no_grad()
def evaluate_ids(model, encoder: Encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                 ) -> dict[str, float]:
    """The task's metrics for already-built source ids (the analyses' shifted inputs, or ``encoder.source``)."""
    model.eval()
    task, preds = encoder.task, []
    device = model.prompt.device
    pad_id = encoder.tok.pad_token_id or 0
    for start in range(0, len(id_lists), batch_size):
        ids, mask = encoder.pad(id_lists[start:start + batch_size], model.padding_side, pad_id)
        ids, mask = ids.to(device), mask.to(device)
        if task.kind == "classification":
            preds += model.score_labels(ids, mask, encoder.label_ids).argmax(-1).tolist()
        elif model.kind == "encoder":
            preds += model(ids, mask).squeeze(-1).tolist()
        else:
            texts = [encoder.tok.decode(o, skip_special_tokens=True).strip() for o in model.generate(ids, mask)]
            preds += [_parse_float(t) for t in texts] if task.kind == "regression" else texts
    return task.compute_metrics(preds, references)


def _parse_float(text: str) -> float:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return float("nan")


# ----- the run -------------------------------------------------------------------------------------

def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def reproduce_command(cfg: RunConfig) -> str:
    """A CLI line that reruns this config (flags for every field that differs from the defaults)."""
    default = RunConfig()
    parts = ["python", "-m", "adept", "train"]
    for f in dataclasses.fields(RunConfig):
        value = getattr(cfg, f.name)
        if f.name in ("resume_from", "extra") or value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)


def _lr_lambda(warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _batches(n: int, batch_size: int, seed: int, start_step: int):
    """Deterministic shuffled batches of indices, epoch after epoch; skips the first ``start_step``."""
    step, epoch = 0, 0
    while True:
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(n, generator=g).tolist()
        for i in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            if step >= start_step:
                yield order[i:i + batch_size]
            step += 1
        epoch += 1


def _offsets_summary(model, encoder: Encoder, examples) -> dict:
    """Norm statistics of the offsets on a fixed probe set (first 32 validation examples)."""
    model.eval()
    with torch.no_grad():
        pad_id = encoder.tok.pad_token_id or 0
        ids, mask = encoder.pad([encoder.source(ex) for ex in examples[:32]], model.padding_side, pad_id)
        ids, mask = ids.to(model.prompt.device), mask.to(model.prompt.device)
        e = model.embed_table()(ids)
        delta = model.offsets_for(e, mask)
        keep = mask.bool()
        dn, en = delta.norm(dim=-1)[keep], e.norm(dim=-1)[keep]
    return {
        "method": model.method,
        "probe_tokens": int(keep.sum()),
        "offset_norm_mean": float(dn.mean()),
        "offset_norm_std": float(dn.std()) if dn.numel() > 1 else 0.0,
        "embedding_norm_mean": float(en.mean()),
        "relative_norm_mean": float((dn / en.clamp(min=1e-8)).mean()),
        "prompt_norm_mean": float(model.prompt.detach().norm(dim=-1).mean()) if model.num_virtual_tokens else 0.0,
    }


def zero_shot_metrics(bb, task, encoder: Encoder, examples, batch_size: int, device) -> dict[str, float] | None:
    """The bare backbone with no prompt and no offsets, scoring the verbalizers (None for encoders,
    whose head is untrained). Cached per (backbone, task, examples) under the tracking home."""
    if bb.kind == "encoder" or task.kind != "classification":
        return None
    from adept.methods import PromptTunedModel
    from adept.tracking import adept_home

    key = f"{bb.name}|{task.name}|{len(examples)}|{hash(tuple(ex.text for ex in examples[:50]))}"
    cache = Path(adept_home()) / "cache" / "zero_shot.json"
    table = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in table:
        bare = PromptTunedModel(bb, "pt", 0, 0, encoder.max_length).to(device)
        table[key] = evaluate(bare, encoder, examples, batch_size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(table, indent=1))
        tmp.replace(cache)
    return table[key]


def _prepare(cfg: RunConfig):
    """Load task, backbone and method for ``cfg`` (already validated)."""
    from adept.backbones import load_backbone
    from adept.methods import build_method
    from adept.tasks import load_task

    if cfg.data_file:
        task = load_task(cfg.data_file, text_column=cfg.text_column,
                         text_pair_column=cfg.text_pair_column, label_column=cfg.label_column)
    else:
        task = load_task(cfg.task, data_dir=cfg.data_dir)
    if not task.splits.get("train"):
        raise ValueError(f"Task {task.name!r} has no training examples.")
    bb = load_backbone(cfg.backbone)
    l_m, r = cfg.solved()[:2]
    num_labels = None
    if bb.kind == "encoder":
        num_labels = 1 if task.kind == "regression" else len(task.label_names)
        if task.kind == "generation":
            raise ValueError(f"Task {task.name!r} needs text generation; pick a causal or seq2seq backbone.")
    model = build_method(cfg.method, bb, l_m, r or None, cfg.max_length, num_labels=num_labels,
                         init=cfg.init, init_text=cfg.init_text, padding_side=cfg.padding_side,
                         depth=cfg.adept_depth, activation=cfg.adept_activation, bias=cfg.adept_bias)
    return task, bb, model


def train(config: RunConfig | dict, run_id: str | None = None, progress: bool = True) -> dict:
    """Run ``config`` to the end; returns ``{"run_id", "status", "test": {...}, "best_step", ...}``."""
    from adept import tracking

    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    cfg.method = cfg.method.lower()
    cfg.validate()
    resume = cfg.resume_from
    run_id = run_id or resume
    tags = {
        "adept.method": cfg.method, "adept.backbone": cfg.backbone, "adept.task": cfg.task_name(),
        "adept.seed": str(cfg.seed), "adept.sweep": cfg.sweep, "adept.command": reproduce_command(cfg),
    }
    with tracking.RunTracker(experiment=cfg.experiment, run_name=cfg.display_name(), tags=tags,
                             run_id=run_id) as tracker:
        tracking.install_sigterm_handler()
        return _train_tracked(cfg, tracker, resume, progress)


def _train_tracked(cfg: RunConfig, tracker, resume: str | None, progress: bool) -> dict:
    from adept import tracking

    t_start = time.time()
    _seed_everything(cfg.seed)
    device = _resolve_device(cfg.device)
    torch.set_num_threads(int(os.environ.get("ADEPT_THREADS", torch.get_num_threads())))
    task, bb, model = _prepare(cfg)
    model.to(device)
    encoder = Encoder(task, bb.tokenizer, bb.kind, cfg.max_length)
    train_set = task.splits["train"][: cfg.max_train_examples] if cfg.max_train_examples else task.splits["train"]
    val_set = task.splits["validation"][: cfg.eval_examples]
    test_set = task.splits["test"][: cfg.test_examples] if cfg.test_examples else task.splits["test"]
    l_m, r = model.num_virtual_tokens, model.rank

    if not resume:
        params = {k: v for k, v in cfg.to_dict().items() if k != "extra"}
        params.update({
            "solved.num_virtual_tokens": l_m, "solved.rank": r, "trainable_params": model.trainable_parameter_count(),
            "head_params": model.head_parameter_count(), "backbone_params": bb.parameter_count(),
            "d_model": bb.d_model, "backbone_kind": bb.kind, "task_kind": task.kind,
            "verbalizers_used": ",".join(encoder.verbalizers), "train_examples": len(train_set),
            "val_examples": len(val_set), "test_examples_used": len(test_set),
            "version.torch": torch.__version__, "version.transformers": _version("transformers"),
            "version.mlflow": _version("mlflow"), "git_commit": git_commit(), "device_resolved": str(device),
        })
        tracker.log_params(params)
        tracker.log_json(cfg.to_dict(), "config.json")
        tracker.log_text(reproduce_command(cfg) + "\n", "command.txt")

    groups = model.parameter_groups()
    lrs = {"prompt": cfg.lr_prompt, "offsets": cfg.lr_offsets, "head": cfg.lr_head}
    param_groups = [{"params": ps, "lr": lrs[name], "name": name} for name, ps in groups.items() if ps]
    optimizer = torch.optim.AdamW(param_groups, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.warmup_steps, cfg.max_steps))
    primary = task.metric_names[0]
    state = {"step": 0, "best": -math.inf, "best_step": 0, "bad_evals": 0, "train_seconds": 0.0}
    workdir = Path(tempfile.mkdtemp(prefix=f"adept-{tracker.run_id[:8]}-"))
    try:
        best_dir, ckpt_dir = workdir / "best", workdir / "checkpoint"

        if resume:
            state.update(_load_checkpoint(tracker.run_id, model, optimizer, scheduler, best_dir))
        elif cfg.zero_shot:
            zs = zero_shot_metrics(bb, task, encoder, test_set, cfg.eval_batch_size, device)
            if zs:
                tracker.log_metrics({f"zero_shot/{k}": v for k, v in zs.items()}, step=0)

        def save_checkpoint() -> None:
            model.save(ckpt_dir)
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                       ckpt_dir / "optimizer.pt")
            (ckpt_dir / "state.json").write_text(json.dumps(state))
            tracker.log_artifacts(str(ckpt_dir), "checkpoint")
            if best_dir.exists():
                tracker.log_artifacts(str(best_dir), "adapter")

        def do_eval(step: int) -> bool:
            metrics = evaluate(model, encoder, val_set, cfg.eval_batch_size)
            tracker.log_metrics({f"val/{k}": v for k, v in metrics.items()}, step=step)
            value = metrics[primary]
            improved = value > state["best"]
            if improved:
                state.update(best=value, best_step=step, bad_evals=0)
                model.save(best_dir)
            else:
                state["bad_evals"] += 1
            # Checkpoint at every eval, so a process killed without warning (OOM, reboot) can be resumed.
            save_checkpoint()
            tracker.flush()
            return improved

        if state["step"] == 0:
            do_eval(0)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.max_steps, initial=state["step"], desc=cfg.display_name(), file=sys.stderr)
        batches = _batches(len(train_set), cfg.batch_size, cfg.seed, state["step"])
        trainable = [p for g in param_groups for p in g["params"]]
        stopped_early = False
        try:
            while state["step"] < cfg.max_steps:
                model.train()
                t0 = time.perf_counter()
                b = encoder.collate([train_set[i] for i in next(batches)], model.padding_side)
                b = {k: v.to(device) for k, v in b.items()}
                loss = model.loss(b["input_ids"], b["attention_mask"], b["labels"])
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"Training loss became {loss.item()} at step {state['step'] + 1}: lower the learning rates "
                        f"(lr_prompt={cfg.lr_prompt}, lr_offsets={cfg.lr_offsets}).")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                dt = time.perf_counter() - t0
                state["train_seconds"] += dt
                step = state["step"]
                tokens = int(b["attention_mask"].sum()) + model.num_virtual_tokens * b["input_ids"].shape[0]
                metrics = {"train/loss": loss.item(), "time/step_s": dt, "time/tokens_per_s": tokens / dt}
                for g in optimizer.param_groups:
                    metrics[f"lr/{g['name']}"] = g["lr"]
                tracker.log_metrics(metrics, step=step)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.4f}")
                tracker.set_progress(step, cfg.max_steps)
                if step % cfg.eval_every == 0 or step == cfg.max_steps:
                    do_eval(step)
                    if cfg.early_stopping_patience and state["bad_evals"] >= cfg.early_stopping_patience:
                        stopped_early = True
                        break
        except tracking.RunKilled:
            save_checkpoint()
            raise
        finally:
            if bar is not None:
                bar.close()

        # Test the best adapter, not the last one.
        from adept.methods import load_adapter

        best = load_adapter(best_dir, bb).to(device)
        test = evaluate(best, encoder, test_set, cfg.eval_batch_size)
        tracker.log_metrics({f"test/{k}": v for k, v in test.items()}, step=state["step"])
        tracker.log_json(_offsets_summary(best, encoder, task.splits["validation"]), "offsets_summary.json")
        total = time.time() - t_start
        tracker.log_metrics({"best/step": state["best_step"], f"best/val_{primary}": state["best"],
                             "time/total_s": total, "time/train_s": state["train_seconds"],
                             "time/mean_step_s": state["train_seconds"] / max(1, state["step"])}, step=state["step"])
        tracker.set_tags({"adept.progress": f"{state['step']}/{cfg.max_steps}",
                          "adept.stopped_early": str(stopped_early).lower()})
        tracker.log_artifacts(str(best_dir), "adapter")
        return {"run_id": tracker.run_id, "status": "FINISHED", "test": test, "best_step": state["best_step"],
                "best_val": state["best"], "steps": state["step"], "total_s": total,
                "mean_step_s": state["train_seconds"] / max(1, state["step"])}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _load_checkpoint(run_id: str, model, optimizer, scheduler, best_dir: Path) -> dict:
    """Restore adapter, optimizer, schedule and counters from a run's ``checkpoint/`` artifact."""
    from safetensors.torch import load_file

    from adept import tracking

    try:
        ckpt = Path(tracking.download_artifacts(run_id, "checkpoint"))
    except Exception as exc:
        raise ValueError(f"Run {run_id} has no checkpoint to resume from ({exc}).") from exc
    model.load_state_dict(load_file(str(ckpt / "adapter.safetensors")), strict=False)
    opt = torch.load(ckpt / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    state = json.loads((ckpt / "state.json").read_text())
    try:
        shutil.copytree(tracking.download_artifacts(run_id, "adapter"), best_dir, dirs_exist_ok=True)
    except Exception:
        state["best"] = -math.inf  # no best adapter yet: the next eval sets one
    return state


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"
