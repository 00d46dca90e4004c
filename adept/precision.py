"""Which floating-point type the frozen backbone is stored in: :func:`resolve_dtype`.

``float32`` is exact and the default of the library functions. ``bfloat16`` halves the backbone's memory
and, on hardware with fast bf16 matrix units (CUDA GPUs with bf16, Intel CPUs with AMX or AVX512-BF16),
roughly halves a training step; on other CPUs it is emulated and slower. ``float16`` is offered for GPUs.

``auto`` decides per machine:

* CUDA: bf16 when ``torch.cuda.is_bf16_supported()``, else float32;
* CPU: bf16 only when the CPU advertises ``amx_bf16`` or ``avx512_bf16`` AND a short timed probe (a
  forward + backward through two bf16 linear layers against the same in float32, interleaved) finds bf16
  at most :data:`PROBE_MAX_RATIO` of the float32 time. The probe result is cached per machine in
  ``<cache>/dtype_probe.json`` keyed by CPU model, torch version and thread count, so it runs once;
* backbones under :data:`SMALL_MODEL_PARAMS` parameters (the tiny test models) stay float32: their
  steps are dominated by overheads that bf16 does not shrink, and their tests check exact values.

Only the frozen backbone changes type; the soft prompt, offsets and classification head stay float32
master weights (cast at the backbone's input, outputs cast back) and losses are computed in float32.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

DTYPES = ("auto", "float32", "bfloat16", "float16")
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PROBE_MAX_RATIO = 0.8
SMALL_MODEL_PARAMS = 10_000_000


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in TORCH_DTYPES.items()}[dtype]


def check_dtype(value) -> str:
    """``value`` as one of :data:`DTYPES`; ValueError with the choices otherwise."""
    if isinstance(value, torch.dtype) and value in TORCH_DTYPES.values():
        return dtype_name(value)
    name = str(value).strip().lower() if isinstance(value, str) else value
    aliases = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
    name = aliases.get(name, name)
    if name not in DTYPES:
        raise ValueError(f"dtype {value!r} is not one of {', '.join(DTYPES)}: use auto (bf16 where it is faster "
                         "on this machine) or float32 (exact).")
    return name


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_bf16_flags() -> list[str]:
    """The bf16 matrix features the CPU advertises (``amx_bf16``, ``avx512_bf16``), from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    return sorted(flags & {"amx_bf16", "avx512_bf16"})


def _probe_cache() -> Path:
    from adept.backbones import cache_dir

    return cache_dir() / "dtype_probe.json"


def probe_key() -> str:
    return f"{cpu_model()}|torch {torch.__version__}|threads {torch.get_num_threads()}"


def time_probe(reps: int = 5, rows: int = 960, width: int = 576) -> dict:
    """Median seconds of a frozen-weight forward + backward (two linear layers, gradient to the input, the
    shape of a SmolLM2 MLP at batch 8 x 120 tokens) in float32 and bfloat16, interleaved so that a busy
    machine slows both alike. Returns ``{"fp32_s", "bf16_s", "ratio"}``."""
    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(width, 4 * width, generator=g) / width ** 0.5
    w2 = torch.randn(4 * width, width, generator=g) / (4 * width) ** 0.5
    x0 = torch.randn(rows, width, generator=g)
    weights = {torch.float32: (w1, w2), torch.bfloat16: (w1.bfloat16(), w2.bfloat16())}

    def step(dtype) -> float:
        a, b = weights[dtype]
        x = x0.clone().requires_grad_(True)
        t0 = time.perf_counter()
        y = torch.nn.functional.gelu(x.to(dtype) @ a) @ b
        y.float().square().mean().backward()
        return time.perf_counter() - t0

    times: dict = {torch.float32: [], torch.bfloat16: []}
    for dtype in times:  # warm-up (first calls pick kernels)
        step(dtype)
    for _ in range(reps):
        for dtype in times:
            times[dtype].append(step(dtype))
    fp32, bf16 = statistics.median(times[torch.float32]), statistics.median(times[torch.bfloat16])
    return {"fp32_s": fp32, "bf16_s": bf16, "ratio": bf16 / fp32}


def cpu_probe(refresh: bool = False) -> dict:
    """The cached probe for this machine (run and stored on first use): ``{"ratio", "fp32_s", "bf16_s",
    "flags", "key", "bf16_faster"}``. CPUs without bf16 flags are not probed (``ratio`` None)."""
    key = probe_key()
    path = _probe_cache()
    table = {}
    if path.exists():
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            table = {}
    if key in table and not refresh:
        return table[key]
    flags = cpu_bf16_flags()
    entry = {"key": key, "flags": flags, "ratio": None, "fp32_s": None, "bf16_s": None, "bf16_faster": False}
    if flags:
        entry.update(time_probe())
        entry["bf16_faster"] = entry["ratio"] <= PROBE_MAX_RATIO
    table[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache: probe again next time
    return entry


def resolve_dtype(requested: str | torch.dtype = "auto", device: str | torch.device = "cpu",
                  params: int | None = None) -> torch.dtype:
    """The torch dtype to store a backbone in. ``requested`` other than ``auto`` is returned as is (float16
    on CPU is allowed but slow); ``auto`` follows the rules in the module docstring. ``params``: the
    backbone's size when known (small models stay float32 under ``auto``)."""
    name = check_dtype(requested)
    if name != "auto":
        return TORCH_DTYPES[name]
    if params is not None and params < SMALL_MODEL_PARAMS:
        return torch.float32
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    if device.type != "cpu":
        return torch.float32
    return torch.bfloat16 if cpu_probe()["bf16_faster"] else torch.float32
