"""Comparisons of methods that say how sure they are: which runs form a comparison (:mod:`.data`), the
intervals, paired tests, verdicts and power figures (:mod:`.compute`), and their markdown (:mod:`.render`).
Used by ``python -m adept report``, the dashboard's Compare page and the claims (:mod:`adept.evidence`)."""

from adept.comparison.compute import compare_group
from adept.comparison.data import Arm, Group, groups_from_frame, label

__all__ = ["Arm", "Group", "compare_group", "compare_experiment", "groups_from_frame", "label"]


def compare_experiment(experiment: str | None, metric: str = "test/accuracy", by: tuple[str, ...] = (), *,
                       df=None, **kwargs) -> list[dict]:
    """Every comparison of an experiment (or of the frame ``df``), computed (:func:`compare_group`)."""
    from adept import tracking

    frame = tracking.runs_dataframe(experiment) if df is None else df
    return [compare_group(g, metric, **kwargs) for g in groups_from_frame(frame, metric, by)]
