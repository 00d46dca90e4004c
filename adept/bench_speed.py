"""Speed figures for ``python -m adept bench`` (one call from :func:`adept.bench.run_bench`):

* ``bf16/fp32 train-step ratio`` per backbone: the same ADePT model (PT's budget, l = 60, r solved) on the
  same real training batch with its frozen backbone stored in bfloat16 and in float32, A/B interleaved
  medians in one process (target <= 0.6 where the CPU has fast bf16 units; on CPUs without them bf16 is
  emulated and slower, which is why ``dtype=auto`` probes before choosing it). Also the first-step losses of
  both, which should agree to about 1 %.
* ``estimate/actual wall time``: a short real run calibrates this machine's figures in a scratch store
  (:mod:`adept.timing`), then a second run of another length is estimated from them before it starts and
  timed from its ``adept.train_started`` tag to its end (target 0.75 - 1.25).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

import torch


def bench_dtype_step(backbone_name: str, *, repeats: int = 3, batch_size: int = 8, max_length: int = 128) -> dict:
    """``{"backbone", "median_s": {"float32", "bfloat16"}, "ratio", "loss": {...}, "auto", "flags", "n"}``."""
    from adept.analysis import ab_timings
    from adept.backbones import load_backbone
    from adept.bench import _nonzero_offsets, train_step_fn, training_batch
    from adept.methods import build_method
    from adept.precision import cpu_bf16_flags, dtype_name, resolve_dtype

    fns, losses, n = {}, {}, 0
    for dtype in ("float32", "bfloat16"):
        bb = load_backbone(backbone_name, dtype=dtype)
        batch = training_batch(bb, batch_size, max_length)
        n = int(batch["input_ids"].shape[1])
        torch.manual_seed(0)
        model = build_method("adept", bb, 60, None, max_length, budget=100 * bb.d_model,
                             num_labels=2 if bb.kind == "encoder" else None)
        _nonzero_offsets(model)
        model.eval()
        with torch.no_grad():
            losses[dtype] = float(model.loss(batch["input_ids"], batch["attention_mask"], batch["labels"]))
        fns[dtype] = train_step_fn(model, batch)
    times = ab_timings(fns, repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"backbone": backbone_name, "n": n, "batch_size": batch_size, "repeats": repeats, "median_s": med,
            "ratio": med["bfloat16"] / med["float32"], "loss": losses, "flags": cpu_bf16_flags(),
            "auto": dtype_name(resolve_dtype("auto", "cpu"))}


def dtype_line(r: dict) -> str:
    med, loss = r["median_s"], r["loss"]
    flags = ", ".join(r["flags"]) or "no bf16 flags"
    return (f"[{r['backbone']}] bf16/fp32 train-step ratio: {r['ratio']:.3f}  (target <= 0.6 where the CPU has "
            f"fast bf16 ({flags}; dtype=auto picks {r['auto']} here); ADePT l=60, batch {r['batch_size']}, "
            f"n={r['n']}, medians of {r['repeats']} A/B rounds: fp32 {med['float32']:.3f} s, bf16 "
            f"{med['bfloat16']:.3f} s; loss fp32 {loss['float32']:.4f} / bf16 {loss['bfloat16']:.4f})")


@contextlib.contextmanager
def _scratch_store():
    """A temporary ADEPT_HOME + sqlite store, so the bench neither reads nor changes the user's timings."""
    home = tempfile.mkdtemp(prefix="adept-bench-estimate-")
    saved = {k: os.environ.get(k) for k in ("ADEPT_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["ADEPT_HOME"] = home
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlflow.db"
    try:
        yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(home, ignore_errors=True)


def estimate_config(backbone: str, steps: int) -> dict:
    """A short run on Rotten Tomatoes: ``steps`` steps, two evaluations of 64 examples, 128 test examples."""
    return {"method": "adept", "backbone": backbone, "task": "rotten-tomatoes", "max_steps": steps,
            "eval_every": max(1, steps // 2), "eval_examples": 64, "test_examples": 128, "batch_size": 8,
            "warmup_steps": 0, "max_length": 64, "zero_shot": False, "experiment": "bench-estimate",
            "budget": 100 * (64 if backbone.startswith("tiny-") else {"minilm-l6": 384}.get(backbone, 576)),
            "num_virtual_tokens": 60, "init": "random"}


def _train_process(config: dict, home: str) -> str:
    """Train ``config`` in its own ``python -m adept train`` process, as the launcher runs every run (a run in
    this process would find the backbone's code already imported and its files cached, and be faster than
    the runs it stands for); returns the run id."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(home) / f"config-{config['max_steps']}.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "ADEPT_THREADS": str(torch.get_num_threads())}
    out = subprocess.run([sys.executable, "-m", "adept", "train", "--config", str(path), "--quiet"], env=env,
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"the timed run failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
    return json.loads(out.stdout[out.stdout.index("{"):])["run_id"]


def bench_estimate(backbone: str = "minilm-l6", calibrate_steps: int = 10, steps: int = 30) -> dict:
    """Calibrate with one run of ``calibrate_steps``, then estimate and time a run of ``steps``."""
    from adept import tracking
    from adept.config import RunConfig
    from adept.timing import estimate
    from adept.tracking.schema import TAG_TRAIN_STARTED

    with _scratch_store() as home:
        _train_process(estimate_config(backbone, calibrate_steps), home)
        cfg = RunConfig.from_dict(estimate_config(backbone, steps))
        est = estimate(cfg)
        run_id = _train_process(cfg.to_dict(), home)
        run = tracking.get_client().get_run(run_id)
        took = (run.info.end_time - int(run.data.tags[TAG_TRAIN_STARTED])) / 1000
    return {"backbone": backbone, "steps": steps, "calibrate_steps": calibrate_steps, "estimate_s": est["seconds"],
            "actual_s": took, "ratio": est["seconds"] / took, "parts": {k: v for k, v in est.items()
                                                                      if k.endswith("_s")}, "source": est["source"]}


def estimate_line(r: dict) -> str:
    parts = ", ".join(f"{k[:-2]} {v:.1f}" for k, v in r["parts"].items())
    return (f"[{r['backbone']}] estimate/actual wall time: {r['ratio']:.3f}  (target 0.75-1.25 on an idle machine; "
            f"a {r['steps']}-step run estimated {r['estimate_s']:.1f} s from a {r['calibrate_steps']}-step "
            f"calibration run ({parts}), took {r['actual_s']:.1f} s from training start to end)")


def speed_figures(plan: dict, out: Callable[[str], None], timed: Callable, repeats: int | None = None) -> dict:
    """The lines above for ``plan["train"]`` backbones (the bf16 ratio) and ``plan["main"]``'s estimate
    backbone (minilm-l6 in the full bench, tiny-llama with --quick)."""
    res: dict = {"dtype": {}}
    for name in plan["train"]:
        r = res["dtype"][name] = timed(f"dtype/{name}", lambda n=name: bench_dtype_step(
            n, repeats=repeats or plan.get("repeats", 3)))
        out(dtype_line(r))
    quick = plan["main"].startswith("tiny-")
    backbone = "tiny-llama" if quick else "minilm-l6"
    t0 = time.perf_counter()
    r = res["estimate"] = timed("estimate", lambda: bench_estimate(backbone, 4 if quick else 10, 12 if quick else 30))
    res["estimate"]["bench_s"] = time.perf_counter() - t0
    out(estimate_line(r))
    return res
