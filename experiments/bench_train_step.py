"""One benchmark figure with more rounds than `python -m adept bench` affords: training-step time of
DePT / PT and ADePT / PT at an equal budget (PT l=100, DePT/ADePT l=60, r solved), A/B interleaved medians.

    .venv/bin/python experiments/bench_train_step.py --backbone smollm2-135m --repeats 7 --threads 1
"""

import argparse
import json

import torch

from adept import bench

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("#", bench.machine_line())
    res = bench.bench_train_step(args.backbone, repeats=args.repeats, batch_size=args.batch_size,
                                 max_length=args.max_length)
    for line in bench.train_step_lines(res):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
