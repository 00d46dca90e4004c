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
    """The checkout's commit (``git rev-parse HEAD``), or ``"unknown"``; also tag ``mlflow.source.git.commit``."""
    from adept.tracking.mlflow_context import git_commit as commit

    return commit()


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


def zero_shot_metrics(bb, task, encoder: Encoder, examples, batch_size: int, device,
                      ids: list[list[int]] | None = None) -> dict[str, float] | None:
    """The bare backbone with no prompt and no offsets, scoring the verbalizers (None for encoders,
    whose head is untrained). Cached per (backbone, dtype, task, examples) under the tracking home.
    ``ids``: the examples' source ids when already tokenized."""
    if bb.kind == "encoder" or task.kind != "classification":
        return None
    import hashlib

    from adept.methods import PromptTunedModel
    from adept.tracking import adept_home

    # A stable digest (Python's hash() of strings changes with every process, so the cache never hit).
    digest = hashlib.sha256("\0".join(ex.text for ex in examples[:50]).encode()).hexdigest()[:16]
    dtype = "" if bb.dtype == torch.float32 else f"|{str(bb.dtype).replace('torch.', '')}"
    key = f"{bb.name}{dtype}|{task.name}|{len(examples)}|{digest}"
    cache = Path(adept_home()) / "cache" / "zero_shot.json"
    table = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in table:
        bare = PromptTunedModel(bb, "pt", 0, 0, encoder.max_length).to(device)
        ids = ids if ids is not None else encoder.sources(examples)
        table[key] = evaluate_ids(bare, encoder, ids, [ex.label for ex in examples], batch_size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(table, indent=1))
        tmp.replace(cache)
    return table[key]


def _prepare(cfg: RunConfig, task, device: torch.device | str = "cpu"):
    """Load the backbone (in ``cfg.dtype``, resolved for ``device``) and build the method for ``cfg`` (already
    through :func:`adept.preflight.preflight`, which loaded ``task``)."""
    from adept.backbones import load_backbone
    from adept.methods import build_method

    bb = load_backbone(cfg.backbone, dtype=cfg.dtype, device=device)
    l_m, r = cfg.solved()[:2]
    num_labels = None
    if bb.kind == "encoder":
        num_labels = 1 if task.kind == "regression" else len(task.label_names)
    model = build_method(cfg.method, bb, l_m, r or None, cfg.max_length, num_labels=num_labels,
                         init=cfg.init, init_text=cfg.init_text, padding_side=cfg.padding_side,
                         depth=cfg.adept_depth, activation=cfg.adept_activation, bias=cfg.adept_bias)
    return bb, model


class RunFailed(RuntimeError):
    """A run started and ended FAILED for a reason it could state (a NaN loss, memory, bad data found only
    while training). ``run_id`` and ``reason`` (also its ``adept.failure`` tag)."""

    def __init__(self, run_id: str, reason: str):
        super().__init__(f"run {run_id} FAILED: {reason}")
        self.run_id, self.reason = run_id, reason


def _queued_run_cannot_start(run_id: str, exc: Exception, resume: bool) -> None:
    """A queued run (SCHEDULED, or RUNNING under the worker that just claimed it) whose config fails the
    checks ends FAILED with the reason; a run that is not waiting for this process is left alone."""
    from adept import tracking
    from adept.tracking.writer import _other_live_process

    client = tracking.get_client()
    try:
        run = client.get_run(run_id)
    except Exception:  # noqa: BLE001 - not in the store: nothing to mark
        return
    if run.info.status in ("SCHEDULED", "RUNNING") and not _other_live_process(run, os.getpid()):
        client.set_tag(run_id, tracking.TAG_FAILURE, f"could not {'resume' if resume else 'start'}: {exc}")
        client.set_terminated(run_id, status="FAILED")


