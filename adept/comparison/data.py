"""Which runs a comparison is made of: finished runs grouped into comparisons (one per task x backbone, and per
value of any ``by`` param), each method an :class:`Arm` with its runs ordered by seed and their stored
per-example test predictions (None for runs from before predictions were logged)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

METHOD_ORDER = ("adept", "dept", "pt")
LABELS = {"adept": "ADePT", "dept": "DePT", "pt": "PT"}


def label(method: str) -> str:
    """ADePT / DePT / PT (other names as given)."""
    return LABELS.get(str(method).lower(), str(method))


@dataclass
class Arm:
    """One method of a comparison: its finished runs (ordered by seed), their logged metric values, and their
    stored predictions (one payload per run, None where a run has none)."""

    method: str
    run_ids: list[str]
    seeds: list[int | None]
    values: list[float]
    payloads: list[dict | None] = field(default_factory=list)
    budget: str = ""

    @property
    def name(self) -> str:
        return label(self.method)


@dataclass
class Group:
    """One comparison: its key (task, backbone, ``by`` values) and its arms in the order ADePT, DePT, PT, others."""

    key: dict
    arms: list[Arm]

    @property
    def title(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.key.items())


def _order(method: str) -> tuple:
    m = str(method).lower()
    return (METHOD_ORDER.index(m), m) if m in METHOD_ORDER else (len(METHOD_ORDER), m)


def groups_from_frame(df, metric: str = "test/accuracy", by: tuple[str, ...] = (), *, with_predictions: bool = True
                      ) -> list[Group]:
    """The comparisons in a runs frame (:func:`adept.tracking.runs_dataframe`): FINISHED runs with ``metric``,
    grouped by task, backbone and ``by`` params, one :class:`Arm` per method (runs sorted by seed). With
    ``with_predictions`` each run's ``predictions/test.json`` is read."""
    from adept.predictions import load_predictions

    col = f"metrics.{metric}"
    if df.empty or col not in df:
        return []
    missing = [b for b in by if f"params.{b}" not in df]
    if missing:
        raise ValueError(f"No run has param(s) {', '.join(missing)}: use RunConfig field names.")
    done = df[(df["status"] == "FINISHED") & df[col].notna()]
    keys = ["task", "backbone", *(f"params.{b}" for b in by)]
    out = []
    for values, g in done.fillna({k: "—" for k in keys[2:]}).groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        key = dict(zip(["task", "backbone", *by], values))
        arms = []
        for method, rows in sorted(g.groupby("method"), key=lambda kv: _order(kv[0])):
            rows = rows.assign(_seed=rows["seed"].astype("float").fillna(math.inf)).sort_values(["_seed", "run_id"])
            ids = rows["run_id"].tolist()
            solved = [rows.get(f"params.solved.{k}") for k in ("num_virtual_tokens", "rank")]
            budget = " / ".join(str(s.iloc[0]) for s in solved) if all(s is not None for s in solved) else ""
            arms.append(Arm(method=method, run_ids=ids,
                            seeds=[None if s is None or str(s) == "<NA>" else int(s) for s in rows["seed"]],
                            values=rows[col].astype(float).tolist(),
                            payloads=[load_predictions(r) for r in ids] if with_predictions else [None] * len(ids),
                            budget=budget))
        out.append(Group(key=key, arms=arms))
    return out
