"""The paper's claims judged by the user's own runs: one row per claim with the runs it used, the effect with its
interval, and a status (supported / contradicted / inconclusive with what would settle it / not testable here
with how to test it / not run yet with what to run). Shown by the dashboard's Evidence page and
``python -m adept claims --experiment NAME``; how to read it: docs/results.md."""

from __future__ import annotations

from adept.evidence.common import DEFAULT_TARGET, STATUSES, Context, claim_row
from adept.evidence.latency_claim import claim6
from adept.evidence.offset_claims import claim3, claim4, claim5
from adept.evidence.pilot_claim import claim2
from adept.evidence.results_claims import claim1, claim7

CLAIM8 = "ADePT beats full fine-tuning on data-scarce tasks (RTE, CoLA)."
HOW8 = ("needs a pretrained T5 and full fine-tuning, neither offline here: put a T5 checkpoint in a local folder "
        "and the GLUE RTE / CoLA files in --data-dir, train ADePT with `python -m adept train --backbone FOLDER "
        "--task glue-rte --data-dir DIR` for >= 3 seeds, fine-tune the whole model on the same splits with your own "
        "script, and compare the test metrics with `report`'s paired intervals")

__all__ = ["DEFAULT_TARGET", "STATUSES", "claims_table", "claim_row"]


def claim8(ctx: Context) -> dict:
    return claim_row(8, CLAIM8, "not testable here", next_step=HOW8, basis="no offline T5 or full fine-tuning")


CHECKS = (claim1, claim2, claim3, claim4, claim5, claim6, claim7, claim8)


def claims_table(experiment: str | None, *, df=None, target_diff: float = DEFAULT_TARGET, n_boot: int = 1000,
                 confidence: float = 0.95, metric: str | None = None) -> list[dict]:
    """The claims rows for the FINISHED runs of ``experiment`` (or of the runs frame ``df``)."""
    from adept import tracking

    frame = tracking.runs_dataframe(experiment) if df is None else df
    if not frame.empty:
        frame = frame[frame["status"] == "FINISHED"]
    ctx = Context(experiment, frame, target_diff=target_diff, n_boot=n_boot, confidence=confidence, metric=metric)
    return [fn(ctx) for fn in CHECKS]
