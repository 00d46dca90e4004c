"""adept.tracking against a throwaway sqlite store: what goes in comes back out, and runs always end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from adept import tracking
from adept.tracking import RunKilled, RunTracker, writer


@pytest.fixture()
def restore_sigterm():
    old = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, old)


def _run(run_id):
    return tracking.get_client().get_run(run_id)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------------------------------------ locations


def test_locations_follow_env(tmp_path, monkeypatch):
    monkeypatch.delenv("ADEPT_HOME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo = tracking.REPO_ROOT
    assert (repo / "pyproject.toml").is_file() and (repo / "adept" / "tracking").is_dir()  # the repository root
    assert tracking.adept_home() == repo / "mlruns"
    assert tracking.tracking_uri() == f"sqlite:///{repo / 'mlruns' / 'mlflow.db'}"

    # Only the store given: its folder becomes home, so artifacts and queue sit next to the database.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'x' / 'mlflow.db'}")
    assert tracking.adept_home() == tmp_path / "x"
    # A relative sqlite path is made absolute (child processes start in another directory).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///rel/mlflow.db")
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'rel' / 'mlflow.db'}"
    # ADEPT_HOME alone moves everything.
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path / "h"))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'h' / 'mlflow.db'}"
    # A server URI is passed through untouched.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"


def test_import_loads_neither_torch_nor_pandas_nor_mlflow():
    """The dashboard imports adept.tracking on every page: the heavy libraries load where they are used."""
    code = "import sys, adept.tracking; print(sorted({'torch', 'pandas', 'mlflow'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tracking.REPO_ROOT).stdout
    assert out.strip() == "[]"


def test_ensure_experiment_sets_artifact_location(store):
    exp_id = tracking.ensure_experiment("my exp/1")
    assert tracking.ensure_experiment("my exp/1") == exp_id  # idempotent
    exp = tracking.get_client().get_experiment(exp_id)
    assert exp.artifact_location == (store / "artifacts" / "my_exp_1").as_uri()
    tracking.get_client().delete_experiment(exp_id)
    with pytest.raises(ValueError, match="deleted"):
        tracking.ensure_experiment("my exp/1")


# ------------------------------------------------------------------------------------------------ round trip


def test_params_metrics_tags_artifacts_round_trip(store, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"rank": 19}')
    tags = {"adept.method": "adept", "adept.backbone": "tiny-bert", "adept.task": "rotten-tomatoes",
            "adept.seed": "7", "adept.sweep": "sw1"}
    with RunTracker(experiment="exp-a", run_name="adept-rotten-tomatoes-s7", tags=tags) as t:
        t.log_params({"lr_prompt": 0.3, "budget": None, "long": "x" * 7000, "rank": 19})
        for step in (1, 2, 3):
            t.log_metrics({"train/loss": 1.0 / step, "lr/prompt": 0.1 * step}, step=step)
        t.log_metrics({"val/accuracy": 81.25}, step=3)
        t.set_progress(3, 10)
        t.set_tags({"adept.command": "python -m adept train --seed 7"})
        t.log_json({"method": "adept", "rank": 19}, "config.json")
        t.log_text("python -m adept train\n", "command.txt")
        t.log_artifacts(str(adapter), "adapter")
    assert t.status == "FINISHED"

    df = tracking.runs_dataframe("exp-a")
    assert len(df) == 1
    row = df.iloc[0]
    assert row["run_id"] == t.run_id
    assert row["run_name"] == "adept-rotten-tomatoes-s7"
    assert row["status"] == "FINISHED"
    assert (row["experiment"], row["method"], row["backbone"], row["task"]) == \
        ("exp-a", "adept", "tiny-bert", "rotten-tomatoes")
    assert row["seed"] == 7 and str(df["seed"].dtype) == "Int64"
    assert (row["sweep"], row["failure"], row["progress"]) == ("sw1", "", "3/10")
    assert row["params.lr_prompt"] == "0.3" and "params.budget" not in row and row["params.rank"] == "19"
    assert len(row["params.long"]) == tracking.MAX_PARAM_LENGTH and row["params.long"].endswith("...")
    assert row["metrics.train/loss"] == pytest.approx(1 / 3)  # the last value
    assert row["metrics.val/accuracy"] == 81.25
    assert row["tags.adept.command"] == "python -m adept train --seed 7"
    assert row["tags.adept.pid"] == str(os.getpid())
    assert row["tags.adept.host"] == tracking.hostname()
    assert row["start_time"] <= row["end_time"]

    hist = tracking.metric_history([t.run_id], ["train/loss", "lr/prompt"])
    loss = hist[hist["key"] == "train/loss"]
    assert loss["step"].tolist() == [1, 2, 3]
    assert loss["value"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert hist[hist["key"] == "lr/prompt"]["value"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert list(hist.columns) == ["run_id", "key", "step", "value", "timestamp"]
    everything = tracking.metric_history([t.run_id], None)
    assert set(everything["key"]) == {"train/loss", "lr/prompt", "val/accuracy"}
    assert tracking.metric_history(["nope"], ["train/loss"]).empty

    assert tracking.load_json_artifact(t.run_id, "config.json") == {"method": "adept", "rank": 19}
    assert tracking.load_json_artifact(t.run_id, "missing.json") is None
    assert tracking.load_json_artifact(t.run_id, "adapter/adapter_config.json") == {"rank": 19}
    folder = tracking.download_artifacts(t.run_id, "adapter")
    assert os.listdir(folder) == ["adapter_config.json"]
    assert open(tracking.download_artifacts(t.run_id, "command.txt")).read() == "python -m adept train\n"
    assert folder.startswith(str(store / "artifacts" / "exp-a"))
    with pytest.raises(ValueError, match="no artifact"):
        tracking.download_artifacts(t.run_id, "nothing/here")


def test_buffered_metrics_all_arrive_in_few_batches(store, monkeypatch):
    t = RunTracker(experiment="exp-b", run_name="buffer")
    calls = []
    real = t.client.log_batch
    def counting_log_batch(*args, **kwargs):
        calls.append(len(kwargs.get("metrics", ())))
        return real(*args, **kwargs)

    monkeypatch.setattr(t.client, "log_batch", counting_log_batch)
    monkeypatch.setattr(writer, "FLUSH_EVERY_S", 3600.0)  # only the size trigger
    for step in range(150):
        t.log_metrics({"train/loss": step * 0.5}, step=step)
    assert tracking.metric_history([t.run_id], ["train/loss"]).empty  # still buffered
    for step in range(150, 500):
        t.log_metrics({"train/loss": step * 0.5, "time/step_s": 0.01}, step=step)
    t.finish()
    hist = tracking.metric_history([t.run_id], ["train/loss", "time/step_s"])
    loss = hist[hist["key"] == "train/loss"]
    assert loss["step"].tolist() == list(range(500))
    assert loss["value"].tolist() == [s * 0.5 for s in range(500)]
    assert len(hist[hist["key"] == "time/step_s"]) == 350
    assert sum(calls) == 850
    assert len(calls) <= 6  # 850 points in batches of >= 200, never one call per point
    assert _run(t.run_id).info.status == "FINISHED"


def test_time_trigger_flushes(store, monkeypatch):
    monkeypatch.setattr(writer, "FLUSH_EVERY_S", 0.0)
    with RunTracker(experiment="exp-b", run_name="timed") as t:
        t.log_metrics({"train/loss": 2.0}, step=1)
        assert tracking.metric_history([t.run_id], ["train/loss"])["value"].tolist() == [2.0]


# ------------------------------------------------------------------------------------------------ endings


def test_exception_ends_failed_with_reason(store):
    with pytest.raises(ZeroDivisionError):
        with RunTracker(experiment="exp-c", run_name="boom") as t:
            t.log_metrics({"train/loss": 1.5}, step=1)
            _ = 1 / 0
    run = _run(t.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["adept.failure"] == "ZeroDivisionError: division by zero"
    assert run.data.metrics["train/loss"] == 1.5  # buffered points are not lost on the way down
    df = tracking.runs_dataframe("exp-c")
    assert df.loc[0, "failure"] == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize("exc", [RunKilled("stopped by SIGTERM"), KeyboardInterrupt()])
def test_kill_ends_killed(store, exc):
    with pytest.raises(type(exc)):
        with RunTracker(experiment="exp-c", run_name="killed") as t:
            raise exc
    run = _run(t.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["adept.failure"].startswith(type(exc).__name__)


def test_sigterm_raises_runkilled_once(store, restore_sigterm):
    tracking.install_sigterm_handler()
    with pytest.raises(RunKilled):
        with RunTracker(experiment="exp-c", run_name="sigterm") as t:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here
    assert _run(t.run_id).info.status == "KILLED"
    assert "SIGTERM" in _run(t.run_id).data.tags["adept.failure"]
    os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM (during checkpoint saving) is ignored
    time.sleep(0.05)


def test_finish_is_idempotent(store):
    t = RunTracker(experiment="exp-d", run_name="twice")
    t.finish("FINISHED")
    end = _run(t.run_id).info.end_time
    t.finish("FINISHED")
    t.finish("FAILED", reason="late")
    with t:  # leaving the context after an explicit finish changes nothing either
        pass
    run = _run(t.run_id)
    assert (run.info.status, run.info.end_time) == ("FINISHED", end)
    assert "adept.failure" not in run.data.tags
    bad = RunTracker(experiment="exp-d", run_name="bad")
    with pytest.raises(ValueError, match="finish status"):
        bad.finish("DONE")
    bad.finish()


def test_continue_scheduled_run(store):
    client = tracking.get_client()
    exp_id = tracking.ensure_experiment("exp-e")
    run_id = client.create_run(exp_id, run_name="queued").info.run_id
    client.update_run(run_id, status="SCHEDULED")
    with RunTracker(experiment="ignored", run_name="queued", run_id=run_id) as t:
        assert t.run_id == run_id
        run = _run(run_id)
        assert run.info.status == "RUNNING"
        assert run.data.tags["adept.pid"] == str(os.getpid())
    assert _run(run_id).info.status == "FINISHED"
    # Resuming a KILLED run (python -m adept train --resume-from): RUNNING again, old reason gone.
    client.set_tag(run_id, "adept.failure", "RunKilled: stopped")
    client.set_terminated(run_id, status="KILLED")
    with RunTracker(run_id=run_id):
        assert "adept.failure" not in _run(run_id).data.tags
        assert _run(run_id).info.status == "RUNNING"
    assert _run(run_id).info.status == "FINISHED"
    with pytest.raises(ValueError, match="not in the store"):
        RunTracker(run_id="0" * 32)


def test_refuses_run_trained_by_another_live_process(store):
    client = tracking.get_client()
    run_id = client.create_run(tracking.ensure_experiment("exp-e")).info.run_id
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        client.set_tag(run_id, "adept.pid", str(other.pid))
        client.set_tag(run_id, "adept.host", tracking.hostname())
        with pytest.raises(ValueError, match=f"process {other.pid}"):
            RunTracker(run_id=run_id)
    finally:
        other.kill()
        other.wait()
    RunTracker(run_id=run_id).finish()  # once that process is gone the run can be continued
    assert _run(run_id).info.status == "FINISHED"


def test_log_params_keeps_first_value(store, capsys):
    with RunTracker(experiment="exp-f") as t:
        t.log_params({"a": 1, "b": "x"})
        t.log_params({"a": 1, "b": "y", "c": 3.5})
    params = _run(t.run_id).data.params
    assert params == {"a": "1", "b": "x", "c": "3.5"}
    assert "param 'b' already logged" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ reading


def test_runs_dataframe_sql_and_search_paths_agree(store, monkeypatch):
    from mlflow.entities import Metric, Param, RunTag

    client = tracking.get_client()
    exp_a, exp_b = tracking.ensure_experiment("exp-g"), tracking.ensure_experiment("exp-h")
    ids = []
    for i in range(24):
        run = client.create_run(exp_a if i % 2 else exp_b, run_name=f"r{i}", start_time=1_700_000_000_000 + i)
        now = int(time.time() * 1000)
        metrics = [Metric("train/loss", float(i), now, 1), Metric("train/loss", i + 0.5, now, 2),
                   Metric("val/f1", float("nan") if i == 3 else i / 10, now, 2)]
        tags = [RunTag("adept.method", ["pt", "dept", "adept"][i % 3]), RunTag("adept.seed", str(i))]
        client.log_batch(run.info.run_id, params=[Param(f"p{j}", str(i * j)) for j in range(5)],
                         metrics=metrics, tags=tags)
        client.set_terminated(run.info.run_id, status="FINISHED" if i % 5 else "FAILED")
        ids.append(run.info.run_id)
    client.delete_run(ids[0])  # deleted runs are not listed

    fast = tracking.runs_dataframe()
    monkeypatch.setenv("ADEPT_FAST_READ", "0")
    slow = tracking.runs_dataframe()
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == 23 and ids[0] not in set(fast["run_id"])
    assert fast["run_id"].tolist() == ids[1:][::-1]  # newest first
    row = fast.set_index("run_id").loc[ids[3]]
    assert row["metrics.train/loss"] == 3.5 and pd.isna(row["metrics.val/f1"])
    assert row["params.p4"] == "12" and row["seed"] == 3 and row["method"] == "pt"

    monkeypatch.setenv("ADEPT_FAST_READ", "1")
    only_g = tracking.runs_dataframe("exp-g")
    assert set(only_g["experiment"]) == {"exp-g"} and len(only_g) == 12
    pd.testing.assert_frame_equal(only_g.reset_index(drop=True), tracking.runs_dataframe(exp_a))
    filtered = tracking.runs_dataframe(filter_string="tags.`adept.method` = 'dept'")
    assert set(filtered["method"]) == {"dept"} and len(filtered) == 8


def test_runs_dataframe_empty_store_has_columns(store):
    df = tracking.runs_dataframe()
    assert df.empty and list(df.columns) == tracking.BASE_COLUMNS
    assert tracking.runs_dataframe("no-such-experiment").empty


# ------------------------------------------------------------------------------------------------ processes


def test_pid_alive_sees_dead_zombie_and_reused_pids():
    assert tracking.pid_alive(os.getpid())
    assert tracking.pid_alive(os.getpid(), tracking.process_start_ticks(os.getpid()))
    assert not tracking.pid_alive(os.getpid(), "1")  # same pid, different start time: a reused pid
    assert not tracking.pid_alive(_dead_pid())
    assert not tracking.pid_alive(0) and not tracking.pid_alive(-5)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 20
    def state() -> str:
        return open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0]

    while time.time() < deadline and state() != "Z":
        time.sleep(0.05)
    os.kill(zombie.pid, 0)  # still "exists" for kill(0) ...
    assert not tracking.pid_alive(zombie.pid)  # ... but it is not alive
    zombie.wait()
