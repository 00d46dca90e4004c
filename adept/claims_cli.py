"""``python -m adept claims --experiment NAME``: the paper's claims judged by the experiment's runs, as a markdown
table (:mod:`adept.evidence`)."""

from __future__ import annotations


def cmd_claims(args) -> int:
    import sys

    from adept import tracking
    from adept.evidence import claims_table
    from adept.evidence.render import claims_markdown

    df = tracking.runs_dataframe(args.experiment)
    if df.empty or not (df["status"] == "FINISHED").any():
        print(f"no finished runs in experiment {args.experiment!r}: see `python -m adept runs`", file=sys.stderr)
        return 1
    rows = claims_table(args.experiment, df=df, target_diff=args.target_diff, n_boot=args.n_boot,
                        confidence=args.confidence, metric=args.metric)
    print(claims_markdown(rows, short_ids=not args.full_ids))
    return 0


def register_cli(sub) -> None:
    from adept.evidence import DEFAULT_TARGET
    from adept.report_cli import add_report_flags

    p = sub.add_parser("claims", help="the paper's claims judged by an experiment's runs (markdown table)")
    p.add_argument("--experiment", required=True)
    p.add_argument("--metric", default=None, help="test metric for claim 1 (default: the task's primary)")
    p.add_argument("--full-ids", action="store_true", help="print whole run ids (default: first 8 characters)")
    add_report_flags(p, target_default=DEFAULT_TARGET)
    p.set_defaults(func=cmd_claims)
