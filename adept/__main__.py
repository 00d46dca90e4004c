"""Command line: ``python -m adept {train,sweep,runs,worker,warm,demo,analyze,fold,bench,export,...}``.

Every flag of ``train`` is a :class:`adept.config.RunConfig` field (``--lr-prompt`` sets
``lr_prompt``); ``--config FILE`` (JSON or YAML) gives defaults that flags override.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import types
import typing
from collections import Counter
from pathlib import Path

from adept.config_files import read_config_file
from adept.report_cli import whole_number_at_least
from adept.sweeps import expand_sweep  # noqa: F401 - `from adept.__main__ import expand_sweep` keeps working

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

HELP = {
    "method": "pt, dept or adept",
    "backbone": "registry name (smollm2-135m, minilm-l6, tiny-*), hub id or local model folder",
    "task": "registry task (rotten-tomatoes, rt-subjectivity, glue-sst2, ...) — see `python -m adept tasks`",
    "budget": "trainable parameters of prompt + offsets; solves l and r (paper: PT's l=100 -> 100*d)",
    "num_virtual_tokens": "soft-prompt length l (DePT/ADePT default 60 %% of PT's)",
    "rank": "offset rank r (solved from --budget when unset)",
    "max_length": "max input tokens s (DePT's position table has s rows)",
    "lr_prompt": "learning rate of the soft prompt (paper: 3e-1)",
    "lr_offsets": "learning rate of the offsets (paper: 1e-4)",
    "lr_head": "learning rate of an encoder backbone's classification head",
    "warmup_steps": "linear warmup steps, then linear decay to 0 at --max-steps",
    "eval_every": "validate every N steps (best adapter kept)",
    "eval_examples": "validation examples per evaluation",
    "test_examples": "test examples for the final score (all when unset)",
    "early_stopping_patience": "stop after N evaluations without improvement (0 = off)",
    "zero_shot": "also score the bare backbone's verbalizers on the test set",
    "data_file": "your own csv/jsonl/parquet file instead of --task",
    "resume_from": "run id whose checkpoint to continue",
    "padding_side": "right or left (decoder backbones; DePT rows follow the padded slot)",
    "device": "auto (cuda when present), cpu or cuda",
    "dtype": "frozen backbone's storage type: auto (bf16 where measured faster here), float32, bfloat16, float16",
}


def _arg_type(annotation):
    """The argparse type for a RunConfig annotation such as ``int | None``."""
    hint = typing.get_type_hints(__import__("adept.config", fromlist=["RunConfig"]).RunConfig)[annotation]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else hint
    return base


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    from adept.config import RunConfig

    for f in dataclasses.fields(RunConfig):
        if f.name == "extra":
            continue
        flag = "--" + f.name.replace("_", "-")
        typ = _arg_type(f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = HELP.get(f.name, f.name.replace("_", " ")) + f" (default: {default})"
        if typ is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=typ, default=None, help=help_text)


def config_from_args(args) -> dict:
    from adept.config import RunConfig

    cfg = read_config_file(args.config) if args.config else {}
    for f in dataclasses.fields(RunConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            cfg[f.name] = value
    return cfg


def cmd_train(args) -> int:
    from adept.config import RunConfig
    from adept.tracking import RunKilled
    from adept.training import train

    cfg = RunConfig.from_dict(config_from_args(args))
    try:
        result = train(cfg, run_id=args.run_id, progress=not args.quiet)
    except RunKilled as exc:
        if exc.checkpoint_step is None:
            print("stopped before a checkpoint was saved: the run is KILLED with nothing to resume — Re-run it",
                  file=sys.stderr)
        else:
            print(f"stopped: checkpoint saved at step {exc.checkpoint_step}, run marked KILLED (resume with "
                  "--resume-from RUN_ID)", file=sys.stderr)
        return 143
    print(json.dumps({k: v for k, v in result.items()}, indent=2))
    return 0


def cmd_sweep(args) -> int:
    from adept import launcher
    from adept.sweeps import load_sweep

    executor = getattr(args, "executor", "local") or "local"
    if getattr(args, "asha", False) and executor != "ray":
        raise ValueError("--asha needs --executor ray (Ray Tune runs the trials)")
    if getattr(args, "ray_address", None) and executor != "ray":
        raise ValueError("--ray-address needs --executor ray (the local executor runs on this machine)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    spec, configs = load_sweep(args.file, max_runs=args.max_runs, sweep_id=None)
    sweep_id = f"{spec.get('name') or Path(args.file).stem}-{stamp}"
    for c in configs:
        c.setdefault("sweep", sweep_id)
    if args.dry_run:
        for c in configs:
            print(json.dumps(c))
        print(f"{len(configs)} runs (dry run, nothing queued)")
        return 0
    concurrency = args.concurrency or spec.get("concurrency") or 1
    if executor == "ray":
        from adept.launcher import ray_executor

        if not args.detach or args.asha:
            ray_executor.connect(args.ray_address)  # a bad address fails here, before anything is queued
    ids = launcher.enqueue_all(configs, executor=executor)
    print(f"queued {len(ids)} runs as sweep {configs[0]['sweep']}")
    if executor == "ray":
        if args.detach and not args.asha:
            log = ray_executor.start_driver(ids, address=args.ray_address)
            print(f"a detached Ray driver runs them (log {log}); watch with `python -m adept runs`")
            return 0
        if args.asha:
            from adept.launcher.ray_tune import run_with_asha

            statuses = run_with_asha(ids, metric=args.asha_metric, address=args.ray_address)
        else:
            statuses = ray_executor.run_on_ray(ids, address=args.ray_address)
        print(", ".join(f"{n} {s}" for s, n in sorted(Counter(statuses.values()).items())))
    elif args.detach:
        launcher.ensure_worker(concurrency)
        print("a background worker runs them; watch with `python -m adept runs` or the dashboard")
        return 0
    elif not launcher.worker_main(max_concurrent=concurrency):  # another worker holds the queue: wait for it
        launcher.wait_for(ids)
    return cmd_runs(argparse.Namespace(experiment=None, sweep=configs[0]["sweep"], limit=len(ids)))


def cmd_ray_driver(args) -> int:
    from adept.launcher import ray_executor

    statuses = ray_executor.run_on_ray(args.run_ids, address=args.ray_address)
    print(json.dumps(statuses, indent=1))
    return 0


def cmd_runs(args) -> int:
    from adept import launcher, tracking

    launcher.reconcile()  # a run whose process died shows as FAILED, not RUNNING; a lost worker restarts
    df = tracking.runs_dataframe(args.experiment)
    if df.empty:
        print("no runs in", tracking.tracking_uri())
        return 0
    if getattr(args, "sweep", None):
        df = df[df["sweep"] == args.sweep]
    cols = [c for c in ["run_id", "run_name", "status", "method", "backbone", "task", "seed", "progress"] if c in df]
    metric_cols = [c for c in df.columns if c.startswith("metrics.test/") or c == "metrics.time/mean_step_s"]
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(df[cols + metric_cols].head(args.limit).to_string(index=False))
    return 0


def summary_table(df, metric: str, by: tuple[str, ...] = ()):
    """Mean ± sample std of ``metric`` (and of step time) per (task, backbone, method, *by) over finished runs.

    ``by`` names extra RunConfig params to split on (an ablation's variable, e.g. ``num_virtual_tokens``)."""
    import pandas as pd

    col, step = f"metrics.{metric}", "metrics.time/mean_step_s"
    done = df[(df["status"] == "FINISHED") & df[col].notna()] if col in df else df.iloc[0:0]
    missing = [b for b in by if f"params.{b}" not in df]
    if missing:
        raise ValueError(f"No run in this experiment has param(s) {', '.join(missing)}: use RunConfig field names.")
    keys = ["task", "backbone", "method", *(f"params.{b}" for b in by)]
    rows = []
    for values, g in done.fillna({k: "—" for k in keys[3:]}).groupby(keys, sort=True):
        std = g[col].std() if len(g) > 1 else float("nan")
        zs = g["metrics.zero_shot/accuracy"] if "metrics.zero_shot/accuracy" in g else None
        row = dict(zip(["task", "backbone", "method", *by], values))
        solved = [g.get(f"params.solved.{k}", pd.Series(["?"])).iloc[0] for k in ("num_virtual_tokens", "rank")]
        row.update({"l / r": " / ".join(map(str, solved)), "runs": len(g),
                    metric: f"{g[col].mean():.1f} ± {std:.1f}" if len(g) > 1 else f"{g[col].mean():.1f}",
                    "zero-shot": f"{zs.mean():.1f}" if zs is not None and zs.notna().any() else "—",
                    "s/step": f"{g[step].mean():.2f}" if step in g else "—",
                    "trainable": g["params.trainable_params"].iloc[0] if "params.trainable_params" in g else "—"})
        rows.append(row)
    return rows


def cmd_report(args) -> int:
    """Markdown table of test metrics by task x method (mean ± std over seeds) for one experiment."""
    from adept import launcher, tracking

    launcher.reconcile()
    rows = summary_table(tracking.runs_dataframe(args.experiment), args.metric, tuple(args.by))
    if not rows:
        print(f"no finished runs with {args.metric} in experiment {args.experiment!r}")
        return 1
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    from adept.report_cli import print_comparisons  # intervals, paired differences, power

    print_comparisons(args)
    return 0


def cmd_worker(args) -> int:
    from adept import launcher
    from adept.launcher.worker import _default_concurrency

    launcher.worker_main(max_concurrent=args.max_concurrent or _default_concurrency())
    return 0


def cmd_warm(args) -> int:
    """Convert/cache the default backbone so the first dashboard run starts at once."""
    from adept.backbones import ensure_smollm2_cached, minilm_dir

    print("smollm2-135m cached at", ensure_smollm2_cached())
    print("minilm-l6 at", minilm_dir())
    return 0


def cmd_tasks(args) -> int:
    from adept.tasks import list_tasks

    print("\n".join(list_tasks()))
    return 0


def cmd_demo(args) -> int:
    """A short PT / DePT / ADePT comparison on the fast backbone, printed as a table."""
    from adept.config import PRESETS
    from adept.training import train

    rows = []
    for method in ("pt", "dept", "adept"):
        cfg = {**PRESETS["quick"], "method": method, "max_steps": args.steps, "eval_every": max(1, args.steps // 3),
               "test_examples": 300, "experiment": "adept-demo"}
        res = train(cfg, progress=True)
        rows.append((method, res["test"], res["mean_step_s"]))
    for method, test, step in rows:
        print(f"{method:6s} " + " ".join(f"{k}={v:.1f}" for k, v in test.items()) + f"  step={step:.2f}s")
    return 0


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a parser's message may hold line breaks)."""
    return " ".join(str(exc).split())


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one ``error: ...`` line (exit 2), not usage + error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


positive_int = whole_number_at_least(1)  # argparse type: a whole number >= 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m adept", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one run (tracked in MLflow)")
    p.add_argument("--config", help="JSON or YAML file of RunConfig fields; flags override it")
    p.add_argument("--run-id", help="continue this MLflow run (created SCHEDULED by the launcher)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sweep", help="queue base x grid runs from a YAML file and run them")
    p.add_argument("file")
    p.add_argument("--concurrency", type=positive_int, help="runs at once (default: the file's, else 1)")
    p.add_argument("--max-runs", type=positive_int, metavar="N",
                   help="queue at most N runs (default 200; a larger grid is refused unless you raise this)")
    p.add_argument("--detach", action="store_true", help="queue and return; a background worker runs them")
    p.add_argument("--dry-run", action="store_true", help="print the expanded configs, queue nothing")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this machine's process queue (default); ray: one Ray task per run")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="auto or ray://host:port (default: RAY_ADDRESS, else a local Ray instance for the sweep)")
    p.add_argument("--asha", action="store_true",
                   help="with --executor ray: Ray Tune's ASHA stops bad grid points early on --asha-metric")
    p.add_argument("--asha-metric", default="val/accuracy",
                   help="validation metric ASHA maximises (default %(default)s)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("ray-driver", help="submit queued Ray runs and wait for them (started by the launcher)")
    p.add_argument("run_ids", nargs="+")
    p.add_argument("--ray-address", metavar="ADDR")
    p.set_defaults(func=cmd_ray_driver)

    p = sub.add_parser("runs", help="list runs from the store")
    p.add_argument("--experiment")
    p.add_argument("--sweep")
    p.add_argument("--limit", type=positive_int, default=50)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("report", help="markdown table: test metric by task x method, mean ± std over seeds")
    p.add_argument("--experiment", required=True)
    p.add_argument("--metric", default="test/accuracy")
    p.add_argument("--by", nargs="*", default=[], metavar="PARAM",
                   help="RunConfig fields to split rows on as well (an ablation's variable), e.g. num_virtual_tokens")
    from adept.report_cli import add_report_flags

    add_report_flags(p)  # --target-diff, --confidence, --n-boot
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("worker", help="run queued runs (started by the launcher)")
    p.add_argument("--max-concurrent", type=positive_int, default=None,
                   help="runs at once (default: ADEPT_MAX_CONCURRENT, else 1)")
    p.set_defaults(func=cmd_worker)

    sub.add_parser("warm", help="cache the offline backbones").set_defaults(func=cmd_warm)
    sub.add_parser("tasks", help="list the task registry").set_defaults(func=cmd_tasks)
    p = sub.add_parser("demo", help="a short three-method comparison on MiniLM")
    p.add_argument("--steps", type=positive_int, default=60)
    p.set_defaults(func=cmd_demo)

    from adept import analysis, bench, export

    analysis.register_cli(sub)  # analyze RUN_ID, fold RUN_ID
    bench.register_cli(sub)  # bench [--quick]
    export.register_cli(sub)  # export RUN_ID --format peft|adept|folded
    from adept import claims_cli

    claims_cli.register_cli(sub)  # claims --experiment NAME

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # the library's own explanation of a bad input: one line, no traceback
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        from adept.training import RunFailed

        if not isinstance(exc, RunFailed):
            raise  # a bug: its traceback is what to report
        print(f"error: {one_line(exc)}", file=sys.stderr)  # the run started and failed, with its reason
        return 1


if __name__ == "__main__":
    sys.exit(main())
