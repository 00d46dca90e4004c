"""What each :class:`~adept.config.RunConfig` field accepts: types, bounds and the cheap cross-field checks,
as ``{field: "what is wrong — what to do"}`` messages (:func:`field_errors`), plus the sizes worth a
warning before launching (:func:`size_warnings`).

Every number is bounded by what the code and torch accept, so a typo is refused here, before a run exists,
instead of failing inside the training process: the seed feeds ``torch.Generator.manual_seed(seed * 1000 +
epoch)`` and numpy (which takes 32-bit seeds), so ``0 <= seed < 2**32``; sizes have caps far beyond any
prompt-tuning run but short of an allocator error; floats must be finite.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from adept.budget import METHODS

if TYPE_CHECKING:
    from adept.config import RunConfig

SEED_LIMIT = 2**32  # numpy's seeds are 32-bit; torch's take seed * 1000 + epoch < 2**64
MAX_TRAINABLE = 100_000_000  # prompt + offsets; the paper's budgets are ~10^4 - 10^5
MAX_BATCH_TOKENS = 262_144  # batch x (prompt + input) tokens in one forward pass
MAX_TEXT = 250  # names: run, sweep, columns

# field -> (lowest, highest, what to do past the top)
INT_BOUNDS: dict[str, tuple[int, int, str]] = {
    "max_length": (1, 8192, "inputs are truncated to this many tokens"),
    "batch_size": (1, 1024, "use a smaller batch"),
    "max_steps": (1, 10_000_000, "use fewer steps"),
    "eval_every": (1, 10_000_000, "evaluate more often"),
    "eval_examples": (1, 10_000_000, "use fewer examples"),
    "eval_batch_size": (1, 1024, "use a smaller batch"),
    "warmup_steps": (0, 10_000_000, "use fewer steps"),
    "early_stopping_patience": (0, 100_000, "0 turns it off"),
    "seed": (0, SEED_LIMIT - 1, "seeds are 32-bit"),
    "adept_depth": (1, 16, "use a shallower offset network"),
}
# Optional ints: None means "solve it" / "all".
OPTIONAL_INT_BOUNDS: dict[str, tuple[int, int, str]] = {
    "budget": (1, MAX_TRAINABLE, "prompt tuning trains thousands to millions of parameters"),
    "num_virtual_tokens": (0, 4096, "the paper uses 100 (PT) and 60 (DePT, ADePT)"),
    "rank": (1, 65_536, "leave it empty to solve it from the budget"),
    "test_examples": (0, 10_000_000, "leave it empty (or 0) for the whole test split"),
    "max_train_examples": (0, 10_000_000, "leave it empty (or 0) for the whole training split"),
}
# field -> (lowest, lowest included, highest)
FLOAT_BOUNDS: dict[str, tuple[float, bool, float]] = {
    "lr_prompt": (0.0, False, 10.0),
    "lr_offsets": (0.0, False, 10.0),
    "lr_head": (0.0, False, 10.0),
    "weight_decay": (0.0, True, 10.0),
    "grad_clip": (0.0, True, 1e6),
}
CHOICES = {
    "init": ("text", "random"),
    "padding_side": ("left", "right"),
    "adept_activation": ("relu", "gelu", "identity"),
    "dtype": ("auto", "float32", "bfloat16", "float16"),
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_error(value, lo: int, hi: int, hint: str) -> str | None:
    if not _is_int(value):
        return f"{value!r} is not a whole number — type one from {lo:,} to {hi:,}"
    if value < lo:
        return f"{value:,} is below {lo:,} — use a whole number from {lo:,} to {hi:,}"
    if value > hi:
        return f"{value:,} is over {hi:,} — {hint}"
    return None


def _float_error(value, lo: float, lo_ok: bool, hi: float) -> str | None:
    low = f"{'[' if lo_ok else '('}{lo:g}, {hi:g}]"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a number — type one in {low}, e.g. 0.3 or 1e-4"
    if not math.isfinite(value):
        return f"{value!r} is not a finite number — type one in {low}, e.g. 0.3 or 1e-4"
    if value < lo or (value == lo and not lo_ok) or value > hi:
        return f"{value:g} is outside {low}"
    return None


def _name_error(value, *, empty_ok: bool, limit: int = MAX_TEXT) -> str | None:
    if value is None and empty_ok:
        return None
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if not value.strip() and not empty_ok:
        return "empty — type a name"
    if len(value) > limit:
        return f"{len(value):,} characters — use at most {limit:,}"
    return None


def field_errors(cfg: RunConfig) -> dict[str, str]:
    """``{field: message}`` for every invalid field of ``cfg`` (empty when valid); cheap: no file is read
    beyond a ``stat`` and no model is loaded (:mod:`adept.preflight` does the rest)."""
    from adept.backbones import backbone_d_model
    from adept.tasks.user_files import path_problem

    err: dict[str, str] = {}

    def need(problem: str | None, name: str) -> None:
        if problem and name not in err:
            err[name] = problem

    method = cfg.method.lower() if isinstance(cfg.method, str) else cfg.method
    need(None if method in METHODS else f"{cfg.method!r} is not a method — use pt, dept or adept", "method")
    for name, (lo, hi, hint) in INT_BOUNDS.items():
        need(_int_error(getattr(cfg, name), lo, hi, hint), name)
    for name, (lo, hi, hint) in OPTIONAL_INT_BOUNDS.items():
        value = getattr(cfg, name)
        if value is not None:
            need(_int_error(value, lo, hi, hint), name)
    for name, (lo, lo_ok, hi) in FLOAT_BOUNDS.items():
        need(_float_error(getattr(cfg, name), lo, lo_ok, hi), name)
    for name, options in CHOICES.items():
        value = getattr(cfg, name)
        need(None if value in options else f"{value!r} — use {' or '.join(options)}", name)
    for name in ("zero_shot", "adept_bias"):
        value = getattr(cfg, name)
        need(None if isinstance(value, bool) else f"{value!r} — use true or false", name)
    need(None if isinstance(cfg.device, str) and (cfg.device in ("auto", "cpu", "cuda") or (
        cfg.device.startswith("cuda:") and cfg.device[5:].isdigit())) else
         f"{cfg.device!r} — use auto, cpu, cuda or cuda:N", "device")
    if _is_int(cfg.warmup_steps) and _is_int(cfg.max_steps) and "max_steps" not in err:
        need(None if cfg.warmup_steps <= cfg.max_steps else
             f"{cfg.warmup_steps:,} warmup steps exceed the {cfg.max_steps:,} training steps — lower it",
             "warmup_steps")
    if cfg.init == "text" and not (isinstance(cfg.init_text, str) and cfg.init_text.strip()):
        need("empty — type the text the prompt starts from, or use random initialisation", "init_text")
    elif cfg.init == "text":
        need(_name_error(cfg.init_text, empty_ok=False, limit=2000), "init_text")
    for name in ("run_name", "sweep"):
        need(_name_error(getattr(cfg, name), empty_ok=True), name)
    need(_name_error(cfg.experiment, empty_ok=True, limit=500), "experiment")
    need(None if isinstance(cfg.extra, dict) else f"{cfg.extra!r} — a mapping of extra settings", "extra")
    need(None if cfg.resume_from is None or (isinstance(cfg.resume_from, str) and cfg.resume_from.strip())
         else f"{cfg.resume_from!r} — a run id", "resume_from")

    backbone_ok = isinstance(cfg.backbone, str) and bool(cfg.backbone.strip())
    need(None if backbone_ok else "empty — pick a backbone", "backbone")
    if cfg.data_file:
        need(_name_error(cfg.data_file, empty_ok=False, limit=4096), "data_file")
        if "data_file" not in err:
            need(path_problem(cfg.data_file), "data_file")
        for name in ("text_column", "label_column"):
            need(_name_error(getattr(cfg, name), empty_ok=False), name)
        need(_name_error(cfg.text_pair_column, empty_ok=True), "text_pair_column")
    else:
        need(None if isinstance(cfg.task, str) and cfg.task.strip() else
             "empty — pick a task or upload a data file", "task")
    if cfg.data_dir is not None:
        from pathlib import Path

        ok = isinstance(cfg.data_dir, str) and Path(cfg.data_dir).expanduser().is_dir()
        need(None if ok else f"{cfg.data_dir!r} is not a folder — give the folder that holds the task's files",
             "data_dir")
    if "backbone" not in err and backbone_d_model(cfg.backbone.strip()) is None:
        err["backbone"] = (f"cannot tell the width of {cfg.backbone!r} — use a registry name (smollm2-135m, "
                           "minilm-l6, tiny-*), a local model folder, or a hub id while online")
    if not err:
        _check_sizes(cfg, err)
    return err


def _check_sizes(cfg: RunConfig, err: dict[str, str]) -> None:
    """The solved ``(l, r)``: it exists, PT has a prompt, and the counts stay under the caps."""
    try:
        sol = cfg.solved()
    except ValueError as exc:
        err["budget" if cfg.budget is not None else "num_virtual_tokens"] = str(exc)
        return
    where = "budget" if cfg.budget is not None else ("rank" if cfg.rank is not None else "num_virtual_tokens")
    if sol.params > MAX_TRAINABLE:
        err[where] = (f"l = {sol[0]:,}, r = {sol[1]:,} train {sol.params:,} parameters, over the cap of "
                      f"{MAX_TRAINABLE:,} — lower the budget, the prompt length or the rank")
        return
    tokens = max(cfg.batch_size, cfg.eval_batch_size) * (sol[0] + cfg.max_length)
    if tokens > MAX_BATCH_TOKENS:
        err["batch_size"] = (f"a batch of {max(cfg.batch_size, cfg.eval_batch_size):,} × ({sol[0]:,} prompt + "
                             f"{cfg.max_length:,} input) tokens = {tokens:,}, over {MAX_BATCH_TOKENS:,} in one pass "
                             "— lower the batch size or the max input length")


LONG_RUN_STEPS = 100_000
LONG_PROMPT = 300
LONG_RUN_S = 24 * 3600


def size_warnings(cfg: RunConfig) -> list[str]:
    """Sizes that are valid but probably a typo (shown before launching; the form asks to confirm them)."""
    from adept.config import estimate_seconds

    out = []
    if cfg.max_steps > LONG_RUN_STEPS:
        out.append(f"{cfg.max_steps:,} training steps: the paper's runs take a few thousand")
    try:
        length = cfg.solved()[0]
        d = cfg.d_model()
    except ValueError:
        return out
    if length > LONG_PROMPT:
        out.append(f"a {length:,}-token prompt on a {d:,}-wide backbone: the paper uses 100 tokens (PT) and 60 "
                   "(DePT, ADePT), and every token of the prompt slows every step")
    seconds = estimate_seconds(cfg)
    if seconds > LONG_RUN_S:
        out.append(f"about {seconds / 86400:,.1f} days per run on a 2-core CPU")
    return out
