"""The Ray executor on a local Ray instance (num_cpus=2) started by the test: a small sweep of tiny runs
end to end, with one run finishing, one failing at start, one stopped mid-way (checkpoint, KILLED) and one
whose Ray worker is killed (FAILED with the reason), then resumed through Ray from its checkpoint."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from adept import launcher, tracking  # noqa: E402
from adept.launcher import ray_executor  # noqa: E402

TINY = {"method": "pt", "backbone": "tiny-bert", "task": "rotten-tomatoes", "max_steps": 2, "eval_every": 2,
        "eval_examples": 8, "test_examples": 8, "warmup_steps": 0, "batch_size": 4, "max_length": 32,
        "zero_shot": False, "experiment": "ray-test", "sweep": "ray-sweep"}
SLOW = {"max_steps": 20000, "eval_every": 10000}


@pytest.fixture(scope="module")
def ray_instance():
    if ray.is_initialized():
        ray.shutdown()
    os.environ.pop("RAY_ADDRESS", None)
    ray_executor.connect(None, num_cpus=2)
    yield ray
    ray.shutdown()


def _wait_training(client, run_id: str, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = client.get_run(run_id)
        if run.info.status == "RUNNING" and int(run.data.tags.get("adept.progress", "0/1").split("/")[0]) > 0:
            return
        assert run.info.status in ("SCHEDULED", "RUNNING"), (run.info.status, run.data.tags.get("adept.failure"))
        time.sleep(0.3)
    pytest.fail(f"run {run_id} did not start training within {timeout} s")


def test_resources_follow_the_config(monkeypatch):
    monkeypatch.delenv("ADEPT_RAY_CPUS", raising=False)
    assert ray_executor.resources({"device": "cuda"}) == {"num_cpus": 1, "num_gpus": 1}
    monkeypatch.setenv("ADEPT_RAY_CPUS", "4")
    assert ray_executor.resources({"device": "cpu"}) == {"num_cpus": 4, "num_gpus": 0}


# 68 s at load 4, 150 s at load 9 on 2 cores (Ray start 9-20 s, five cold training processes): in the default
# suite all the same, so CI runs the sweep on a real local Ray instance (the suite stays under 10 minutes).
def test_a_sweep_on_ray_ends_with_every_status_right(ray_instance, store, tmp_path):
    data = tmp_path / "gone.csv"
    data.write_text("text,label\n" + "".join(f"good film {i},1\nbad film {i},0\n" for i in range(20)))
    configs = [{**TINY, "run_name": "ok"},
               {**TINY, "run_name": "fails", "task": "", "data_file": str(data), "text_column": "text",
                "label_column": "label"},
               {**TINY, **SLOW, "run_name": "stopped"},
               {**TINY, **SLOW, "run_name": "worker-dies"}]
    ids = launcher.enqueue_all(configs, executor="ray")
    ok, fails, stopped, dies = ids
    data.unlink()  # checked when queued, gone when its Ray task starts: that run fails with the reason
    assert launcher.queued_run_ids() == []  # the local worker never sees Ray runs
    result: dict = {}
    driver = threading.Thread(target=lambda: result.update(ray_executor.run_on_ray(ids, poll_s=0.3)))
    driver.start()
    client = tracking.get_client()
    _wait_training(client, stopped)
    assert "SIGTERM" in launcher.stop_run(stopped)
    _wait_training(client, dies)
    worker_pid = int(client.get_run(dies).data.tags["adept.worker_pid"])
    os.kill(worker_pid, signal.SIGKILL)  # the Ray worker process dies (its training child dies with it)
    driver.join(timeout=240)
    assert not driver.is_alive()
    assert result == {ok: "FINISHED", fails: "FAILED", stopped: "KILLED", dies: "FAILED"}
    runs = {rid: client.get_run(rid) for rid in ids}
    assert "could not start" in runs[fails].data.tags["adept.failure"]
    assert ray_executor.RAY_DIED_REASON in runs[dies].data.tags["adept.failure"]
    for run in runs.values():
        assert run.data.tags["adept.executor"] == "ray"
    for rid in (ok, stopped, dies):
        assert runs[rid].data.tags["adept.host"] == tracking.hostname() and runs[rid].data.tags["adept.ray_node"]
    assert tracking.download_artifacts(stopped, "checkpoint/manifest.json")
    assert "stopped" in (tracking.read_run_log(stopped) or "").lower()
    parent = client.get_run(runs[ok].data.tags["mlflow.parentRunId"])
    assert parent.data.tags["adept.role"] == "sweep"

    # Resume the stopped run through Ray: it continues from its checkpoint and is stopped again at once.
    launcher.resume(stopped, executor="ray", start_worker=False)
    assert client.get_run(stopped).info.status == "SCHEDULED"
    assert launcher.stop_run(stopped).startswith("Cancelled queued run")  # a queued Ray run is cancelled
    assert ray_executor.run_on_ray([stopped], poll_s=0.3) == {stopped: "KILLED"}


@pytest.mark.slow  # ~3-5 min on 2 busy cores: Tune trials start training processes cold
def test_asha_stops_bad_learning_rates_and_marks_them_in_mlflow(ray_instance, store):
    from adept.launcher.ray_tune import TAG_STOPPED_BY, run_with_asha

    base = {**TINY, "max_steps": 120, "eval_every": 30, "eval_examples": 16, "sweep": "asha-sweep"}
    ids = launcher.enqueue_all([{**base, "lr_prompt": lr} for lr in (0.3, 1e-5, 1e-7)], executor="ray")
    statuses = run_with_asha(ids, metric="val/accuracy", poll_s=0.3)
    client = tracking.get_client()
    assert set(statuses.values()) <= {"FINISHED", "KILLED"}, statuses
    for run_id, status in statuses.items():
        tags = client.get_run(run_id).data.tags
        step = int(tags["adept.progress"].split("/")[0])
        if status == "KILLED":  # stopped by ASHA: tagged so, with where and why, before the last step
            assert tags[TAG_STOPPED_BY] == "asha" and "stopped early by Ray Tune ASHA" in tags["adept.failure"]
            assert step < 120 and tracking.download_artifacts(run_id, "checkpoint/manifest.json")
        else:
            assert step == 120 and TAG_STOPPED_BY not in tags


def test_sweep_command_refuses_ray_options_without_the_ray_executor(tmp_path, capsys):
    from adept.__main__ import main

    sweep = tmp_path / "s.yaml"
    sweep.write_text("base: {method: pt, backbone: tiny-bert, max_steps: 2, warmup_steps: 0}\ngrid: {seed: [0, 1]}\n")
    assert main(["sweep", str(sweep), "--asha"]) == 2
    assert "--asha needs --executor ray" in capsys.readouterr().err
    assert main(["sweep", str(sweep), "--ray-address", "auto"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err


def test_stop_of_a_ray_run_on_another_node_is_forwarded_through_the_store(store):
    run_id = launcher.enqueue_all([{**TINY, "sweep": ""}], executor="ray")[0]
    client = tracking.get_client()
    assert ray_executor.train_task.__name__  # the task body is importable without a Ray connection
    client.set_tag(run_id, "adept.host", "another-node")
    client.set_tag(run_id, "adept.pid", "12345")
    client.update_run(run_id, status="RUNNING")
    message = launcher.stop_run(run_id)
    assert "Ray node 'another-node'" in message
    assert client.get_run(run_id).data.tags["adept.stop_requested"] == "1"  # its task sends SIGTERM there
    client.update_run(run_id, status="KILLED")
    assert ray_executor.train_task(run_id, {}, tracking.tracking_uri()) == "skipped"  # never starts again
