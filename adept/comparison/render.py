"""A computed comparison (:func:`adept.comparison.compute.compare_group`) as markdown: the methods with their
intervals, the pairwise table with verdicts, and the power lines. Used by ``python -m adept report``."""

from __future__ import annotations

import math


def fmt(x, digits: int = 1) -> str:
    """A number for a table: '—' for None, '∞' for infinity."""
    if x is None:
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def interval(low, high, digits: int = 1) -> str:
    return "none" if low is None else f"{low:.{digits}f} to {high:.{digits}f}"


def fmt_p(p) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def method_rows(result: dict) -> list[dict]:
    """Table rows (display strings) of the methods."""
    pct = f"{100 * result['confidence']:g} % interval"
    return [{"method": m["name"], "l / r": m["budget"] or "—", "seeds": m["n_seeds"],
             result["metric"]: fmt(m["value"]), pct: interval(m["low"], m["high"])} for m in result["methods"]]


def pair_rows(result: dict, target_diff: float | None = None) -> list[dict]:
    """Table rows (display strings) of the pairwise differences."""
    pct = f"{100 * result['confidence']:g} % interval"
    rows = []
    for r in result["pairs"]:
        row = {"difference": f"{r['a']} − {r['b']}", "points": fmt(r["diff"]), pct: interval(r["low"], r["high"]),
               "p": fmt_p(r["p"]), "p (Holm)": fmt_p(r["p_holm"]), "verdict": r["verdict"],
               "detectable (80 % power)": fmt(r["mdd"])}
        if target_diff:
            row[f"seeds for {target_diff:g}"] = fmt(r["seeds_needed"])
            row[f"examples for {target_diff:g}"] = fmt(r["examples_needed"])
        rows.append(row)
    return rows


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]).replace("|", "/") for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def power_text(result: dict, target_diff: float | None = None) -> str:
    """One sentence per pair: the smallest difference these seeds x examples detect, and what a target needs."""
    n_ex = result.get("n_examples")
    lines = []
    for r in result["pairs"]:
        size = f"{r['n_seeds']} seed(s)" + (f" x {n_ex} test examples" if n_ex else "")
        line = (f"{r['a']} vs {r['b']}: with {size} the smallest difference detectable (80 % power, two-sided 5 %) "
                f"is {fmt(r['mdd'])} points")
        if target_diff:
            line += (f"; to detect {target_diff:g} points: {fmt(r['seeds_needed'])} seeds at these examples"
                     + (f", or {fmt(r['examples_needed'])} examples at these seeds" if r["examples_needed"] else ""))
        lines.append(line + (f" ({r['power_note']})" if r["power_note"] else "") + ".")
    return "\n".join(f"- {x}" for x in lines)


def report_markdown(result: dict, target_diff: float | None = None) -> str:
    parts = [f"### {result['title']}: {result['metric']}", "", markdown_table(method_rows(result)), ""]
    if result["pairs"]:
        parts += [markdown_table(pair_rows(result, target_diff)), "", power_text(result, target_diff), ""]
    parts.append(f"Basis: {result['basis']}. {result['note']}")
    return "\n".join(parts)
