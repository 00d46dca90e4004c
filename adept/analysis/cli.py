"""``python -m adept analyze RUN_ID`` and ``python -m adept fold RUN_ID`` (one :func:`register_cli` call in
adept/__main__.py)."""

from __future__ import annotations

import json

from adept.analysis.fold import fold_run
from adept.analysis.run import analyze_run, summary_lines


def add_analyze_arguments(parser) -> None:
    parser.add_argument("run_id", nargs="?", help="MLflow run id of a finished (or evaluated once) run")
    parser.add_argument("--experiment", help="analyse every FINISHED run of this experiment (stored analyses are "
                                             "read back), then print the pilot's slopes over its seeds")
    parser.add_argument("--force", action="store_true", help="recompute even if analysis/*.json exist")
    parser.add_argument("--pilot-examples", type=int, help="test examples for the pilot experiment")
    parser.add_argument("--stats-examples", type=int, help="validation examples for the offset statistics")


def cli_analyze(args) -> int:
    """``python -m adept analyze RUN_ID [--force]``: compute (or read back) and print a summary."""
    sizes = {k: v for k, v in (("pilot_examples", getattr(args, "pilot_examples", None)),
                               ("stats_examples", getattr(args, "stats_examples", None))) if v}
    experiment = getattr(args, "experiment", None)
    if bool(args.run_id) == bool(experiment):
        raise ValueError("Give a run id or --experiment NAME (one of them): `python -m adept analyze RUN_ID`.")
    run_ids = [args.run_id] if args.run_id else _finished_runs(experiment)
    for run_id in run_ids:
        res = analyze_run(run_id, force=getattr(args, "force", False), sizes=sizes or None,
                          log=lambda m: print(f"[analyze] {m}", flush=True))
        for line in summary_lines(res):
            print(line)
    if experiment:
        for line in pilot_evidence_lines(run_ids):
            print(line)
    return 0


def _finished_runs(experiment: str) -> list[str]:
    from adept import tracking

    runs = [r for r in tracking.search_runs("attributes.status = 'FINISHED'", experiment)
            if r.data.tags.get(tracking.TAG_ROLE) != tracking.ROLE_SWEEP]  # a sweep's parent run trained nothing
    if not runs:
        raise ValueError(f"Experiment {experiment!r} has no FINISHED run: check the name (`python -m adept runs`).")
    return [r.info.run_id for r in reversed(runs)]  # oldest first


def pilot_evidence_lines(run_ids: list[str]) -> list[str]:
    """The pilot's slopes per method and the DePT - ADePT difference over the runs' seeds, as text lines."""
    from adept.analysis.pilot_stats import load_pilot_runs, pilot_evidence

    runs = load_pilot_runs(run_ids)
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault((r["pilot"].get("task"),), []).append(r)
    lines = []
    for (task,), rs in groups.items():
        ev = pilot_evidence(rs)
        for side, part in ev["sides"].items():
            lines.append(f"pilot slopes, {task}, {side} padding ({ev['metric']} points per prepended token, 95% CI):")
            for method, v in part["methods"].items():
                sl = v["slope"]
                lines.append(f"  {method}: {sl['slope']:+.3f} [{sl['low']:+.3f}, {sl['high']:+.3f}] "
                             f"({len(v['runs'])} run(s), seeds {v['seeds']})")
            lines.append(f"  {part['caption']}")
    return lines


def add_fold_arguments(parser) -> None:
    parser.add_argument("run_id", help="MLflow run id")
    parser.add_argument("--out", help="output folder (default <ADEPT_HOME>/folded/<run_id>)")
    parser.add_argument("--full-model", action="store_true", help="also save the whole folded backbone")


def cli_fold(args) -> int:
    """``python -m adept fold RUN_ID [--out DIR] [--full-model]``: fold, reload, check equality."""
    report = fold_run(args.run_id, getattr(args, "out", None), full_model=getattr(args, "full_model", False))
    print(json.dumps(report, indent=2))
    ok = report["max_abs_diff"] is None or report["max_abs_diff"] < 1e-4
    return 0 if ok else 1


def register_cli(subparsers) -> None:
    """Add ``analyze`` and ``fold`` to ``python -m adept``'s subparsers (one call from adept/__main__.py)."""
    p = subparsers.add_parser("analyze", help="paper analyses of a run, logged as analysis/*.json artifacts")
    add_analyze_arguments(p)
    p.set_defaults(func=cli_analyze)
    p = subparsers.add_parser("fold", help="fold a run's offsets into the embedding table and check equality")
    add_fold_arguments(p)
    p.set_defaults(func=cli_fold)
