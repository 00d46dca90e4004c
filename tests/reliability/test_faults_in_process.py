"""Faults injected for real into a training run in this process: a SIGTERM (``os.kill``, the real handler)
in each phase — the zero-shot pass, a training step, an evaluation, the final test — a NaN loss, and an
sqlite lock held by another connection for 20 s. After each, the run ends KILLED or FAILED with its reason
and a whole checkpoint (or finishes, for the lock), and the resumed run's every logged point equals the
uninterrupted run's, each logged once: ADePT with dropout and a random prompt init, so every random-number
state matters."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import threading
import time

import pytest
import torch

from adept import tracking
from adept.methods import PromptTunedModel
from adept.training import train

from .helpers import TINY, assert_store_sound, cli, one_error_line

CFG = {**TINY, "test_examples": 12}  # 12 test vs 8 validation examples: an evaluation can tell which it is
_REFERENCE: dict[str, list] = {}


def history(run_id: str) -> list[tuple]:
    """Every logged point but timings and system metrics, as sorted ``(key, step, value)``: a point logged
    twice shows twice."""
    df = tracking.metric_history([run_id], None)
    df = df[~df["key"].str.startswith(("time/", "system/"))]  # timings and machine samples vary
    return sorted(zip(df["key"], df["step"], df["value"]))


def reference() -> list[tuple]:
    """The uninterrupted run's history (trained once per session, in the first test's store)."""
    if "points" not in _REFERENCE:
        _REFERENCE["points"] = history(train(CFG, progress=False)["run_id"])
    return _REFERENCE["points"]


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _inject(monkeypatch, phase: str) -> None:
    """Make the next run receive a real SIGTERM in ``phase``."""
    import adept.training as training

    if phase == "zero-shot":
        original_zs = training.zero_shot_metrics

        def zero_shot(*args, **kwargs):
            _sigterm()
            return original_zs(*args, **kwargs)

        monkeypatch.setattr(training, "zero_shot_metrics", zero_shot)
    elif phase == "training step":
        original_loss, calls = PromptTunedModel.loss, []

        def loss(self, *args):
            calls.append(1)
            if len(calls) == 6:  # inside step 6: the step completes, then the run stops
                _sigterm()
            return original_loss(self, *args)

        monkeypatch.setattr(PromptTunedModel, "loss", loss)
    else:
        import adept.predictions as predictions

        # Validation scores ids tokenized once per run (evaluate_ids); the test pass logs per-example
        # predictions (predictions.predict_ids).
        original_eval, original_predict, seen = training.evaluate_ids, predictions.predict_ids, []

        def evaluate_ids(model, encoder, id_lists, references, batch_size=32):
            is_val = len(id_lists) == CFG["eval_examples"]
            seen.append(is_val)
            if phase == "evaluation" and is_val and sum(seen) == 2:
                _sigterm()  # the evaluation at step 4 is cut off in the middle
            return original_eval(model, encoder, id_lists, references, batch_size)

        def predict_ids(model, encoder, id_lists, references, batch_size=32):
            if phase == "test" and len(id_lists) == CFG["test_examples"] and model.num_virtual_tokens > 0:
                _sigterm()  # the final test is cut off in the middle
            return original_predict(model, encoder, id_lists, references, batch_size)

        monkeypatch.setattr(training, "evaluate_ids", evaluate_ids)
        monkeypatch.setattr(predictions, "predict_ids", predict_ids)


@pytest.mark.parametrize("phase,step", [("zero-shot", 0), ("training step", 6), ("evaluation", 4), ("test", 8)])
def test_sigterm_in_every_phase_then_resume_equals_the_uninterrupted_run(store, monkeypatch, phase, step):
    expected = reference()
    with monkeypatch.context() as mp:
        _inject(mp, phase)
        with pytest.raises(tracking.RunKilled) as killed:
            train(CFG, progress=False)
    assert killed.value.checkpoint_step == step  # the checkpoint it saved, so the CLI's message is true
    run = tracking.runs_dataframe().iloc[0]
    assert run["status"] == "KILLED" and run["failure"].startswith("RunKilled: stopped by SIGTERM")
    assert_store_sound(store)
    out = train({**CFG, "resume_from": run["run_id"]}, progress=False)
    assert out["status"] == "FINISHED" and out["steps"] == CFG["max_steps"]
    assert history(run["run_id"]) == expected
    tags = tracking.get_client().get_run(run["run_id"]).data.tags
    assert tags[tracking.TAG_PREVIOUS_FAILURE].startswith("RunKilled") and tracking.TAG_FAILURE not in tags
    assert_store_sound(store)


def test_a_nan_loss_fails_the_run_with_its_reason_and_resumes_from_the_last_checkpoint(store, monkeypatch):
    expected = reference()
    original, calls = PromptTunedModel.loss, []

    def loss(self, *args):
        calls.append(1)
        value = original(self, *args)
        return value * float("nan") if len(calls) == 6 else value

    path = store / "cfg.json"
    path.write_text(json.dumps(CFG))
    with monkeypatch.context() as mp:
        mp.setattr(PromptTunedModel, "loss", loss)
        result = cli("train", "--config", str(path), "--quiet")  # the command line: "ran but failed" is 1
    assert result.rc == 1
    assert re.fullmatch(r"error: run \w+ FAILED: FloatingPointError: Training loss became nan at step 6: lower "
                        r"the learning rates .*", one_error_line(result))
    run = tracking.runs_dataframe().iloc[0]
    assert run["status"] == "FAILED" and "FloatingPointError: Training loss became nan at step 6" in run["failure"]
    assert_store_sound(store)
    train({**CFG, "resume_from": run["run_id"]}, progress=False)  # from the checkpoint of step 4
    assert history(run["run_id"]) == expected
    assert_store_sound(store)


def test_an_sqlite_lock_held_for_20_s_is_waited_out_and_the_run_finishes(store, monkeypatch):
    """Another connection holds the store's write lock from step 3 for 20 s: the run waits and retries (it
    used to fail after ~3 s of 'database is locked'), finishes, and logs exactly the uninterrupted run."""
    expected = reference()
    locked, released = threading.Event(), {}

    def hold_lock() -> None:
        conn = sqlite3.connect(store / "mlflow.db", timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(20)
        conn.execute("COMMIT")
        conn.close()
        released["at"] = time.monotonic()

    original, calls = PromptTunedModel.loss, []

    def loss(self, *args):
        calls.append(1)
        if len(calls) == 3:
            threading.Thread(target=hold_lock, daemon=True).start()
            assert locked.wait(30)
        return original(self, *args)

    monkeypatch.setattr(PromptTunedModel, "loss", loss)
    out = train(CFG, progress=False)
    assert "at" in released and time.monotonic() >= released["at"]  # it really had to wait for the lock
    assert out["status"] == "FINISHED"
    assert history(out["run_id"]) == expected
    assert_store_sound(store)


def test_checkpoints_hold_every_random_state(store):
    """What makes the resumes above exact: torch's generator (dropout), Python's and numpy's, round-tripped."""
    import random

    import numpy as np

    from adept.checkpoints import rng_state, set_rng_state

    saved = rng_state()
    a = (torch.rand(3), random.random(), np.random.rand())
    set_rng_state(saved)
    b = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]
