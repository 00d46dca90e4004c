"""Bad inputs through the Python API and in files a run reads back (adapters, checkpoints, stored values):
one ``ValueError`` that names the input and says what to do, nothing written; readers survive any value
already in a store."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from adept import launcher, tracking
from adept.budget import solve
from adept.config import RunConfig
from adept.training import train

from .helpers import TINY, TINY_FLAGS, assert_store_sound, assert_untouched, cli, one_error_line, snapshot

API_CASES = [
    ("solver budget 1e13", lambda: solve("adept", 576, 96, 10**13, 60), r"budget 10,000,000,000,000 is over the cap"),
    ("solver width 0", lambda: solve("dept", 0, 96, 57600, 60), r"d_model must be a positive integer, got 0"),
    ("solver length NaN", lambda: solve("dept", 576, float("nan"), 57600, 60), r"max_length must be a whole number"),
    ("solver prompt too long", lambda: solve("dept", 576, 96, 57600, 200), r"cannot hold a 200-token prompt"),
    ("config seed 2**70", lambda: RunConfig(backbone="tiny-bert", seed=2**70).validate(), r"seed: .* is over"),
    ("config float steps", lambda: RunConfig(backbone="tiny-bert", max_steps=2.5).validate(),
     r"max_steps: 2\.5 is not a whole number"),
    ("config bool batch", lambda: RunConfig(backbone="tiny-bert", batch_size=True).validate(),
     r"batch_size: True is not a whole number"),
    ("config string lr", lambda: RunConfig(backbone="tiny-bert", lr_prompt="0.3").validate(),
     r"lr_prompt: '0\.3' is not a number"),
    ("config not a mapping", lambda: RunConfig.from_dict(["method", "pt"]), r"A run config is a mapping"),
    ("train unknown field", lambda: train({**TINY, "learning_rate": 1}), r"Unknown config field\(s\) learning_rate"),
    ("train data file missing", lambda: train({**TINY, "data_file": "/nonexistent/x.csv"}), r"does not exist"),
    ("enqueue bad data", lambda: launcher.enqueue({**TINY, "task": "no-such-task"}, start_worker=False),
     r"unknown task 'no-such-task'"),
    ("enqueue cuda", lambda: launcher.enqueue({**TINY, "device": "cuda:3"}, start_worker=False),
     r"device: cuda:3 was asked for but no CUDA GPU"),
    ("enqueue_all one bad of three", lambda: launcher.enqueue_all([TINY, {**TINY, "seed": -4}, TINY]),
     r"seed: -4 is below 0"),
    ("resume an unknown run", lambda: launcher.resume("0123456789abcdef", start_worker=False), r"No run"),
]


@pytest.mark.parametrize("call,expected", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_refuses_with_a_clear_value_error(store, call, expected):
    before = snapshot(store)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=expected):
        call()
    assert time.monotonic() - t0 < 10  # the solver is closed form: no time grows with the budget
    assert_untouched(store, before)


def test_a_long_text_cell_is_cut_before_tokenizing_and_counted(store, tmp_path):
    """A 5 MB cell (the 30 MB one of the report, smaller here) is cut to MAX_TEXT_CHARS; the run says so."""
    from adept.tasks import load_task
    from adept.tasks.task import MAX_TEXT_CHARS

    path = tmp_path / "long.csv"
    rows = [f"a fine film {i},{'pos' if i % 2 else 'neg'}" for i in range(40)]
    rows[3] = "word " * 1_000_000 + ",pos"
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    task = load_task(str(path))
    assert task.info["truncated_texts"] == 1 and "1 text(s) longer than 40,000 characters were cut" in task.description
    assert max(len(ex.text) for s in task.splits.values() for ex in s) == MAX_TEXT_CHARS
    out = train({**TINY, "backbone": "tiny-bert", "data_file": str(path), "max_steps": 2, "eval_every": 2},
                progress=False)
    assert tracking.get_client().get_run(out["run_id"]).data.params["data.truncated_texts"] == "1"


def test_upload_names_are_made_safe_and_short(store):
    from app.launch.sources import MAX_UPLOAD_NAME, save_upload, upload_name

    assert upload_name("../../etc/passwd") == "passwd"
    assert upload_name(".hidden.csv") == "hidden.csv"
    assert upload_name("ré sumé (1).csv") == "r_sum_1_.csv"
    long = upload_name("x" * 300 + ".csv")
    assert len(long) == MAX_UPLOAD_NAME and long.endswith(".csv")

    class Upload:  # what st.file_uploader hands over
        name = "y" * 304 + ".csv"

        def getvalue(self):
            return b"text,label\na,pos\n"

    path = save_upload(Upload())  # a 304-character name raised OSError (name too long)
    assert path.exists() and len(path.name) <= 13 + MAX_UPLOAD_NAME and path.parent == store / "uploads"


def test_a_stored_seed_past_int64_does_not_break_any_reader(store):
    """Old or hand-edited stores may hold any value: listing, report and the app's table still work."""
    tr = tracking.RunTracker(experiment="rel", run_name="odd", tags={tracking.TAG_SEED: str(2**70)})
    tr.log_params({"seed": str(2**70), "max_steps": "1e999"})
    tr.log_metrics({"test/accuracy": 50.0}, step=1)
    tr.finish("FINISHED")
    df = tracking.runs_dataframe()
    assert df.loc[0, "run_id"] == tr.run_id and df["seed"].isna().all() and str(df["seed"].dtype) == "Int64"
    result = cli("runs")
    assert result.rc == 0 and tr.run_id in result.out
    result = cli("report", "--experiment", "rel")
    assert result.rc == 0 and "50.0" in result.out
    from app.runs.table import frame

    assert frame(df)["run"].iloc[0] == "odd"


