"""The run configuration: :class:`RunConfig` (every field of a run, validated once, at the edge), the
``PRESETS`` the dashboard and CLI offer (with ``PRESET_NOTES``), a rough CPU time estimate
(:func:`estimate_seconds`) and the CLI line that reruns a config (:func:`reproduce_command`)."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from adept import budget as budget_mod
from adept.backbones import backbone_d_model

METHODS = budget_mod.METHODS


class ConfigError(ValueError):
    """Invalid run config: ``errors`` is ``{field: "what is wrong — what to do"}`` (a form shows each message
    under its field); the text is "Invalid run config: field: message; ..."."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("Invalid run config: " + "; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class RunConfig:
    """Everything that defines a run. ``budget`` (trainable params of prompt + offsets) solves ``l`` and
    ``r`` with :func:`adept.budget.solve`; otherwise give ``num_virtual_tokens`` and ``rank``."""

    method: str = "adept"
    backbone: str = "smollm2-135m"
    task: str = "rotten-tomatoes"
    budget: int | None = None
    num_virtual_tokens: int | None = None
    rank: int | None = None
    max_length: int = 128
    lr_prompt: float = 0.3
    lr_offsets: float = 1e-4
    lr_head: float = 1e-3
    batch_size: int = 8
    max_steps: int = 300
    warmup_steps: int = 30
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_examples: int = 200
    test_examples: int | None = None
    eval_batch_size: int = 32
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    early_stopping_patience: int = 0
    init: str = "text"
    init_text: str = "Classify this text:"
    padding_side: str = "right"
    adept_depth: int = 1
    adept_activation: str = "relu"
    adept_bias: bool = True
    zero_shot: bool = True
    experiment: str = "adept-lab"
    sweep: str = ""
    run_name: str = ""
    data_file: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    data_dir: str | None = None
    max_train_examples: int | None = None
    resume_from: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from a plain dict (JSON, YAML, a form); unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise ValueError(f"A run config is a mapping of RunConfig fields, got {type(data).__name__}.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise ValueError(
                f"Unknown config field(s) {', '.join(unknown)}: valid fields are {', '.join(sorted(names))}."
            )
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def task_name(self) -> str:
        return self.data_file or self.task

    def field_errors(self) -> dict[str, str]:
        """``{field: "what is wrong — what to do"}`` for every invalid field (empty when valid); the rules
        live in :mod:`adept.config_checks`."""
        from adept.config_checks import field_errors

        return field_errors(self)

    def size_warnings(self) -> list[str]:
        """Valid sizes that are probably typos (10,000,000 steps, a 600-token prompt): one line each."""
        from adept.config_checks import size_warnings

        return size_warnings(self)

    def validate(self) -> RunConfig:
        """Raise one :class:`ConfigError` (a ValueError) naming every invalid field; return self when valid."""
        errors = self.field_errors()
        if errors:
            raise ConfigError(errors)
        return self

    def d_model(self) -> int:
        d = backbone_d_model(self.backbone)
        if d is None:
            raise ValueError(
                f"Cannot tell the width of backbone {self.backbone!r}: use a registry name or a model folder."
            )
        return d

    def solved(self) -> budget_mod.Solution:
        """``(l, r)`` this config trains, with the parameter count (prompt + offsets)."""
        method, d = self.method.lower(), self.d_model()
        options = {"depth": self.adept_depth, "bias": self.adept_bias} if method == "adept" else {}
        if self.budget is not None:
            return budget_mod.solve(method, d, self.max_length, self.budget,
                                    self.num_virtual_tokens if method != "pt" else None, **options)
        if method == "pt":
            l_pt = self.num_virtual_tokens if self.num_virtual_tokens is not None else 100
            if l_pt <= 0:
                raise ValueError("PT with 0 prompt tokens trains nothing — give at least 1 (or leave it empty "
                                 "for 100, or set a budget)")
            return budget_mod.Solution(l_pt, 0, l_pt * d, l_pt * d)
        if self.rank is None:
            return budget_mod.solve(method, d, self.max_length, 100 * d, self.num_virtual_tokens, **options)
        l_m = 60 if self.num_virtual_tokens is None else self.num_virtual_tokens
        if self.rank <= 0:
            raise ValueError(f"rank must be positive for {method.upper()}: set rank or a budget.")
        params = budget_mod.param_count(method, d, self.max_length, l_m, self.rank, **options)
        return budget_mod.Solution(l_m, self.rank, params, params)

    def display_name(self) -> str:
        task = Path(self.data_file).stem if self.data_file else self.task
        return self.run_name or f"{self.method.lower()}-{task}-s{self.seed}"


