"""Time estimates from this machine's own measurements.

Every run that finishes records what its parts cost on this host (:class:`RunTimer`): seconds per token
of a training step and of an evaluation forward pass (tokens = prompt + input, per example), the time to
load the backbone and prepare, the tokens per example it saw and the size of its splits. They go to
``<ADEPT_HOME>/cache/timings.json`` keyed by host, backbone, dtype, method and torch threads, the last
:data:`KEEP` runs each (their median is used).

:func:`estimate` adds up a config's parts from those figures: ``max_steps`` training steps, one
evaluation at step 0 and every ``eval_every`` steps (and at the last), the zero-shot pass over the test
split (causal / seq2seq classification, unless this host already cached it), the test pass, and loading.
Without a record for the backbone x dtype x method it borrows one of another method on the same backbone
and dtype (the methods cost nearly the same), else falls back to the built-in per-backbone figures
(measured on a 2-core Xeon, float32), and says which (``source``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import time
from pathlib import Path

KEEP = 5
DEFAULT_TEST_SIZE = 1300
DEFAULT_TOKENS = 48  # tokens per example of a short-text task, when none has been measured


def _store() -> Path:
    from adept.tracking import adept_home

    return Path(adept_home()) / "cache" / "timings.json"


def _read() -> dict:
    path = _store()
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _write(table: dict) -> None:
    path = _store()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=1))
    tmp.replace(path)


def _threads() -> int:
    import torch

    from adept.preflight import threads_from_env

    return threads_from_env(torch.get_num_threads())


def cost_key(backbone: str, dtype: str, method: str, threads: int | None = None) -> str:
    return f"{socket.gethostname()}|{backbone}|{dtype}|{method}|threads {threads or _threads()}"


class RunTimer:
    """Measures one run's parts (see the module docstring) and records them when it finishes."""

    def __init__(self, cfg, dtype: str, num_virtual_tokens: int, t_start: float):
        self.cfg, self.dtype, self.l, self.t_start = cfg, dtype, num_virtual_tokens, t_start
        self.phases: dict[str, list[float]] = {}  # name -> [seconds, tokens, examples]
        self.train = [0.0, 0, 0]  # seconds, tokens, steps (from the second step on)
        self.first: tuple[float, int] | None = None  # the first step: seconds, tokens
        self.load_s: float | None = None

    @contextlib.contextmanager
    def phase(self, name: str, id_lists: list[list[int]], prompt: bool = True):
        t0 = time.perf_counter()
        yield
        tokens = sum(len(x) for x in id_lists) + (self.l if prompt else 0) * len(id_lists)
        acc = self.phases.setdefault(name, [0.0, 0, 0])
        acc[0] += time.perf_counter() - t0
        acc[1] += tokens
        acc[2] += len(id_lists)

    def training_begins(self) -> None:
        spent = sum(v[0] for v in self.phases.values())
        self.load_s = max(0.0, time.time() - self.t_start - spent)

    def step_done(self, seconds: float, tokens: int) -> None:
        """One training step. The first one is kept apart: it also pays one-off costs (allocations, kernel
        choices) that would inflate a short run's per-token rate; its excess counts as loading."""
        if self.first is None:
            self.first = (seconds, tokens)
            return
        self.train[0] += seconds
        self.train[1] += tokens
        self.train[2] += 1

    def metrics(self, total: float) -> dict[str, float]:
        out = {f"time/{name}_s": v[0] for name, v in self.phases.items()}
        if self.load_s is not None:
            out["time/load_s"] = self.load_s
        return out

    def record(self, total: float) -> dict | None:
        """Add this run's figures to the host's timings (nothing for a run that trained no step)."""
        seconds, tokens, steps = self.train
        load_s = self.load_s
        if self.first is not None:
            if steps:  # the first step at the others' rate, its excess as a one-off cost
                typical = self.first[1] * seconds / tokens
                load_s = (load_s or 0.0) + max(0.0, self.first[0] - typical)
                seconds, tokens, steps = seconds + min(self.first[0], typical), tokens + self.first[1], steps + 1
            else:
                seconds, tokens, steps = self.first[0], self.first[1], 1
        evals = [v for k, v in self.phases.items() if k in ("eval", "test") and v[1]]
        if not steps or not tokens or not evals or load_s is None:
            return None
        eval_s, eval_tokens, eval_n = (sum(v[i] for v in evals) for i in range(3))
        val = self.phases.get("eval")
        entry = {
            "train_s_per_token": seconds / tokens,
            "eval_s_per_token": eval_s / eval_tokens,
            "load_s": load_s,
            "train_tokens_per_example": tokens / steps / self.cfg.batch_size - self.l,
            "eval_tokens_per_example": (val[1] / val[2] - self.l) if val and val[2] else eval_tokens / eval_n - self.l,
            "total_s": total,
            "when": time.time(),
        }
        cfg = self.cfg
        table = _read()
        key = cost_key(cfg.backbone, self.dtype, cfg.method)
        table[key] = (table.get(key, []) + [entry])[-KEEP:]
        test = self.phases.get("test")
        if test and not cfg.test_examples:
            table.setdefault("test_sizes", {})[cfg.task_name()] = int(test[2])
        try:
            _write(table)
        except OSError:
            return None
        return entry