def train(config: RunConfig | dict, run_id: str | None = None, progress: bool = True) -> dict:
    """Run ``config`` to the end; returns ``{"run_id", "status", "test": {...}, "best_step", ...}``.

    Everything that can be refused cheaply is refused first, with a ``ValueError`` and nothing written
    (:func:`adept.preflight.preflight`; a resume: :func:`adept.checkpoints.check_resume`). Once the run
    exists, a failure it can explain (NaN loss, out of memory, bad data) ends it FAILED and raises
    :class:`RunFailed`; a stop (SIGTERM) saves a checkpoint, ends it KILLED and raises
    :class:`~adept.tracking.RunKilled` (its ``checkpoint_step`` says where to resume).
    """
    import signal
    import threading

    from adept import tracking
    from adept.checkpoints import check_resume
    from adept.preflight import preflight, threads_from_env

    cfg = RunConfig.from_dict(config.to_dict() if isinstance(config, RunConfig) else config)
    if isinstance(cfg.method, str):
        cfg.method = cfg.method.lower()
    resume = cfg.resume_from
    try:
        task = preflight(cfg)
        threads = threads_from_env(torch.get_num_threads())
        if resume:
            check_resume(resume, cfg)
    except ValueError as exc:
        if run_id:
            _queued_run_cannot_start(run_id, exc, bool(resume))
        raise
    run_id = run_id or resume
    tags = {
        "adept.method": cfg.method, "adept.backbone": cfg.backbone, "adept.task": cfg.task_name(),
        "adept.seed": str(cfg.seed), "adept.sweep": cfg.sweep, "adept.command": reproduce_command(cfg),
    }
    if not run_id:  # trained by hand (no executor created the run): this machine's own process
        tags["adept.executor"] = "local"
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    tracker = None
    try:
        with tracking.RunTracker(experiment=cfg.experiment, run_name=cfg.display_name(), tags=tags,
                                 run_id=run_id) as tracker:
            if main:
                tracking.install_sigterm_handler()
            return _train_tracked(cfg, tracker, task, threads, resume, progress)
    except (ValueError, FloatingPointError, MemoryError) as exc:
        if tracker is None:
            raise
        raise RunFailed(tracker.run_id, f"{type(exc).__name__}: {exc}") from exc
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _due(step: int, cfg: RunConfig) -> bool:
    """Whether the loop evaluates after ``step``: every ``eval_every`` steps and at the last one."""
    return step % cfg.eval_every == 0 or step == cfg.max_steps


