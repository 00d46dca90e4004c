"""Loading a paper task's examples: from ``data_dir`` or, when online, from the Hugging Face hub.

``data_dir`` holds files ``<data_dir>/<split>.{csv,jsonl,parquet}`` (or ``<data_dir>/<task-name>/<split>.*``)
with the dataset's original column names; without it the official splits come through
``datasets.load_dataset`` (unless ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` is set). Rows become
:class:`~adept.tasks.task.Example` s through the task's :class:`~adept.tasks.paper_spec.PaperTaskSpec`
(columns checked, labels mapped to class indices, MRQA answers parsed), then the official splits become
train / validation / test by the task's split convention (:mod:`adept.tasks.paper_splits`).
"""

from __future__ import annotations

import ast
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from adept.tasks.metrics import parse_float
from adept.tasks.mrqa import pad_punctuation
from adept.tasks.paper_spec import PaperTaskSpec
from adept.tasks.paper_splits import CONVENTION_TEXT, apply_convention
from adept.tasks.splitting import cap_examples, split_sizes
from adept.tasks.table_files import EXTENSIONS, is_missing, read_table
from adept.tasks.task import SPLITS, Example, Task


def _is_offline() -> bool:
    """True when the hub must not be contacted (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE set)."""
    flags = (os.environ.get(v, "").strip().lower() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(f in ("1", "true", "yes", "on") for f in flags)


def _files_help(spec: PaperTaskSpec) -> str:
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


def _hub_frame(spec: PaperTaskSpec, split: str) -> pd.DataFrame:
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
    if is_missing(v):
        return []
    return [str(a) for a in v if not is_missing(a) and str(a).strip()]


def _class_index(raw, k: int, aliases: dict[str, int], offset: int) -> int | None:
    """A stored label as a class index in ``0..k-1``; None when it is missing or not a known label."""
    if is_missing(raw):
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


def _paper_examples(spec: PaperTaskSpec, df: pd.DataFrame, where: str, pad: bool) -> list[Example]:
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
        f = {name: ("" if is_missing(resolved[name][i]) else resolved[name][i]) for name in text_fields}
        f = {name: (v if name.endswith("_index") else str(v)) for name, v in f.items()}
        if pad:
            f = {name: (pad_punctuation(v) if isinstance(v, str) else v) for name, v in f.items()}
        raw = resolved[label_field][i]
        if spec.kind == "classification":
            label = _class_index(raw, k, aliases, spec.label_offset)
        elif spec.kind == "regression":
            label = None if is_missing(raw) else parse_float(raw, default=math.nan)
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


def load_paper_task(spec: PaperTaskSpec, data_dir: str | None, seed: int, max_examples: int | None,
                    pad: bool) -> Task:
    """The task ``spec`` from ``data_dir`` (or the hub), split by its convention, each split capped at
    ``max_examples``; ``pad`` applies T5's punctuation padding (MRQA)."""
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
            parts[s] = _paper_examples(spec, read_table(p), str(p), pad)
        source = str(root)
    else:
        for s in spec.files:
            parts[s] = _paper_examples(spec, _hub_frame(spec, s), f"{spec.hub} {s}", pad)
        source = f"hub:{spec.hub}" + (f"/{spec.config}" if spec.config else "")
    full = apply_convention(spec, parts, seed)
    splits = {s: cap_examples(full[s], max_examples, seed) for s in SPLITS}
    rule = CONVENTION_TEXT[spec.convention].format(seed=seed, test=spec.files[-1])
    template = " ".join(f"{k}: {{{k}}}" for k in spec.keys)
    target = {"classification": f"verbalizers {list(spec.verbalizers)}", "regression": "'%.1f' score",
              "generation": "first answer"}[spec.kind]
    desc = (f"{spec.name} ({spec.hub}{' ' + spec.config if spec.config else ''}), {spec.kind}. "
            f"Source '{template}', target {target}; metrics {list(spec.metrics)} (first = primary). "
            f"Splits: {rule}: {split_sizes(full)}. {spec.note}").strip()
    return Task(name=spec.name, kind=spec.kind, label_names=list(spec.label_names),
                verbalizers=list(spec.verbalizers), metric_names=list(spec.metrics), splits=splits,
                description=desc, source_keys=spec.keys,
                info={"source": source, "split": rule, "sizes": {s: len(full[s]) for s in SPLITS}})
