"""Sweep files: ``base`` x the cartesian product of ``grid`` lists (plus explicit ``runs``), checked whole
before anything is queued.

A sweep file is a mapping with only these keys: ``name`` and ``experiment`` (text), ``base`` (RunConfig
fields shared by every run), ``grid`` (field -> list of values, every combination is a run), ``runs`` (a
list of extra configs on top of ``base``) and ``concurrency`` (runs at once, >= 1). :func:`load_sweep`
refuses an empty file, a wrong shape, a grid larger than ``max_runs`` (default :data:`DEFAULT_MAX_RUNS`)
before expanding it, and any config of the expansion that :func:`adept.preflight.preflight` refuses, so a
sweep is queued entirely or not at all.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

from adept.config_files import read_mapping_file

SWEEP_KEYS = ("name", "experiment", "base", "grid", "runs", "concurrency")
DEFAULT_MAX_RUNS = 200
_SHORT = {"num_virtual_tokens": "m", "rank": "r", "lr_prompt": "lrp", "lr_offsets": "lro", "adept_depth": "depth",
          "adept_activation": "", "adept_bias": "bias", "budget": "budget"}


def _field_names() -> set[str]:
    from adept.config import RunConfig

    return {f.name for f in dataclasses.fields(RunConfig)}


def check_spec(spec: dict, where: str = "sweep") -> None:
    """Refuse a sweep mapping of the wrong shape with one ``ValueError`` (see the module docstring)."""
    unknown = [k for k in spec if k not in SWEEP_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} — a sweep has only "
                         f"{', '.join(SWEEP_KEYS)} (RunConfig fields go under base or grid)")
    for key in ("name", "experiment"):
        if key in spec and not (isinstance(spec[key], str) and spec[key].strip()):
            raise ValueError(f"{where}: {key} must be non-empty text, got {spec[key]!r}")
    if "concurrency" in spec:
        c = spec["concurrency"]
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 64:
            raise ValueError(f"{where}: concurrency must be a whole number from 1 to 64, got {c!r}")
    fields = _field_names()
    base = spec.get("base", {})
    if not isinstance(base, dict):
        raise ValueError(f"{where}: base must be a mapping of RunConfig fields, got {type(base).__name__}")
    grid = spec.get("grid", {})
    if not isinstance(grid, dict):
        raise ValueError(f"{where}: grid must be a mapping of field: [values], got {type(grid).__name__}")
    runs = spec.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError(f"{where}: runs must be a list of mappings of RunConfig fields")
    if not grid and not runs:
        raise ValueError(f"{where}: no grid and no runs — a sweep needs `grid:` (lists of values to combine) or "
                         "`runs:` (explicit configs); for one run use `python -m adept train`")
    for part, mapping in [("base", base), ("grid", grid)] + [(f"runs[{i}]", r) for i, r in enumerate(runs)]:
        bad = [k for k in mapping if k not in fields]
        if bad:
            raise ValueError(f"{where}: {part} has unknown field(s) {', '.join(map(str, bad))} — see "
                             "`python -m adept train --help` for the fields")
    for key, values in grid.items():
        if isinstance(values, list) and not values:
            raise ValueError(f"{where}: grid.{key} is an empty list — give at least one value or drop it")
        if isinstance(values, dict):
            raise ValueError(f"{where}: grid.{key} must be a list of values, got a mapping")


def grid_size(spec: dict) -> int:
    """How many runs ``spec`` expands to, computed without expanding it."""
    grid = spec.get("grid") or {}
    product = math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values()) if grid else 0
    return product + len(spec.get("runs") or [])


def _short_value(value) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def expand_sweep(spec: dict) -> list[dict]:
    """``base`` dict x the cartesian product of ``grid`` lists (plus optional explicit ``runs``)."""
    base = dict(spec.get("base", {}))
    grid = spec.get("grid", {})
    keys = list(grid)
    configs = []
    lists = {k: grid[k] if isinstance(grid[k], list) else [grid[k]] for k in keys}
    # Grid fields that vary and that the default run name (method-task-seed) does not show go into the name,
    # so that e.g. an ablation's runs can be told apart in lists and charts.
    named = [k for k in keys if len(lists[k]) > 1 and k not in ("method", "task", "seed")]
    for values in (itertools.product(*lists.values()) if keys else []):
        cfg = {**base, **dict(zip(keys, values))}
        if named and not cfg.get("run_name"):
            task = Path(cfg["data_file"]).stem if cfg.get("data_file") else cfg.get("task", "rotten-tomatoes")
            tags = "-".join(f"{_SHORT.get(k, k)}{_short_value(cfg[k])}" for k in named)
            cfg["run_name"] = f"{str(cfg.get('method', 'adept')).lower()}-{task}-{tags}-s{cfg.get('seed', 0)}"
        configs.append(cfg)
    for extra in spec.get("runs", []):
        configs.append({**base, **extra})
    if spec.get("experiment"):
        for c in configs:
            c.setdefault("experiment", spec["experiment"])
    return configs


def _describe(cfg: dict, keys: list[str]) -> str:
    return ", ".join(f"{k}={cfg.get(k)!r}" for k in keys) or "base"


def load_sweep(path: str, *, max_runs: int | None = None, sweep_id: str | None = None) -> tuple[dict, list[dict]]:
    """``(spec, configs)`` of sweep file ``path``: read safely, its shape checked, its size capped at
    ``max_runs`` (default :data:`DEFAULT_MAX_RUNS`) before expansion, and every expanded config through
    :func:`adept.preflight.preflight`. ``sweep_id`` becomes each config's ``sweep`` unless it sets one."""
    from adept.config import RunConfig
    from adept.preflight import preflight

    spec = read_mapping_file(path, "sweep file")
    if not spec:
        raise ValueError(f"Sweep file {path} is empty — a sweep needs `grid:` (lists of values to combine) or "
                         "`runs:` (explicit configs); see experiments/*.yaml")
    check_spec(spec, str(path))
    cap = DEFAULT_MAX_RUNS if max_runs is None else max_runs
    size = grid_size(spec)
    if size > cap:
        raise ValueError(f"{path} expands to {size:,} runs, over the cap of {cap:,} — shrink the grid, or pass "
                         f"--max-runs {size} to queue them all")
    configs = expand_sweep(spec)
    varied = list(spec.get("grid") or {})
    for i, c in enumerate(configs, start=1):
        if sweep_id:
            c.setdefault("sweep", sweep_id)
        try:
            preflight(RunConfig.from_dict(c))
        except ValueError as exc:
            raise ValueError(f"{path}: run {i} of {len(configs)} ({_describe(c, varied)}): {exc} — nothing was "
                             "queued") from exc
    return spec, configs
