"""The Launch form turned into run configs (``adept.config.RunConfig`` dicts) and checked: the form's own
errors (numbers, seeds, backbone, data file) and each config's ``field_errors``, shown under their fields."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app import common
from app.launch.fields import METHODS, MODE_BUDGET, input_errors, label
from app.launch.sizing import Sizing
from app.launch.sources import DataSource, backbone_errors, data_dir_errors, data_file_errors


@dataclass
class Form:
    """Everything the form says, parsed (a number is None where its text is not a valid number)."""

    methods: list[str]
    backbone: str
    source: DataSource
    size: Sizing
    lr_prompt: float | None
    lr_offsets: float | None
    lr_head: float | None
    seeds: list[int]
    max_steps: int | None
    batch_size: int | None
    eval_every: int | None
    warmup_steps: int | None
    eval_examples: int | None
    test_examples: int | None
    early_stopping_patience: int | None
    init: str
    zero_shot: bool
    experiment: str
    sweep: str  # as typed; empty = an automatic name when several runs are queued
    dtype: str = "auto"  # the frozen backbone's storage type (adept.precision)


def parse_float(text: str, name: str, errors: dict) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        errors[name] = f"{text!r} is not a number — type e.g. 0.3 or 1e-4"
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors[name] = f"{text!r} is not a finite number — type e.g. 0.3 or 1e-4"
        return None
    return value


MAX_SEEDS = 100


def parse_seeds(text: str, errors: dict) -> list[int]:
    limit = common.module("config_checks").SEED_LIMIT
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        seeds = [int(p) for p in parts if len(p) <= 30]
    except ValueError:
        seeds = None
    if seeds is None or len(seeds) != len(parts):
        errors["seed"] = f"{text!r} — list whole numbers separated by commas, e.g. 0, 1, 2"
        return []
    if not seeds:
        errors["seed"] = "no seed — give at least one, e.g. 0"
    elif any(not 0 <= s < limit for s in seeds):
        bad = next(s for s in seeds if not 0 <= s < limit)
        errors["seed"] = f"{bad:,} is out of range — seeds go from 0 to {limit - 1:,} (32-bit)"
    elif len(seeds) > MAX_SEEDS:
        errors["seed"] = f"{len(seeds)} seeds — list at most {MAX_SEEDS} (one run per method and seed)"
    elif len(set(seeds)) != len(seeds):
        errors["seed"] = "a seed is listed twice — each seed once"
    return list(dict.fromkeys(seeds)) if "seed" not in errors else []


def read_form(
    methods: list[str], backbone: str, source: DataSource, size: Sizing, texts: dict, values: dict
) -> tuple[Form, dict[str, str]]:
    """The :class:`Form` and ``{field: message}`` of everything wrong with it. ``texts``: the learning rates
    (``lr_prompt``, ``lr_offsets``, ``lr_head``) and ``seeds`` as typed; ``values``: the other training fields
    of :class:`Form`. The configs of the selected methods (all three when none is) are checked too."""
    errors: dict[str, str] = dict(input_errors())  # number fields that hold no valid number
    lrs = {k: parse_float(texts[k], k, errors) for k in ("lr_prompt", "lr_offsets", "lr_head")}
    seeds = parse_seeds(texts["seeds"], errors)
    errors.update(backbone_errors(backbone, size.d))
    errors.update(data_file_errors(source))
    errors.update(data_dir_errors(source))
    form = Form(methods=methods, backbone=backbone, source=source, size=size, seeds=seeds, **lrs, **values)
    if not errors and size.d is not None:
        probe = [config_for(form, m, seeds[0] if seeds else 0) for m in (methods or METHODS)]
        for field, msg in check(probe).items():
            errors.setdefault(field, msg)
    if not methods:
        errors.setdefault("method", "pick at least one method (all three to compare them at one budget)")
    return form, errors


def config_for(form: Form, method: str, seed: int, *, same_budget: bool = False, sweep: str = "") -> dict:
    """The RunConfig dict of one run from the form (``same_budget``: l, r solved from one budget)."""
    size, source = form.size, form.source
    cfg = {
        "method": method,
        "backbone": form.backbone,
        "max_length": size.max_length,
        "lr_prompt": form.lr_prompt,
        "lr_offsets": form.lr_offsets,
        "lr_head": form.lr_head,
        "batch_size": form.batch_size,
        "max_steps": form.max_steps,
        "warmup_steps": form.warmup_steps,
        "eval_every": form.eval_every,
        "eval_examples": form.eval_examples,
        "test_examples": form.test_examples or None,
        "early_stopping_patience": form.early_stopping_patience,
        "init": form.init,
        "zero_shot": bool(form.zero_shot),
        "dtype": form.dtype,
        "seed": seed,
        "experiment": form.experiment,
        "sweep": sweep,
    }
    if source.is_file:
        cfg.update(
            task="",
            data_file=source.data_file,
            text_column=source.text_column or "text",
            text_pair_column=source.text_pair_column or None,
            label_column=source.label_column or "label",
        )
    else:
        cfg.update(task=source.task, data_dir=source.data_dir or None)
    if size.mode == MODE_BUDGET or same_budget:
        cfg.update(budget=size.budget, num_virtual_tokens=None if method == "pt" else size.l_m, rank=None)
    elif method == "pt":
        cfg.update(budget=None, num_virtual_tokens=size.l_pt, rank=None)
    else:
        cfg.update(budget=None, num_virtual_tokens=size.l_m, rank=size.rank)
    return cfg


def check(configs: list[dict]) -> dict[str, str]:
    """``{field: message}`` of every config (messages of different methods joined), plus the form's own."""
    config = common.module("config")
    found: dict[str, list[str]] = {}
    for cfg in configs:
        try:
            rc = config.RunConfig.from_dict(cfg)
            problems = rc.field_errors()
        except getattr(config, "ConfigError", ValueError) as exc:
            problems = getattr(exc, "errors", None) or {"general": str(exc)}
        except (TypeError, ValueError) as exc:
            problems = {"general": str(exc)}
        for field, msg in problems.items():
            if msg not in found.setdefault(field, []):
                found[field].append(msg)
    return {f: " · ".join(m) for f, m in found.items()}


def size_warnings(configs: list[dict]) -> list[str]:
    """The sizes of these configs that are valid but look like typos (``RunConfig.size_warnings``), once each."""
    config = common.module("config")
    found: list[str] = []
    for cfg in configs:
        try:
            lines = config.RunConfig.from_dict(cfg).size_warnings()
        except (TypeError, ValueError):
            continue
        found += [w for w in lines if w not in found]
    return found


def place_errors(errors: dict[str, str], slot: dict) -> list[str]:
    """Show each error in the placeholder under its field; returns ``"**label**: message"`` of the others.
    A data-file error with no file field goes under the task, and a task error under the file field."""
    general = []
    for field, msg in errors.items():
        target = slot.get(field)
        if target is None and field == "data_file":
            target = slot.get("task")
        if target is None and field == "task" and "data_file" in slot:
            target = slot["data_file"]
        if target is not None:
            target.error(msg, icon=":material/error:")
        else:
            general.append(f"**{label(field)}**: {msg}")
    return general
