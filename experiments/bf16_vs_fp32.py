"""Does storing the frozen backbone in bfloat16 change the science? The same config trained in float32 and in
bfloat16 (same seeds), test accuracy of each run with its 95 % interval over test examples (normal
approximation to the binomial, n = the test split), and, with two seeds or more, the mean over seeds with a
t interval. The two dtypes agree when each one's figure lies inside the other's interval.

    .venv/bin/python experiments/bf16_vs_fp32.py --preset quick --method adept --seeds 0
    .venv/bin/python experiments/bf16_vs_fp32.py --preset quick --method adept --seeds 0 1 2 --max-steps 70

Runs go to the store named by ADEPT_HOME / MLFLOW_TRACKING_URI (experiment "bf16-vs-fp32").
"""

import argparse
import json
import math
import statistics
import time

from adept import tracking
from adept.config import PRESETS
from adept.stats import t_quantile
from adept.training import train


def binomial_interval(acc_percent: float, n: int) -> tuple[float, float]:
    p = acc_percent / 100
    half = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / n) * 100
    return acc_percent - half, acc_percent + half


def seeds_interval(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = t_quantile(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    ap.add_argument("--method", default="adept")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-steps", type=int, help="override the preset's steps")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        for dtype in ("float32", "bfloat16"):
            cfg = {**PRESETS[args.preset], "method": args.method, "seed": seed, "dtype": dtype,
                   "experiment": "bf16-vs-fp32", "sweep": f"bf16-vs-fp32-{args.preset}"}
            if args.max_steps:
                cfg.update(max_steps=args.max_steps, eval_every=max(1, args.max_steps // 2))
            t0 = time.time()
            res = train(cfg, progress=False)
            n = int(tracking.get_client().get_run(res["run_id"]).data.params["test_examples_used"])
            acc = res["test"]["accuracy"]
            lo, hi = binomial_interval(acc, n)
            rows.append({"seed": seed, "dtype": dtype, "accuracy": acc, "lo": lo, "hi": hi, "n": n,
                         "wall_s": time.time() - t0, "mean_step_s": res["mean_step_s"], "run_id": res["run_id"]})
            print(f"seed {seed} {dtype:8s}: test accuracy {acc:.2f} % [{lo:.2f}, {hi:.2f}] (n={n}), "
                  f"{res['mean_step_s']:.2f} s/step, {rows[-1]['wall_s']:.0f} s", flush=True)
    for seed in args.seeds:
        a, b = (next(r for r in rows if r["seed"] == seed and r["dtype"] == d) for d in ("float32", "bfloat16"))
        inside = a["lo"] <= b["accuracy"] <= a["hi"] and b["lo"] <= a["accuracy"] <= b["hi"]
        print(f"seed {seed}: bf16 - fp32 = {b['accuracy'] - a['accuracy']:+.2f} points; each inside the other's "
              f"interval: {inside}")
    if len(args.seeds) > 1:
        for dtype in ("float32", "bfloat16"):
            mean, lo, hi = seeds_interval([r["accuracy"] for r in rows if r["dtype"] == dtype])
            print(f"{dtype}: mean over {len(args.seeds)} seeds {mean:.2f} % [{lo:.2f}, {hi:.2f}] (t interval)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
