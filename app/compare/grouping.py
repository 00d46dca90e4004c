"""Group runs by any config field (as ``python -m adept report --by`` does) and show what differs.

A run's config lives in its ``params.<field>`` columns (every RunConfig field as a string) and what training
solved in ``params.solved.*``; ``method`` and ``seed`` also come from tags. Values are compared as the
strings MLflow stores, and shown as numbers where they are numbers.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

SKIP = {"run_name", "resume_from", "extra", "experiment", "sweep", "init_text", "device"}
SOLVED = {"params.solved.num_virtual_tokens": "solved l", "params.solved.rank": "solved r"}


def _config_fields() -> list[str]:
    from adept.config import RunConfig

    return [f.name for f in dataclasses.fields(RunConfig) if f.name not in SKIP]


def field_column(field: str) -> str:
    """The runs-frame column of a field name offered by :func:`fields`."""
    if field in ("method", "seed", "sweep", "backbone", "task"):
        return field
    inv = {v: k for k, v in SOLVED.items()}
    return inv.get(field, f"params.{field}")


def _values(df: pd.DataFrame, field: str) -> pd.Series:
    col = field_column(field)
    if col not in df:
        return pd.Series([""] * len(df), index=df.index, dtype=str)
    return df[col].astype("string").fillna("").astype(str).replace({"None": "", "nan": "", "<NA>": ""})


def varied(df: pd.DataFrame) -> list[str]:
    """Fields whose value differs between the runs of ``df`` (method first, seed last)."""
    names = ["method", *[f for f in _config_fields() if f != "method"], *SOLVED.values(), "sweep"]
    out = [f for f in dict.fromkeys(names) if _values(df, f).nunique() > 1]
    return sorted(out, key=lambda f: (f != "method", f == "seed", f == "sweep"))


def fields(df: pd.DataFrame) -> list[str]:
    """Fields offered for "Group by": the varied ones first, then every other config field."""
    first = varied(df)
    return first + [f for f in ["method", *_config_fields(), *SOLVED.values()] if f not in first]


def group_labels(df: pd.DataFrame, field: str) -> pd.Series:
    """``"lr_prompt=0.3"`` per run (method names as PT / DePT / ADePT)."""
    from app.charts import method_label

    v = _values(df, field)
    if field == "method":
        return v.map(method_label)
    return field + "=" + v.where(v != "", "—")


def param_diff(df: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """One row per run, one column per field that differs between them (empty frame when none does)."""
    cols = [f for f in varied(df) if f != "sweep"] + (["sweep"] if "sweep" in varied(df) else [])
    out = pd.DataFrame({"run": [labels.get(r, r[:8]) for r in df["run_id"]]}, index=df.index)
    from app.charts import method_label

    for f in cols:
        v = _values(df, f)
        num = pd.to_numeric(v.where(v != ""), errors="coerce")
        if f == "method":
            out[f] = v.map(method_label)
        elif (v != "").all() and num.notna().all():
            out[f] = num
        else:
            out[f] = v.where(v != "", "—")  # unset (None): PT's prompt length is solved from the budget
    return out.reset_index(drop=True)


def numeric_or_codes(df: pd.DataFrame, field: str) -> tuple[list[float], list[float] | None, list[str] | None]:
    """Values of ``field`` for a parallel-coordinates axis: numbers as they are; text as codes 0..k-1 with
    their tick labels. Returns ``(values, tickvals, ticktext)`` (ticks None for numbers)."""
    v = _values(df, field)
    num = pd.to_numeric(v.where(v != ""), errors="coerce")
    if num.notna().all():
        return num.tolist(), None, None
    cats = sorted(set(v))
    code = {c: i for i, c in enumerate(cats)}
    return [float(code[x]) for x in v], [float(i) for i in range(len(cats))], [c or "—" for c in cats]