def _train_tracked(cfg: RunConfig, tracker, task, threads: int, resume: str | None, progress: bool) -> dict:
    from adept import checkpoints, tracking
    from adept.precision import dtype_name
    from adept.timing import RunTimer
    from adept.tracking.schema import TAG_TRAIN_STARTED
    from adept.tracking.signals import _uninterrupted

    t_start = time.time()
    if not resume:
        tracker.set_tags({TAG_TRAIN_STARTED: str(int(t_start * 1000))})
    _seed_everything(cfg.seed)
    device = _resolve_device(cfg.device)
    torch.set_num_threads(threads)
    bb, model = _prepare(cfg, task, device)
    model.to(device)
    encoder = Encoder(task, bb.tokenizer, bb.kind, cfg.max_length)
    timer = RunTimer(cfg, dtype_name(bb.dtype), model.num_virtual_tokens, t_start)
    train_set = task.splits["train"][: cfg.max_train_examples] if cfg.max_train_examples else task.splits["train"]
    val_set = task.splits["validation"][: cfg.eval_examples]
    test_set = task.splits["test"][: cfg.test_examples] if cfg.test_examples else task.splits["test"]
    l_m, r = model.num_virtual_tokens, model.rank
    truncated = int(task.info.get("truncated_texts", 0))
    if truncated:
        from adept.tasks.task import MAX_TEXT_CHARS

        print(f"[adept] {truncated:,} text(s) of {task.name} were cut to their first {MAX_TEXT_CHARS:,} "
              "characters before tokenizing (param data.truncated_texts)", file=sys.stderr, flush=True)

    tracker.start_system_metrics(resume=bool(resume))
    if not resume:
        # Unset fields (None) are left out: MLflow would show the string "None" (the config.json has them).
        params = {k: v for k, v in cfg.to_dict().items() if k != "extra" and v is not None}
        params.update({
            "solved.num_virtual_tokens": l_m, "solved.rank": r, "trainable_params": model.trainable_parameter_count(),
            "head_params": model.head_parameter_count(), "backbone_params": bb.parameter_count(),
            "d_model": bb.d_model, "backbone_kind": bb.kind, "task_kind": task.kind,
            "verbalizers_used": ",".join(encoder.verbalizers), "train_examples": len(train_set),
            "val_examples": len(val_set), "test_examples_used": len(test_set), "data.truncated_texts": truncated,
            "version.torch": torch.__version__, "version.transformers": _version("transformers"),
            "version.mlflow": _version("mlflow"), "git_commit": git_commit(), "device_resolved": str(device),
            # The frozen backbone's storage type as resolved here ("dtype" is what was asked, e.g. auto: a queued
            # run has it logged already, and MLflow params cannot change).
            "dtype_resolved": dtype_name(bb.dtype),
        })
        tracker.log_params(params)
        tracker.log_task_inputs(task, {"train": train_set, "validation": val_set, "test": test_set})
        tracker.log_json(cfg.to_dict(), "config.json")
        tracker.log_text(reproduce_command(cfg) + "\n", "command.txt")

    groups = model.parameter_groups()
    lrs = {"prompt": cfg.lr_prompt, "offsets": cfg.lr_offsets, "head": cfg.lr_head}
    param_groups = [{"params": ps, "lr": lrs[name], "name": name} for name, ps in groups.items() if ps]
    optimizer = torch.optim.AdamW(param_groups, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg.warmup_steps, cfg.max_steps))
    primary = task.metric_names[0]
    state = {"step": 0, "best": -math.inf, "best_step": 0, "bad_evals": 0, "train_seconds": 0.0,
             "evaluated_step": -1, "zero_shot_done": False, "stopped_early": False}
    workdir = Path(tempfile.mkdtemp(prefix=f"adept-{tracker.run_id[:8]}-"))
    try:
        best_dir, ckpt_dir = workdir / "best", workdir / "checkpoint"
        if resume:
            state.update(checkpoints.restore(tracker.run_id, model, optimizer, scheduler, best_dir))

        def save_checkpoint() -> None:
            with _uninterrupted():
                ckpt_dir.mkdir(exist_ok=True)
                checkpoints.write(ckpt_dir, model, optimizer, scheduler, state, best_dir)
                tracker.log_folder(ckpt_dir, "checkpoint")
                if best_dir.exists():
                    tracker.log_folder(best_dir, "adapter")

        val_ids = encoder.sources(val_set)  # tokenized once for every evaluation of the run
        test_ids = encoder.sources(test_set)
        train_items = encoder.item_cache(train_set)  # each training example tokenized once, when first drawn

        def do_eval(step: int) -> None:
            with timer.phase("eval", val_ids):  # a stop here redoes it on resume
                metrics = evaluate_ids(model, encoder, val_ids, [ex.label for ex in val_set], cfg.eval_batch_size)
            with _uninterrupted():  # the bookkeeping is all or nothing
                tracker.log_metrics({f"val/{k}": v for k, v in metrics.items()}, step=step)
                value = metrics[primary]
                if value > state["best"]:
                    state.update(best=value, best_step=step, bad_evals=0)
                    model.save_pretrained(best_dir)
                else:
                    state["bad_evals"] += 1
                state["evaluated_step"] = step
                state["stopped_early"] = bool(cfg.early_stopping_patience
                                              and state["bad_evals"] >= cfg.early_stopping_patience)
                # Checkpoint at every eval, so a process killed without warning (OOM, reboot) can be resumed.
                save_checkpoint()
                tracker.flush()

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.max_steps, initial=state["step"], desc=cfg.display_name(), file=sys.stderr)
        try:
            if not state["zero_shot_done"]:
                with timer.phase("zero_shot", test_ids, prompt=False):
                    zs = zero_shot_metrics(bb, task, encoder, test_set, cfg.eval_batch_size, device,
                                           ids=test_ids) if cfg.zero_shot else None
                with _uninterrupted():
                    if zs:
                        tracker.log_metrics({f"zero_shot/{k}": v for k, v in zs.items()}, step=0)
                    state["zero_shot_done"] = True
            if state["evaluated_step"] < 0:
                do_eval(0)
            elif state["step"] and _due(state["step"], cfg) and state["evaluated_step"] < state["step"]:
                do_eval(state["step"])  # stopped during this evaluation: it runs again
            timer.training_begins()
            _train_loop(cfg, model, encoder, train_items, optimizer, scheduler, param_groups, state, tracker,
                        device, bar, do_eval, timer)
            # Test the best adapter, not the last one.
            from adept.methods import load_adapter
            from adept.predictions import artifact_name, predict_ids, predictions_payload

            best = load_adapter(best_dir, bb).to(device)
            with timer.phase("test", test_ids):  # + per-example records
                test, test_records = predict_ids(best, encoder, test_ids, [ex.label for ex in test_set],
                                                 cfg.eval_batch_size)
        except tracking.RunKilled as exc:
            save_checkpoint()
            exc.checkpoint_step = state["step"]
            raise
        finally:
            if bar is not None:
                bar.close()
        with _uninterrupted(raise_pending=False):  # finishing: a stop now changes nothing
            tracker.log_metrics({f"test/{k}": v for k, v in test.items()}, step=state["step"])
            tracker.log_text(json.dumps(predictions_payload(task, test_set, test, test_records)), artifact_name())
            summary = _offsets_summary(best, encoder, task.splits["validation"])
            tracker.log_json(summary, "offsets_summary.json")
            # The offsets' size as metrics, so a sweep can be read without opening artifacts (docs/recipe.md).
            tracker.log_metrics({"offsets/rel_norm": summary["relative_norm_mean"],
                                 "offsets/norm": summary["offset_norm_mean"],
                                 "offsets/embedding_norm": summary["embedding_norm_mean"],
                                 "offsets/prompt_norm": summary["prompt_norm_mean"]}, step=state["step"])
            total = time.time() - t_start
            tracker.log_metrics({"best/step": state["best_step"], f"best/val_{primary}": state["best"],
                                 "time/total_s": total, "time/train_s": state["train_seconds"],
                                 "time/mean_step_s": state["train_seconds"] / max(1, state["step"]),
                                 **timer.metrics(total)}, step=state["step"])
            if not resume:
                timer.record(total)  # this host's measured costs, for the next runs' estimates
            tracker.set_tags({"adept.progress": f"{state['step']}/{cfg.max_steps}",
                              "adept.stopped_early": str(state["stopped_early"]).lower()})
            tracker.log_folder(best_dir, "adapter")
        return {"run_id": tracker.run_id, "status": "FINISHED", "test": test, "best_step": state["best_step"],
                "best_val": state["best"], "steps": state["step"], "total_s": total,
                "mean_step_s": state["train_seconds"] / max(1, state["step"])}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _train_loop(cfg, model, encoder, train_items, optimizer, scheduler, param_groups, state, tracker, device, bar,
                do_eval, timer=None) -> None:
    """Train from ``state["step"]`` to ``max_steps`` (or early stopping), evaluating when due.

    Each step is atomic: a SIGTERM during it is raised once the step is done and logged, so a checkpoint
    never holds a step half applied (the optimizer moved, the counter not) and a resume repeats nothing.
    """
    from adept.tracking.signals import _uninterrupted

    batches = _batches(len(train_items), cfg.batch_size, cfg.seed, state["step"])
    trainable = [p for g in param_groups for p in g["params"]]
    while state["step"] < cfg.max_steps and not state["stopped_early"]:
        with _uninterrupted():
            model.train()
            t0 = time.perf_counter()
            b = encoder.collate_items([train_items[i] for i in next(batches)], model.padding_side)
            b = {k: v.to(device) for k, v in b.items()}
            try:
                loss = model.loss(b["input_ids"], b["attention_mask"], b["labels"])
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"Training loss became {loss.item()} at step {state['step'] + 1}: lower the learning rates "
                        f"(lr_prompt={cfg.lr_prompt}, lr_offsets={cfg.lr_offsets}).")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            except RuntimeError as exc:
                if "out of memory" in str(exc).lower() or "allocate" in str(exc).lower():
                    raise MemoryError(
                        f"Out of memory at step {state['step'] + 1} ({str(exc).splitlines()[0][:200]}): lower the "
                        f"batch size ({cfg.batch_size}) or the max input length ({cfg.max_length}).") from exc
                raise
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
            if timer is not None:
                timer.step_done(dt, tokens)
            for g in optimizer.param_groups:
                metrics[f"lr/{g['name']}"] = g["lr"]
            tracker.log_metrics(metrics, step=step)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}")
            tracker.set_progress(step, cfg.max_steps)
        if _due(step, cfg):
            do_eval(step)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "missing"
