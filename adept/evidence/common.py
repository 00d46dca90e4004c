"""What every claim check shares: the statuses, the row a claim produces, the experiment's finished runs and
their stored analyses, and a ratio interval from paired log ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_TESTABLE, NOT_RUN = "not testable here", "not run yet"
STATUSES = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, NOT_RUN)
DEFAULT_TARGET = 2.0  # metric points: the difference "what would settle it" sizes seeds / examples for


def claim_row(number: int, text: str, status: str, *, runs: Sequence[str] = (), effect: str = "",
              interval: str = "", next_step: str = "", basis: str = "") -> dict:
    """One row of the claims table. ``next_step``: what would settle it / how to test it / what to run."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {STATUSES}")
    return {"claim": number, "text": text, "status": status, "runs": list(dict.fromkeys(runs)), "effect": effect,
            "interval": interval, "next": next_step, "basis": basis}


@dataclass
class Context:
    """The experiment a claims table is computed for: its FINISHED runs (a runs frame), the options, and a cache
    of the runs' stored analyses."""

    experiment: str | None
    runs: object  # pandas DataFrame of FINISHED runs
    target_diff: float = DEFAULT_TARGET
    n_boot: int = 1000
    confidence: float = 0.95
    metric: str | None = None
    _analyses: dict = field(default_factory=dict)

    def run_ids(self, method: str | None = None) -> list[str]:
        df = self.runs
        if method is not None:
            df = df[df["method"].str.lower() == method]
        return df["run_id"].tolist()

    def analysis(self, run_id: str, name: str) -> dict | None:
        """``analysis/<name>.json`` of a run (None when it was not analysed)."""
        key = (run_id, name)
        if key not in self._analyses:
            from adept.tracking import load_json_artifact

            try:
                self._analyses[key] = load_json_artifact(run_id, f"analysis/{name}.json")
            except ValueError:
                self._analyses[key] = None
        return self._analyses[key]

    def analysed(self, name: str, method: str | None = None) -> list[tuple[str, dict]]:
        """``[(run_id, analysis)]`` of the runs (of ``method``) that have analysis ``name``, by seed."""
        out = []
        df = self.runs if method is None else self.runs[self.runs["method"].str.lower() == method]
        for rid in df.sort_values(["seed", "run_id"])["run_id"]:
            a = self.analysis(rid, name)
            if a:
                out.append((rid, a))
        return out


def analyze_hint(ctx: Context, methods: Sequence[str]) -> str:
    """What to run to get the missing analyses."""
    ids = [r for m in methods for r in ctx.run_ids(m)[:1]]
    if not ids:
        from adept.comparison.data import label

        return f"train {' and '.join(label(m) for m in methods)} runs in this experiment"
    return "run " + "; ".join(f"`python -m adept analyze {r}`" for r in ids) + " (or Offsets page: Analyse)"


def log_ratio_interval(log_ratios: Sequence[float], confidence: float = 0.95) -> dict:
    """``{"ratio", "low", "high", "n"}``: the geometric mean of paired ratios with a t interval on the logs
    (``low``/``high`` None with fewer than 2 values)."""
    from adept.stats import t_quantile

    x = [float(v) for v in log_ratios if math.isfinite(v)]
    if not x:
        return {"ratio": None, "low": None, "high": None, "n": 0}
    mean = sum(x) / len(x)
    out = {"ratio": math.exp(mean), "low": None, "high": None, "n": len(x)}
    if len(x) > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1))
        half = t_quantile((1 + confidence) / 2, len(x) - 1) * sd / math.sqrt(len(x))
        out.update(low=math.exp(mean - half), high=math.exp(mean + half))
    return out


def fmt_ratio(r: dict) -> tuple[str, str]:
    """(effect, interval) texts of a ratio interval."""
    if r["ratio"] is None:
        return "not measured", ""
    interval = "" if r["low"] is None else f"{r['low']:.3g} to {r['high']:.3g}"
    return f"{r['ratio']:.3g}", interval
