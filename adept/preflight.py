"""Checks that run before a run exists: :func:`preflight` turns every input that can be refused cheaply into
one ``ValueError``, so the run store only ever gets runs that really start.

On top of :meth:`adept.config.RunConfig.field_errors` (types, bounds, the budget solve) it loads the task
(a user's file: readable, the named columns, at least two labels; a registry task: its data present), checks
the device, that an encoder backbone is not asked to generate, and that the prompt plus the input fit the
backbone's position table. :func:`adept.training.train` and :func:`adept.launcher.enqueue` call it before
they create anything in MLflow.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adept.config import RunConfig
    from adept.tasks import Task

# Learned absolute position tables (an input past them is an index error inside the model). Rotary and
# relative-position backbones (Llama, T5) have no hard limit.
POSITION_LIMITS = {"minilm-l6": 512, "tiny-bert": 1024, "tiny-gpt2": 1024}
_ABSOLUTE_POSITION_TYPES = ("bert", "roberta", "distilbert", "electra", "xlm-roberta", "albert", "gpt2", "opt",
                            "gpt_neo", "mpnet")
_TASK_CACHE: OrderedDict = OrderedDict()
_TASK_CACHE_SIZE = 2  # a sweep reads its file once; a 1,000,000-row file is big to keep twice


def invalid(field: str, message: str) -> ValueError:
    """The error :meth:`RunConfig.validate` would raise for one field (a ``ConfigError``, same wording)."""
    from adept.config import ConfigError

    return ConfigError({field: message})


def check_device(device: str) -> None:
    """Refuse ``cuda`` / ``cuda:N`` when no such GPU is visible."""
    if not str(device).startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise invalid("device", f"{device} was asked for but no CUDA GPU is visible — use auto or cpu")
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise invalid("device", f"{device}: only {torch.cuda.device_count()} GPU(s) visible — use cuda:0 .. "
                                f"cuda:{torch.cuda.device_count() - 1}")


def _task_key(cfg: RunConfig) -> tuple:
    if cfg.data_file:
        st = Path(cfg.data_file).expanduser().stat()
        return ("file", str(Path(cfg.data_file).expanduser().resolve()), st.st_mtime_ns, st.st_size,
                cfg.text_column, cfg.text_pair_column, cfg.label_column)
    return ("task", cfg.task, cfg.data_dir)


def load_config_task(cfg: RunConfig) -> Task:
    """The task ``cfg`` trains on (a user's file or a registry task), loaded once per process for the same
    file contents and options: a sweep of many configs on one file reads it once. ``ValueError`` names the
    field (``data_file`` or ``task``)."""
    from adept.tasks import load_task

    key = _task_key(cfg)
    if key in _TASK_CACHE:
        _TASK_CACHE.move_to_end(key)
        return _TASK_CACHE[key]
    field = "data_file" if cfg.data_file else "task"
    try:
        if cfg.data_file:
            task = load_task(cfg.data_file, text_column=cfg.text_column, text_pair_column=cfg.text_pair_column,
                             label_column=cfg.label_column)
        else:
            task = load_task(cfg.task, data_dir=cfg.data_dir)
    except ValueError as exc:
        raise invalid(field, str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:  # unreadable bytes: name the file, not the decoder
        raise invalid(field, f"could not read {cfg.data_file or cfg.task}: {type(exc).__name__}: {exc}") from exc
    if not task.splits.get("train"):
        raise invalid(field, f"task {task.name!r} has no training examples — add some")
    _TASK_CACHE[key] = task
    while len(_TASK_CACHE) > _TASK_CACHE_SIZE:
        _TASK_CACHE.popitem(last=False)
    return task


def _backbone_facts(name: str) -> tuple[str | None, int | None]:
    """``(kind, absolute position limit)`` of a backbone without loading its weights (None when unknown)."""
    from adept.backbones import BACKBONE_INFO

    if name in BACKBONE_INFO:
        return BACKBONE_INFO[name].get("kind"), POSITION_LIMITS.get(name)
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(name, trust_remote_code=False)
    except Exception:  # noqa: BLE001 - field_errors already said whether the backbone can be found
        return None, None
    from adept.backbones import _kind_of

    limit = None
    if config.model_type in _ABSOLUTE_POSITION_TYPES or getattr(config, "position_embedding_type", "") == "absolute":
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return _kind_of(config), limit


def preflight(cfg: RunConfig) -> Task:
    """Refuse ``cfg`` with one ``ValueError`` ("Invalid run config: <field>: <what to do>") unless a run of it
    can start; returns its loaded task. Nothing is written anywhere."""
    cfg.validate()
    check_device(cfg.device)
    task = load_config_task(cfg)
    kind, limit = _backbone_facts(cfg.backbone)
    if kind == "encoder" and task.kind == "generation":
        raise invalid("backbone", f"task {task.name!r} needs text generation and {cfg.backbone} is an encoder — "
                                  "pick a causal or seq2seq backbone")
    length = cfg.solved()[0]
    if limit and length + cfg.max_length > limit:
        raise invalid("max_length", f"{length} prompt + {cfg.max_length} input tokens exceed {cfg.backbone}'s "
                                    f"{limit} positions — lower the max input length to at most {limit - length}")
    return task


def threads_from_env(default: int) -> int:
    """``ADEPT_THREADS`` (torch threads of a training process) as a positive int, else ``default``."""
    from adept.env import positive_int_env

    return positive_int_env("ADEPT_THREADS", default, "threads")
