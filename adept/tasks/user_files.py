"""A user's own file as a classification task.

``load_task("reviews.csv", text_column=..., text_pair_column=..., label_column=...)`` reads .csv / .jsonl /
.parquet (at most 200 MB and 1,000,000 rows). Labels (strings or integers) become class indices in sorted
order; ``label_names`` are the original values as strings; verbalisers are the names lower-cased when every
name is one alphabetic word, else ``label0``, ``label1``, ... (these share their first sub-word, so a scorer
must score whole words), unless ``verbalizers=[...]`` is passed. A ``split`` column (train / validation /
test; also dev, val, valid) is used when present (a missing validation or test split is carved from train,
10% each, stratified); otherwise a seeded stratified 80/10/10 split.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path

import numpy as np

from adept.tasks.splitting import cap_examples, split_sizes, stratified_split
from adept.tasks.table_files import EXTENSIONS, is_missing, read_table
from adept.tasks.task import SPLITS, Example, Task

MAX_FILE_BYTES = 200_000_000  # 200 MB
MAX_ROWS = 1_000_000

_SPLIT_ALIASES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                  "val": "validation", "dev": "validation", "test": "test", "testing": "test"}


def path_problem(path_str: str) -> str | None:
    """Why ``path_str`` cannot be a data file (missing, a folder, a pipe or device, unreadable, the wrong type,
    too large), or None when it can; checked with one ``stat``, nothing is read."""
    path = Path(path_str).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path} does not exist — check the path, or upload the file again"
    except OSError as exc:
        return f"{path} cannot be opened ({exc.strerror or exc}) — check the path and its permissions"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} is a folder, not a file — give a {' / '.join(EXTENSIONS)} file inside it"
    if not stat.S_ISREG(info.st_mode):
        return (f"{path} is not a regular file (a pipe, socket or device) — save the data to a "
                f"{' / '.join(EXTENSIONS)} file")
    if not os.access(path, os.R_OK):
        return f"{path} cannot be read (permission denied) — make it readable or copy it somewhere readable"
    if path.suffix.lower() not in EXTENSIONS:
        return f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(EXTENSIONS)}"
    if info.st_size > MAX_FILE_BYTES:
        return (f"{path} is too large ({info.st_size / 1e6:,.0f} MB > {MAX_FILE_BYTES / 1e6:,.0f} MB) — sample it "
                "down or split it before loading")
    return None


def _label_values(raw: list, column: str, path: Path) -> list:
    """Labels as comparable values: ints (integral numbers), bools, or strings. Raises on missing values."""
    missing = [i for i, v in enumerate(raw) if is_missing(v) or (isinstance(v, str) and not v.strip())]
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


def load_user_file(path_str: str, seed: int, max_examples: int | None, text_column: str,
                   text_pair_column: str | None, label_column: str, verbalizers: list[str] | None) -> Task:
    """A classification task from the file ``path_str`` (see the module docstring for the rules)."""
    path = Path(path_str).expanduser()
    if not path.exists() and not path.is_symlink():
        raise ValueError(f"data file {str(path)!r} not found: pass an existing .csv / .jsonl / .parquet file "
                         f"or a task name from list_tasks()")
    problem = path_problem(path_str)
    if problem:
        raise ValueError(problem)
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet" and size:
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:  # pyarrow's errors: a cut or foreign file
            raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}; check that it is valid parquet"
                             ) from exc
        if rows > MAX_ROWS:
            raise ValueError(f"{path} is too large ({rows:,} rows > {MAX_ROWS:,}): sample it down first")
    df = read_table(path)
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
        empty = [i for i, v in enumerate(vals) if is_missing(v) or not str(v).strip()]
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
            s = _SPLIT_ALIASES.get(str(v).strip().lower()) if not is_missing(v) else None
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
            sub = stratified_split([labels[i] for i in idx["train"]], seed, fractions=fr)
            base = idx["train"]
            idx["train"] = [base[j] for j in sub["train"]]
            for s in carve:
                idx[s] = [base[j] for j in sub[s]]
        rule = "the file's 'split' column"
        if carve:
            rule += f" ({', '.join(carve)} carved from train, 10% each)"
    else:
        idx = stratified_split(labels, seed)
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
    splits = {s: cap_examples(full[s], max_examples, seed) for s in SPLITS}
    keys = (text_column,) if text_pair_column is None else (text_column, text_pair_column)
    counts = Counter(labels)
    dist = ", ".join(f"{label_names[c]} {counts[c]:,}" for c in range(len(classes)))
    return Task(
        name=str(path), kind="classification", label_names=label_names, verbalizers=verbalizers,
        metric_names=["accuracy", "macro_f1"], splits=splits, source_keys=keys,
        description=(f"User file {path.name}: {len(df):,} rows, {len(classes)} classes ({dist}); text "
                     f"{text_column!r}" + (f" + {text_pair_column!r}" if text_pair_column else "")
                     + f", label {label_column!r}; verbalizers {verbalizers}; split: {rule}: "
                     f"{split_sizes(full)}. Metrics: accuracy (primary), macro F1."),
        info={"source": str(path), "split": rule, "sizes": {s: len(full[s]) for s in SPLITS}},
    )