def _killed_and_finished_runs(store):
    """A KILLED run with a checkpoint (SIGTERM during training, for real) and a FINISHED one."""
    from adept.methods import PromptTunedModel

    finished = train({**TINY, "max_steps": 4}, progress=False)["run_id"]
    original, calls = PromptTunedModel.loss, []

    def loss(self, *args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    PromptTunedModel.loss = loss
    try:
        with pytest.raises(tracking.RunKilled):
            train({**TINY, "max_steps": 4}, progress=False)
    finally:
        PromptTunedModel.loss = original
    killed = tracking.runs_dataframe().query("status == 'KILLED'")["run_id"].iloc[0]
    return killed, finished


def test_resume_and_adapter_inputs_that_cannot_work_are_refused_first(store, tmp_path):
    """Resume of a FINISHED run, with a changed method, of a damaged checkpoint; fold onto a file or a folder
    of other files; damaged adapters: each one line, the runs and their reasons unchanged."""
    killed, finished = _killed_and_finished_runs(store)
    reason = tracking.get_client().get_run(killed).data.tags[tracking.TAG_FAILURE]
    ckpt = Path(tracking.download_artifacts(killed, "checkpoint"))
    adapter = Path(tracking.download_artifacts(finished, "adapter"))
    a_file = tmp_path / "out.txt"
    a_file.write_text("keep me")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me too")
    flags = [*TINY_FLAGS, "--backbone", "tiny-llama", "--max-steps", "4", "--eval-every", "4", "--eval-examples",
             "8", "--test-examples", "8", "--batch-size", "4", "--max-train-examples", "64", "--warmup-steps", "2",
             "--max-length", "48", "--init", "random"]
    cases = [
        (["train", *flags, "--resume-from", finished], r"Run .* already finished: Re-run it instead"),
        (["train", *flags, "--method", "dept", "--resume-from", killed],
         r"Resume of run .* changes method \(run: 'adept', given: 'dept'\).*drop those settings"),
        (["train", *flags, "--max-steps", "9", "--resume-from", killed], r"changes max_steps \(run: 4, given: 9\)"),
        (["fold", finished, "--out", str(a_file)], r"--out .*out\.txt is a file, not a folder"),
        (["fold", finished, "--out", str(other)], r"is a folder with other files in it .* nothing in it was changed"),
    ]
    for argv, expected in cases:
        before = snapshot(store)
        result = cli(*argv)
        assert result.rc == 2 and re.search(expected, one_error_line(result)), (argv, result.err)
        assert_untouched(store, before)
    assert a_file.read_text() == "keep me" and (other / "thesis.tex").read_text() == "keep me too"
    with pytest.raises(ValueError, match="already finished: Re-run it instead"):
        launcher.resume(finished, start_worker=False)

    # A damaged checkpoint: refused before the run is touched (its status and reason stay).
    state = (ckpt / "state.json").read_bytes()
    (ckpt / "state.json").write_bytes(state[: len(state) // 2])
    before = snapshot(store)
    for attempt in (lambda: launcher.resume(killed, start_worker=False),
                    lambda: train({**TINY, "max_steps": 4, "resume_from": killed})):
        with pytest.raises(ValueError, match=r"checkpoint is damaged \(state\.json has \d+ bytes, not \d+ \(cut short"):
            attempt()
    assert snapshot(store) == before
    run = tracking.get_client().get_run(killed)
    assert run.info.status == "KILLED" and run.data.tags[tracking.TAG_FAILURE] == reason
    (ckpt / "state.json").write_bytes(state)

    from adept.adapter_files import ADAPTER_CONFIG
    from adept.backbones import load_backbone
    from adept.methods import load_adapter

    bb = load_backbone("tiny-llama")
    for name, damage, expected in [
        ("empty weights", lambda d: (d / "adapter.safetensors").write_bytes(b""), r"is damaged or not a safetensors"),
        ("cut weights", lambda d: (d / "adapter.safetensors").write_bytes(
            (adapter / "adapter.safetensors").read_bytes()[:100]), r"is damaged or not a safetensors"),
        ("config not JSON", lambda d: (d / ADAPTER_CONFIG).write_text("{"), r"is not valid JSON"),
        ("config without rank", lambda d: (d / ADAPTER_CONFIG).write_text(json.dumps(
            {k: v for k, v in json.loads((adapter / ADAPTER_CONFIG).read_text()).items() if k != "rank"})),
         r"'rank' is missing or not int"),
        ("config with an absurd rank", lambda d: (d / ADAPTER_CONFIG).write_text(json.dumps(
            {**json.loads((adapter / ADAPTER_CONFIG).read_text()), "rank": 10**12})), r"are impossible"),
    ]:
        copy = tmp_path / name.replace(" ", "-")
        import shutil

        shutil.copytree(adapter, copy)
        damage(copy)
        with pytest.raises(ValueError, match=expected):
            load_adapter(copy, bb)
    assert_store_sound(store)
