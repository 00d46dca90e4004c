"""The training loop: a validated :class:`~adept.config.RunConfig` -> a tracked training run.

One run: build the method at its budget, train the soft prompt and the offsets with AdamW in two
learning-rate groups (linear warmup then linear decay, gradient clipping), evaluate every
``eval_every`` steps on the validation split, keep the best adapter, stop early if asked, evaluate the
best adapter on the test split, and log everything to MLflow through :mod:`adept.tracking`.
SIGTERM saves a checkpoint and ends the run KILLED; ``resume_from`` continues it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

# Public names: the run's configuration (adept.config) and the encoding / evaluation (adept.encoding) are
# re-exported here, so ``from adept.training import RunConfig, Encoder, evaluate, ...`` keeps working.
from adept.config import METHODS, PRESET_NOTES, PRESETS, RunConfig, estimate_seconds, reproduce_command
from adept.encoding import CAUSAL_SUFFIX, Encoder, evaluate, evaluate_ids

__all__ = [
    "CAUSAL_SUFFIX", "METHODS", "PRESETS", "PRESET_NOTES", "Encoder", "RunConfig", "estimate_seconds",
    "evaluate", "evaluate_ids", "git_commit", "reproduce_command", "train", "zero_shot_metrics",
]


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device is cuda but no GPU is visible: use device=auto or cpu.")
    return torch.device(name)


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except Exception:
        return "unknown"


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
            model.save_pretrained(ckpt_dir)
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
                model.save_pretrained(best_dir)
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