# Sized to finish (docs/speed.md): quick = 3 methods x 3 seeds in about 7 minutes on 2 idle CPU cores,
# (measured: 7 min 0 s for the 9 runs)
# scored on the whole Rotten Tomatoes test split (1,275 examples); faithful = one SmolLM2 run in about
# 12 minutes in float32 (about half that where dtype=auto picks bf16). The prompt of quick is short (PT 20
# tokens, DePT / ADePT 12, the paper's 100 : 60 split at a budget of 20 d): the prompt's length is most of
# a MiniLM step's tokens, and the head carries an encoder's classification anyway.
PRESETS: dict[str, dict] = {
    "quick": {
        "backbone": "minilm-l6", "task": "rotten-tomatoes", "budget": 20 * 384, "num_virtual_tokens": 12,
        "max_length": 64, "lr_prompt": 0.03, "lr_offsets": 1e-3, "lr_head": 3e-3, "batch_size": 8,
        "max_steps": 60, "warmup_steps": 6, "eval_every": 30, "eval_examples": 150, "test_examples": None,
        "init": "random", "zero_shot": False, "dtype": "auto",
    },
    "faithful": {
        "backbone": "smollm2-135m", "task": "rotten-tomatoes", "budget": 100 * 576, "num_virtual_tokens": 60,
        "max_length": 96, "lr_prompt": 0.3, "lr_offsets": 1e-4, "batch_size": 8, "max_steps": 120,
        "warmup_steps": 12, "eval_every": 40, "eval_examples": 150, "test_examples": 400, "init": "text",
        "zero_shot": True, "dtype": "auto",
    },
}
PRESET_COST = {"quick": "3 methods x 3 seeds in about 7 minutes", "faithful": "one run in about 12 minutes"}
PRESET_NOTES = {
    "quick": "MiniLM-L6 encoder + head, PT l=20 / DePT, ADePT l=12 at one budget, 60 steps, scored on the whole "
             "test split (1,275): " + PRESET_COST["quick"] + " (seeds 0, 1, 2) on 2 idle CPU cores, about 80 s "
             "a run.",
    "faithful": "SmolLM2-135M, the paper's recipe scaled down (l=100 budget, l=60 for DePT/ADePT, lr 3e-1 / "
                "1e-4, 120 steps, 400 test examples): " + PRESET_COST["faithful"] + " on 2 idle CPU cores in "
                "float32, about half that where dtype=auto picks bfloat16 (a CPU with AMX, or a GPU).",
}


def estimate_seconds(config: dict | RunConfig) -> float:
    """Wall time of a run from when it starts training (queue wait apart) on this machine: calibrated from
    this host's finished runs of the same backbone x dtype x method when there are some, else from built-in
    figures; counts training steps, every evaluation, the zero-shot pass and the test pass, and loading.
    The parts and where the figures came from: :func:`adept.timing.estimate`."""
    from adept.timing import estimate

    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    return estimate(cfg)["seconds"]


def reproduce_command(cfg: RunConfig) -> str:
    """A CLI line that reruns this config: the method always, then a flag for every other field that differs
    from the defaults."""
    default = RunConfig()
    parts = ["python", "-m", "adept", "train", "--method", str(cfg.method)]
    for f in dataclasses.fields(RunConfig):
        value = getattr(cfg, f.name)
        if f.name in ("method", "resume_from", "extra") or value == getattr(default, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)
