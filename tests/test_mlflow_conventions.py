"""MLflow as its users expect: standard tags, no "None" params, dataset inputs, system metrics, sweeps as
parent runs with their runs nested, and a run's log readable from its artifact."""

from __future__ import annotations

import pytest

from adept import launcher, tracking

TINY = {"method": "pt", "backbone": "tiny-bert", "task": "rotten-tomatoes", "max_steps": 3, "eval_every": 3,
        "eval_examples": 16, "test_examples": 16, "warmup_steps": 0, "batch_size": 4,
        "experiment": "conventions"}


def test_a_training_run_carries_mlflow_standard_tags_inputs_and_system_metrics(tiny_run, monkeypatch):
    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    run = tracking.get_client().get_run(run_id)
    tags, params = run.data.tags, run.data.params
    assert tags["mlflow.user"] and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == "python -m adept train"
    from adept.training import git_commit

    if git_commit() != "unknown":
        assert tags["mlflow.source.git.commit"] == git_commit() == params["git_commit"]
    assert tags["adept.executor"] == "local"
    assert "None" not in params.values() and "budget" not in params  # unset fields are not logged
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation", "test"}
    import json

    val = inputs["validation"]
    assert val.name == "rotten-tomatoes" and len(val.digest) == 16
    profile = json.loads(val.profile)
    assert profile["num_rows"] == 8 and profile["split_rows"] == 1275
    assert inputs["training"].digest != inputs["validation"].digest
    system = [k for k in run.data.metrics if k.startswith("system/")]
    assert "system/cpu_utilization_percentage" in system and "system/system_memory_usage_megabytes" in system


def test_a_sweep_is_a_parent_run_with_its_runs_nested_and_left_out_of_run_lists(store):
    ids = launcher.enqueue_all([{**TINY, "seed": s, "sweep": "sw-nest"} for s in (0, 1)], start_worker=False)
    client = tracking.get_client()
    parents = {client.get_run(i).data.tags["mlflow.parentRunId"] for i in ids}
    assert len(parents) == 1
    parent = client.get_run(parents.pop())
    assert parent.data.tags["adept.role"] == "sweep" and parent.data.tags["adept.sweep"] == "sw-nest"
    assert parent.info.run_name == "sw-nest" and parent.info.status == "RUNNING"
    assert all(client.get_run(i).data.tags["adept.sweep"] == "sw-nest" for i in ids)  # the sweep tag is kept
    for fast in ("1", "0"):  # the sqlite fast path and search_runs agree
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ADEPT_FAST_READ", fast)
            assert sorted(tracking.runs_dataframe()["run_id"]) == sorted(ids)
            with_parent = tracking.runs_dataframe(include_sweep_parents=True)
            assert parent.info.run_id in set(with_parent["run_id"]) and len(with_parent) == 3
    launcher.stop_run(ids[0])
    launcher.reconcile(start_worker=False)
    assert client.get_run(parent.info.run_id).info.status == "RUNNING"  # one run still queued
    launcher.stop_queue()
    launcher.reconcile(start_worker=False)
    parent = client.get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["adept.sweep_summary"] == "2 KILLED"


def test_runs_outside_a_sweep_get_no_parent(store):
    run_id = launcher.enqueue_all([{**TINY, "sweep": ""}], start_worker=False)[0]
    assert "mlflow.parentRunId" not in tracking.get_client().get_run(run_id).data.tags
    assert len(tracking.runs_dataframe(include_sweep_parents=True)) == 1


def test_read_run_log_reads_the_local_file_then_the_uploaded_artifact(store, tmp_path):
    client = tracking.get_client()
    exp = tracking.ensure_experiment("logs")
    run_id = client.create_run(exp).info.run_id
    assert tracking.read_run_log(run_id) is None
    log = tmp_path / f"{run_id}.log"
    log.write_text("step 1\nstep 2\n")
    client.set_tag(run_id, tracking.TAG_LOG, str(log))
    client.set_tag(run_id, tracking.TAG_HOST, tracking.hostname())
    assert tracking.read_run_log(run_id) == "step 1\nstep 2\n"
    assert tracking.upload_run_log(client, run_id, log)
    log.unlink()  # another host, or the file is gone: the artifact is read
    assert tracking.read_run_log(run_id) == "step 1\nstep 2\n"
    assert tracking.read_run_log(run_id, max_bytes=7) == "step 2\n"
    with pytest.raises(ValueError, match="not in the store"):
        tracking.read_run_log("0" * 32)


def test_remote_store_home_is_outside_the_repo(monkeypatch):
    monkeypatch.delenv("ADEPT_HOME", raising=False)
    home = tracking.adept_home("http://127.0.0.1:5123")
    assert tracking.REPO_ROOT not in home.parents and ".adept-lab" in str(home)
    assert tracking.adept_home("http://127.0.0.1:5124") != home
    assert tracking.adept_home("sqlite:////tmp/x/mlflow.db").as_posix() == "/tmp/x"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.adept_home() == tracking.REPO_ROOT / "mlruns"  # the local default is unchanged


def test_sqlite_fast_path_refuses_workspaces_and_unknown_schemas(store, monkeypatch):
    import sqlite3

    from adept.tracking import sqlite_fast

    db = store / "mlflow.db"
    launcher.enqueue_all([{**TINY, "seed": s} for s in (0, 1)], start_worker=False)
    assert sqlite_fast.fast_path_refusal(db) is None
    fast = tracking.runs_dataframe()
    assert not sqlite_fast.needs_verification(db)  # the first read was checked against search_runs
    monkeypatch.setenv("ADEPT_FAST_READ", "0")
    assert fast.equals(tracking.runs_dataframe())  # the same frame through paged search_runs
    monkeypatch.delenv("ADEPT_FAST_READ")
    # An experiment in another MLflow workspace: a plain SQL read would list its runs, search_runs does not.
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, workspace) "
                 "VALUES ('elsewhere', '/tmp/x', 'active', 'team-b')")
    exp_id = conn.execute("SELECT experiment_id FROM experiments WHERE name = 'elsewhere'").fetchone()[0]
    conn.execute("INSERT INTO runs (run_uuid, name, status, start_time, lifecycle_stage, artifact_uri, "
                 "experiment_id, source_type, source_name, entry_point_name, user_id, source_version) "
                 "VALUES ('f' || hex(randomblob(15)), 'other', 'FINISHED', 1, 'active', '/tmp/x', ?, 'LOCAL', "
                 "'', '', '', '')", (exp_id,))
    conn.commit()
    conn.close()
    assert "workspace" in sqlite_fast.fast_path_refusal(db)
    listed = tracking.runs_dataframe()  # refused: paged search_runs, whatever MLflow's workspace rules say
    monkeypatch.setenv("ADEPT_FAST_READ", "0")
    assert listed.equals(tracking.runs_dataframe())
    monkeypatch.delenv("ADEPT_FAST_READ")
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert "workspaces" in sqlite_fast.fast_path_refusal(db)
    monkeypatch.delenv("MLFLOW_ENABLE_WORKSPACES")
    monkeypatch.setattr(sqlite_fast, "VERIFIED_SCHEMAS", {"3.17.2": "not-this-one"})
    assert "schema revision" in sqlite_fast.fast_path_refusal(db)
