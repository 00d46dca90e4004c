"""The task registry and its entry points: :func:`list_tasks`, :func:`task_descriptions` and
:func:`load_task`, which dispatches a name to the offline tasks, the paper tasks or a user's file."""

from __future__ import annotations

import os
from pathlib import Path

from adept.tasks.glue import GLUE_TASKS
from adept.tasks.mrqa import MRQA_TASKS
from adept.tasks.other_paper_tasks import OTHER_PAPER_TASKS
from adept.tasks.paper_loading import load_paper_task
from adept.tasks.paper_spec import PaperTaskSpec
from adept.tasks.rotten_tomatoes import OFFLINE_TASKS, load_offline_task
from adept.tasks.superglue import SUPERGLUE_TASKS
from adept.tasks.table_files import EXTENSIONS
from adept.tasks.task import Task
from adept.tasks.user_files import load_user_file

PAPER_TASKS: dict[str, PaperTaskSpec] = {
    s.name: s for s in GLUE_TASKS + SUPERGLUE_TASKS + OTHER_PAPER_TASKS + MRQA_TASKS
}


def _check_max_examples(max_examples) -> None:
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValueError(f"max_examples={max_examples!r}: pass a positive integer or None (no cap)")


def list_tasks() -> list[str]:
    """Registry names: the two offline tasks first, then the paper's tasks (which need data)."""
    return list(OFFLINE_TASKS) + list(PAPER_TASKS)


def task_descriptions() -> dict[str, str]:
    """``{name: one line}`` for every registry task, without loading any data (for a task picker)."""
    out = {"rotten-tomatoes": "Rotten Tomatoes sentiment (fresh vs rotten), offline, 12,752 snippets",
           "rt-subjectivity": "Rotten Tomatoes plot vs review (subjectivity), offline, imbalanced 8/92"}
    for spec in PAPER_TASKS.values():
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
            return load_offline_task(name, seed, max_examples)
        return load_paper_task(PAPER_TASKS[name], data_dir, seed, max_examples,
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
    return load_user_file(name, seed, max_examples, opts["text_column"], opts["text_pair_column"] or None,
                          opts["label_column"], opts["verbalizers"])
