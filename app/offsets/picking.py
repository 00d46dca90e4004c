"""Which runs the Offsets page can inspect (their best adapter is saved), and which it picks first."""

from __future__ import annotations

import pandas as pd

from app import common


def usable_runs(df: pd.DataFrame) -> pd.DataFrame:
    """PT / DePT / ADePT runs with a saved best adapter: a finished run saved one; a stopped one did too if it
    had started (step 0 is evaluated)."""
    started = df["progress"].map(lambda p: (common.parse_progress(p) or (0, 1))[0] > 0)
    return df[
        ((df["status"] == "FINISHED") | ((df["status"] == "KILLED") & started))
        & df["method"].isin(["pt", "dept", "adept"])
    ]


def default_runs(frame: pd.DataFrame) -> list[str]:
    """The newest run of each method like the newest trained DePT / ADePT run: same sweep if it has one, else
    same backbone and task. Runs whose best adapter is trained (best step > 0) come before untrained ones."""
    best = (
        pd.to_numeric(frame.get("metrics.best/step"), errors="coerce")
        if "metrics.best/step" in frame
        else None
    )
    trained = frame.assign(_untrained=(best == 0) if best is not None else False)
    trained = trained.sort_values("_untrained", kind="stable")  # newest-first order kept within each group
    lead = trained[trained["method"].isin(["adept", "dept"])]
    lead = lead.iloc[0] if not lead.empty else trained.iloc[0]
    same = trained[(trained["backbone"] == lead["backbone"]) & (trained["task"] == lead["task"])]
    if lead["sweep"]:
        same = pd.concat([same[same["sweep"] == lead["sweep"]], same[same["sweep"] != lead["sweep"]]])
    picks = []
    for method in ("adept", "dept", "pt"):
        rows = same[same["method"] == method]
        if not rows.empty:
            picks.append(rows["run_id"].iloc[0])
    return picks
