"""Fill a store with small real runs, to try the dashboard (and to test it) without waiting for real training.

``python -m app.seed`` trains PT, DePT and ADePT on the untrained ``tiny-bert`` backbone for a few steps
per seed (seconds each, on CPU) into the store named by ``MLFLOW_TRACKING_URI`` / ``ADEPT_HOME``. The
numbers are real (losses, metrics, timings, adapters) but meaningless: the backbone is random.
"""

from __future__ import annotations

import argparse
import os

SWEEP = "seeded-sweep"


def tiny_config(method: str, seed: int, **overrides) -> dict:
    """A RunConfig dict that trains in about a second on CPU (tiny-bert, 12 steps, 3 evaluations)."""
    cfg = {
        "method": method,
        "backbone": "tiny-bert",
        "task": "rotten-tomatoes",
        "budget": 100 * 64,
        "num_virtual_tokens": None if method == "pt" else 6,
        "max_length": 32,
        "max_steps": 12,
        "eval_every": 4,
        "eval_examples": 48,
        "test_examples": 48,
        "batch_size": 8,
        "warmup_steps": 2,
        "lr_prompt": 0.03,
        "lr_offsets": 0.01,
        "lr_head": 0.01,
        "seed": seed,
        "sweep": SWEEP,
        "zero_shot": False,
    }
    cfg.update(overrides)
    return cfg


def seed_store(
    seeds: tuple[int, ...] = (0, 1), *, failed: bool = True, running: bool = False, queued: bool = False
) -> dict[str, list[str]]:
    """Train ``pt``, ``dept``, ``adept`` x ``seeds`` (FINISHED, sweep :data:`SWEEP`); optionally add a FAILED
    run, a RUNNING one held by this process, and a queued one (SCHEDULED, no worker started).

    Returns run ids by kind: ``{"finished": [...], "failed": [...], "running": [...], "queued": [...]}``.
    """
    from adept import launcher, tracking
    from adept.training import train

    out: dict[str, list[str]] = {"finished": [], "failed": [], "running": [], "queued": []}
    for seed in seeds:
        for method in ("pt", "dept", "adept"):
            out["finished"].append(train(tiny_config(method, seed), progress=False)["run_id"])
    tags = {
        tracking.TAG_METHOD: "adept",
        tracking.TAG_BACKBONE: "tiny-bert",
        tracking.TAG_TASK: "rotten-tomatoes",
        tracking.TAG_SEED: "7",
        tracking.TAG_SWEEP: "",
    }
    if failed:
        tr = tracking.RunTracker(experiment="adept-lab", run_name="adept-rotten-tomatoes-s7", tags=tags)
        tr.log_params({"method": "adept", "max_steps": 12, "trainable_params": 6336})
        for step, loss in enumerate([0.71, 0.69, float("nan")], start=1):
            tr.log_metrics({"train/loss": loss, "time/step_s": 0.05}, step=step)
        tr.finish(
            "FAILED",
            reason="FloatingPointError: Training loss became nan at step 3: lower the learning "
            "rates (lr_prompt=3.0, lr_offsets=0.5).",
        )
        out["failed"].append(tr.run_id)
    if running:
        tr = tracking.RunTracker(
            experiment="adept-lab",
            run_name="dept-rotten-tomatoes-s9",
            tags={**tags, tracking.TAG_METHOD: "dept", tracking.TAG_SEED: "9"},
        )
        tr.log_params({"method": "dept", "max_steps": 150, "trainable_params": 6336})
        for step in range(1, 41):
            tr.log_metrics({"train/loss": 0.7 - 0.004 * step, "time/step_s": 0.5}, step=step)
        tr.log_metrics({"val/accuracy": 55.0}, step=25)
        tr.set_tags({tracking.TAG_PROGRESS: "40/150"})
        tr.flush()
        out["running"].append(tr.run_id)
    if queued:
        out["queued"].append(launcher.enqueue(tiny_config("adept", 3, sweep=""), start_worker=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds, one run per method each (0,1)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ids = seed_store(tuple(int(s) for s in args.seeds.split(",") if s.strip()))
    from adept import tracking

    print(f"{sum(map(len, ids.values()))} runs in {tracking.tracking_uri()}")


if __name__ == "__main__":
    main()
