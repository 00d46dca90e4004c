"""One benchmark figure with more rounds than `python -m adept bench` affords: our PT against PEFT's
PromptTuning on the same causal backbone, batch and prompt length (PEFT computes the vocabulary head at all
l + n positions, ours only at the label positions), A/B interleaved medians.

    .venv/bin/python experiments/bench_peft.py --backbone smollm2-135m --repeats 5 --threads 1
"""

import argparse
import json

import torch

from adept import bench

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--num-virtual-tokens", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("#", bench.machine_line())
    r = bench.bench_peft(args.backbone, repeats=args.repeats, batch_size=args.batch_size,
                         num_virtual_tokens=args.num_virtual_tokens)
    print(f"[{r['backbone']}] ours-pt/peft-pt train-step ratio: {r['ratio']:.3f}  (l={r['l']}, n={r['n']}, "
          f"batch {args.batch_size}; medians of {r['repeats']} A/B rounds: ours {r['median_s']['ours']:.3f} s, "
          f"peft {r['median_s']['peft']:.3f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