def _median(entries: list[dict]) -> dict:
    return {k: statistics.median(e[k] for e in entries) for k in entries[0] if k != "when"}


def measured(backbone: str, dtype: str, method: str) -> tuple[dict | None, str]:
    """This host's median figures for backbone x dtype x method (or another method of the same backbone and
    dtype), and where they came from."""
    table = _read()
    entries = table.get(cost_key(backbone, dtype, method))
    if entries:
        return _median(entries), f"measured on this machine ({len(entries)} run{'s' * (len(entries) != 1)})"
    prefix = cost_key(backbone, dtype, "", None).rsplit("|", 2)[0] + "|"
    suffix = "|" + cost_key(backbone, dtype, method).rsplit("|", 1)[1]
    for key, entries in table.items():
        if key.startswith(prefix) and key.endswith(suffix) and isinstance(entries, list) and entries:
            other = key[len(prefix):].split("|")[0]
            return _median(entries), f"measured on this machine with {other} (no {method} run yet)"
    return None, ""


def _zero_shot_cached(backbone: str, dtype: str, task: str, n: int) -> bool:
    from adept.tracking import adept_home

    path = Path(adept_home()) / "cache" / "zero_shot.json"
    try:
        table = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return False
    tag = "" if dtype == "float32" else f"|{dtype}"
    return any(k.startswith(f"{backbone}{tag}|{task}|{n}|") for k in table)


def planned_dtype(cfg) -> str:
    """The dtype a run of ``cfg`` would store its backbone in on this machine (without loading it)."""
    from adept.backbones import BACKBONE_INFO
    from adept.precision import dtype_name, resolve_dtype

    device = cfg.device if cfg.device != "auto" else ("cuda" if _cuda() else "cpu")
    params = BACKBONE_INFO.get(cfg.backbone, {}).get("params") or None
    if cfg.backbone.startswith("tiny-"):
        params = 1
    return dtype_name(resolve_dtype(cfg.dtype, device, params=params))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def estimate(cfg) -> dict:
    """``{"seconds", "train_s", "eval_s", "test_s", "zero_shot_s", "load_s", "dtype", "source"}`` for a
    :class:`~adept.config.RunConfig` on this machine (see the module docstring)."""
    from adept.backbones import BACKBONE_INFO

    dtype = planned_dtype(cfg)
    try:
        l_m = cfg.solved()[0]
    except ValueError:
        l_m = 100
    costs, source = measured(cfg.backbone, dtype, cfg.method)
    table = _read()
    n_test = cfg.test_examples or table.get("test_sizes", {}).get(cfg.task_name(), DEFAULT_TEST_SIZE)
    n_val = cfg.eval_examples
    if costs is None:
        info = BACKBONE_INFO.get(cfg.backbone, {"sec_per_step_cpu": 3.0})
        # built-in: seconds per step at batch 8, 100 prompt + 40 input tokens, float32 on a 2-core Xeon
        per_token = info["sec_per_step_cpu"] / (8 * 140)
        costs = {"train_s_per_token": per_token, "eval_s_per_token": per_token / 3,
                 "load_s": 8.0 + {"smollm2-135m": 8.0, "minilm-l6": 4.0}.get(cfg.backbone, 1.0),
                 "train_tokens_per_example": DEFAULT_TOKENS, "eval_tokens_per_example": DEFAULT_TOKENS}
        source = "built-in figures (no run of this backbone and dtype on this machine yet)"
    cap = cfg.max_length
    t_train = l_m + min(cap, costs["train_tokens_per_example"])
    t_eval = min(cap, costs["eval_tokens_per_example"])
    evals = 1 + cfg.max_steps // cfg.eval_every + (1 if cfg.max_steps % cfg.eval_every else 0)
    per_eval = costs["eval_s_per_token"]
    out = {
        "train_s": cfg.max_steps * cfg.batch_size * t_train * costs["train_s_per_token"],
        "eval_s": evals * n_val * (l_m + t_eval) * per_eval,
        "test_s": n_test * (l_m + t_eval) * per_eval,
        "zero_shot_s": 0.0,
        "load_s": costs["load_s"],
    }
    kind = BACKBONE_INFO.get(cfg.backbone, {}).get("kind")
    if cfg.zero_shot and kind != "encoder" and not _zero_shot_cached(cfg.backbone, dtype, cfg.task_name(), n_test):
        out["zero_shot_s"] = n_test * t_eval * per_eval
    out["seconds"] = sum(out.values())
    out.update(dtype=dtype, source=source)
    return out
