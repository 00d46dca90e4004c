"""How one of the papers' benchmark tasks is described (:class:`PaperTaskSpec`), and the pieces the GLUE,
SuperGLUE, MRQA and other spec modules share.

The tasks are in the T5 text-to-text form of the official code: the source is the space-joined
``"key: value"`` fields with no task prefix (``premise: ... hypothesis: ...``). Targets differ from the
paper on purpose: the paper's T5 produced digit ids ("0"/"1"/"2"); here a classification target is a
*word* per class (``entailment``/``neutral``/``contradiction``, ``no``/``yes``, ``negative``/``positive``
...) because decoder LMs score label words (rank classification). STS-B is regression with the target
``"%.1f"`` of the label rounded to T5's 0.2 grid; MRQA is generation (target = first gold answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PaperTaskSpec:
    """How one paper task reads its files and the hub."""

    name: str
    hub: str  # dataset id on the hub
    config: str | None
    kind: str
    keys: tuple[str, ...]  # template markers
    columns: tuple[tuple[str, tuple[str, ...]], ...]  # (field, accepted column names); label field last
    convention: str  # small | large | mnli | official (see adept.tasks.paper_splits)
    files: tuple[str, ...]  # official split names needed
    label_names: tuple[str, ...] = ()
    verbalizers: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("accuracy",)
    build: Callable[[dict], tuple[str, str | None]] | None = None  # fields -> (text, text_pair)
    label_offset: int = 0  # subtract from numeric labels (WinoGrande answers are 1/2)
    aliases: tuple[tuple[str, int], ...] = ()  # extra label strings
    subset: str | None = None  # MRQA: value of the "subset" column
    train_limit: int | None = None
    note: str = ""


def pair_fields(a: str, b: str):
    """``build`` for a two-field template: fields ``a`` and ``b`` become ``(text, text_pair)``."""
    return lambda f: (f[a], f[b])


COLUMNS = {  # common column specs
    "sentence": ("text", ("sentence",)),
    "s1": ("sentence1", ("sentence1",)),
    "s2": ("sentence2", ("sentence2",)),
    "label": ("label", ("label",)),
}
NO_YES = dict(verbalizers=("no", "yes"), aliases=(("false", 0), ("true", 1)))
SMALL = dict(convention="small", files=("train", "validation"))
LARGE = dict(convention="large", files=("train", "validation"))
