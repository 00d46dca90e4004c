"""The two types every task source builds: :class:`Example` (one text, pair and label) and :class:`Task`
(its splits, the text-to-text template, the verbalisers and the metrics)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from adept.tasks.metrics import (
    accuracy,
    f1_score,
    macro_f1,
    matthews_corrcoef,
    parse_float,
    pearson,
    spearman,
    squad_em,
    squad_f1,
)

KINDS = ("classification", "regression", "generation")
SPLITS = ("train", "validation", "test")
# Characters kept of each text before it is ever tokenized: a 30 MB cell would otherwise make the tokenizer
# take gigabytes. 40,000 characters is ~10 per token of the longest input a run may read (8,192 tokens), so
# the cut never reaches a token the model sees in ordinary text; how many were cut is in ``info``.
MAX_TEXT_CHARS = 40_000


@dataclass(frozen=True)
class Example:
    """One example: the raw text (and optional second text) and its label.

    ``label`` is a class index (classification), a float (regression) or the answer text (generation).
    """

    text: str
    text_pair: str | None = None
    label: int | float | str = 0


@dataclass
class Task:
    """A task: its examples per split, how to turn an example into model text, and how to score.

    ``source_keys`` are the template markers: with ``("premise", "hypothesis")`` the source is
    ``"premise: {text} hypothesis: {text_pair}"``. Empty: the source is the text itself (and the pair
    on a new line). Templates with three fields (WiC, MultiRC, WinoGrande) carry the later ones inside
    ``text_pair`` with their markers (WiC: ``text_pair = "{sentence2} word: {word}"``), so the source is
    the paper's template exactly and ``(text, text_pair)`` stays a usable pair for encoders.
    ``info`` holds where the data came from, how it was split and the full split sizes.
    """

    name: str
    kind: str
    label_names: list[str]
    verbalizers: list[str]
    metric_names: list[str]
    splits: dict[str, list[Example]]
    description: str = ""
    source_keys: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Task kind {self.kind!r} is not one of {KINDS}")
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise ValueError(f"Task {self.name!r} lacks splits {missing}; every task has {list(SPLITS)}")
        if self.kind == "classification" and len(self.verbalizers) != len(self.label_names):
            raise ValueError(f"Task {self.name!r}: {len(self.verbalizers)} verbalizers for "
                             f"{len(self.label_names)} classes")
        self._cap_texts()

    def _cap_texts(self) -> None:
        """Cut every text (and text pair) to :data:`MAX_TEXT_CHARS`; ``info["truncated_texts"]`` counts them."""
        cut = 0

        def short(ex: Example) -> Example:
            nonlocal cut
            long_pair = ex.text_pair is not None and len(ex.text_pair) > MAX_TEXT_CHARS
            if len(ex.text) <= MAX_TEXT_CHARS and not long_pair:
                return ex
            cut += 1
            return dataclasses.replace(ex, text=ex.text[:MAX_TEXT_CHARS],
                                       text_pair=ex.text_pair[:MAX_TEXT_CHARS] if long_pair else ex.text_pair)

        for split, examples in self.splits.items():
            if any(len(ex.text) > MAX_TEXT_CHARS or len(ex.text_pair or "") > MAX_TEXT_CHARS for ex in examples):
                self.splits[split] = [short(ex) for ex in examples]
        self.info["truncated_texts"] = self.info.get("truncated_texts", 0) + cut
        if cut:
            self.description += (f" {cut:,} text(s) longer than {MAX_TEXT_CHARS:,} characters were cut to "
                                 f"{MAX_TEXT_CHARS:,}.")

    @property
    def num_labels(self) -> int:
        """Number of classes (0 for regression and generation)."""
        return len(self.label_names)

    def source_text(self, ex: Example) -> str:
        """The input text the model reads: ``"k1: text k2: text_pair"`` with this task's keys."""
        if not self.source_keys:
            return ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"
        out = f"{self.source_keys[0]}: {ex.text}"
        if ex.text_pair is not None:
            key = self.source_keys[1] if len(self.source_keys) > 1 else None
            out += f" {key}: {ex.text_pair}" if key else f" {ex.text_pair}"
        return out

    def target_text(self, ex: Example) -> str:
        """What the LM should produce: the class's verbaliser, ``"%.1f"`` of the score on T5's 0.2
        grid (``round(5 y) / 5``) for regression, the answer for generation."""
        if self.kind == "classification":
            return self.verbalizers[int(ex.label)]
        if self.kind == "regression":
            return "%.1f" % (round(float(ex.label) * 5) / 5)
        return str(ex.label)

    def compute_metrics(self, predictions: Sequence, references: Sequence) -> dict[str, float]:
        """Score predictions against references; returns ``{metric: value}`` for ``metric_names``, 0-100.

        Classification: predictions are class indices (a verbaliser or label name string is also
        accepted; anything else counts as wrong). Regression: floats, or strings parsed as floats (an
        unparsable string counts as -1, as in T5). Generation: strings; a reference may be one answer or
        a list of acceptable answers (the best match counts, as in SQuAD).
        """
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references: "
                             "pass one prediction per reference")
        if len(references) == 0:
            raise ValueError("no predictions to score: pass at least one example")
        if self.kind == "classification":
            preds = [self._class_of(p) for p in predictions]
            refs = [int(r) for r in references]
            fns: dict[str, Callable[[], float]] = {
                "accuracy": lambda: accuracy(preds, refs),
                "f1": lambda: f1_score(preds, refs, positive=1),
                "macro_f1": lambda: macro_f1(preds, refs, self.num_labels),
                "mcc": lambda: matthews_corrcoef(preds, refs),
            }
        elif self.kind == "regression":
            predf = [parse_float(p) for p in predictions]
            reff = [float(r) for r in references]
            fns = {"pearson": lambda: pearson(predf, reff), "spearman": lambda: spearman(predf, reff)}
        else:
            preds_s = ["" if p is None else str(p) for p in predictions]
            fns = {"f1": lambda: squad_f1(preds_s, references), "em": lambda: squad_em(preds_s, references)}
        unknown = [m for m in self.metric_names if m not in fns]
        if unknown:
            raise ValueError(f"Task {self.name!r}: metrics {unknown} are not defined for {self.kind}")
        return {m: float(fns[m]()) for m in self.metric_names}

    def _class_of(self, p) -> int:
        """A prediction as a class index; -1 (always wrong) when it names no class."""
        if p is None:
            return -1
        if isinstance(p, (bool, np.bool_, int, np.integer)):
            v = int(p)
            return v if 0 <= v < self.num_labels else -1
        if isinstance(p, (float, np.floating)):
            return int(p) if float(p).is_integer() and 0 <= p < self.num_labels else -1
        s = str(p).strip().lower()
        for names in (self.verbalizers, self.label_names):
            low = [n.lower() for n in names]
            if s in low:
                return low.index(s)
        return -1
