"""The statistics part of ``python -m adept report``: after the mean ± std table, one section per comparison
(task x backbone) with each method's metric and its interval, the pairwise differences (interval, p, Holm, verdict)
and the power lines (:mod:`adept.comparison`)."""

from __future__ import annotations

import argparse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return v


def _confidence(text: str) -> float:
    v = _positive_float(text)
    if not v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (e.g. 0.95)")
    return v


def whole_number_at_least(minimum: int):
    """argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = minimum - 1
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {minimum}")
        return v

    return parse


_n_boot = whole_number_at_least(100)


def add_report_flags(p: argparse.ArgumentParser, target_default: float | None = None) -> None:
    p.add_argument("--target-diff", type=_positive_float, metavar="POINTS", default=target_default,
                   help="a difference (metric points) to size for: how many seeds / examples would detect it"
                        + (f" (default {target_default:g})" if target_default else ""))
    p.add_argument("--confidence", type=_confidence, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--n-boot", type=_n_boot, default=2000, help="bootstrap resamples (default 2000)")


def print_comparisons(args) -> None:
    from adept.comparison import compare_experiment
    from adept.comparison.render import report_markdown

    results = compare_experiment(args.experiment, args.metric, tuple(args.by), confidence=args.confidence,
                                 n_boot=args.n_boot, target_diff=args.target_diff)
    for result in results:
        print()
        print(report_markdown(result, args.target_diff))
