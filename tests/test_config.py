"""RunConfig: validation, the budget solve, presets and time estimates, the CLI round trip and sweep files."""

from pathlib import Path

import pytest

from adept.config import PRESETS, RunConfig, estimate_seconds, reproduce_command


def test_field_errors_name_every_bad_field():
    cfg = RunConfig(method="lora", batch_size=0, lr_prompt=-1.0, warmup_steps=500, max_steps=100, padding_side="up")
    errors = cfg.field_errors()
    assert set(errors) >= {"method", "batch_size", "lr_prompt", "warmup_steps", "padding_side"}
    assert "use pt, dept or adept" in errors["method"]
    with pytest.raises(ValueError, match="batch_size: 0 is below 1 — use a whole number from 1 to 1,024"):
        cfg.validate()


def test_unknown_field_and_impossible_budget():
    with pytest.raises(ValueError, match="Unknown config field\\(s\\) lr"):
        RunConfig.from_dict({"lr": 0.1})
    errors = RunConfig(method="adept", backbone="tiny-llama", budget=1000, num_virtual_tokens=60).field_errors()
    assert "cannot hold a 60-token prompt" in errors["budget"]


def test_solved_budget_matches_paper_rule():
    cfg = RunConfig(method="dept", backbone="smollm2-135m", budget=57600, num_virtual_tokens=60, max_length=256)
    assert tuple(cfg.solved()) == (60, 27)
    assert tuple(RunConfig(method="pt", backbone="smollm2-135m", budget=57600).solved()) == (100, 0)


def test_presets_are_valid_and_estimates_scale_with_steps():
    for preset in PRESETS.values():
        for method in ("pt", "dept", "adept"):
            RunConfig.from_dict({**preset, "method": method}).validate()
    quick = {**PRESETS["quick"], "method": "adept"}
    assert estimate_seconds(quick) < estimate_seconds({**quick, "max_steps": 600})
    assert estimate_seconds({**PRESETS["faithful"], "method": "pt"}) > 5 * estimate_seconds({**quick, "method": "pt"})


def test_reproduce_command_round_trips_through_the_cli():
    from adept.__main__ import add_config_flags, config_from_args

    cfg = RunConfig(method="dept", backbone="tiny-t5", lr_prompt=0.4, zero_shot=False, seed=3, budget=4000)
    argv = reproduce_command(cfg).split()[4:]
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_config_flags(parser)
    back = RunConfig.from_dict(config_from_args(parser.parse_args(argv)))
    assert back == cfg
    # The method is named even when it is the default (a reader should not have to know the default).
    assert reproduce_command(RunConfig(method="adept")).split()[4:6] == ["--method", "adept"]


def test_sweep_expansion_names_varied_fields_and_every_experiment_file_is_valid():
    from adept.__main__ import expand_sweep, read_config_file

    spec = {"experiment": "abl", "base": {"backbone": "tiny-bert", "seed": 0},
            "grid": {"method": ["dept", "adept"], "num_virtual_tokens": [0, 20], "adept_bias": [True, False]},
            "runs": [{"method": "pt", "num_virtual_tokens": None}]}
    configs = expand_sweep(spec)
    assert len(configs) == 2 * 2 * 2 + 1 and all(c["experiment"] == "abl" for c in configs)
    names = [c.get("run_name") for c in configs]
    assert names[0] == "dept-rotten-tomatoes-m0-biason-s0" and len(set(names[:-1])) == 8
    assert "run_name" not in configs[-1]  # explicit runs keep the default name
    files = sorted(Path(__file__).resolve().parents[1].glob("experiments/*.yaml"))
    assert files
    for f in files:
        for cfg in expand_sweep(read_config_file(str(f))):
            RunConfig.from_dict(cfg).validate()


def test_training_re_exports_the_config_and_encoding_names_and_lower_layers_never_import_it():
    import subprocess
    import sys

    from adept import config, encoding, training

    for name in ("RunConfig", "PRESETS", "PRESET_NOTES", "estimate_seconds", "reproduce_command", "METHODS"):
        assert getattr(training, name) is getattr(config, name)
    for name in ("Encoder", "evaluate", "evaluate_ids", "CAUSAL_SUFFIX"):
        assert getattr(training, name) is getattr(encoding, name)
    probe = "import sys, adept.config, adept.encoding; print('adept.training' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
