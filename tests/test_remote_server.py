"""A remote MLflow tracking server end to end: ``mlflow server`` on 127.0.0.1 (a free port), then a tiny
training, a queued run through the background worker, Stop, analyze and export against it, with every
artifact in the server's artifact store and the client's local state in ADEPT_HOME."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from adept import launcher, tracking

TINY = {"method": "pt", "backbone": "tiny-bert", "task": "rotten-tomatoes", "max_steps": 2, "eval_every": 2,
        "eval_examples": 8, "test_examples": 8, "warmup_steps": 0, "batch_size": 4, "max_length": 32,
        "zero_shot": False, "experiment": "remote-test"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``(uri, artifact_root)`` of an MLflow server with its own sqlite store and proxied artifact store."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    env.pop("MLFLOW_TRACKING_URI", None)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen([str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{root}/server.db",
                             "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(uri + "/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start: " + (root / "server.log").read_text()[-2000:])
    if proc.poll() is not None:
        pytest.fail("mlflow server exited: " + (root / "server.log").read_text()[-2000:])
    yield uri, root / "artifacts"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.mark.slow  # 47 s (load 6) to 113 s (load 9) on 2 cores: the server, a worker and training start cold
def test_remote_server_train_queue_stop_analyze_export(server, tmp_path, monkeypatch):
    uri, artifact_root = server
    home = tmp_path / "client-home"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("ADEPT_WORKER_IDLE_S", "0.5")
    monkeypatch.setenv("ADEPT_WORKER_POLL_S", "0.2")
    from adept.training import train

    res = train(TINY, progress=False)
    client = tracking.get_client()
    run = client.get_run(res["run_id"])
    assert run.info.status == "FINISHED"
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.artifact_location.startswith("mlflow-artifacts:"), exp.artifact_location  # the server's own
    stored = {p.name for p in artifact_root.rglob("*") if p.is_file()}
    assert {"config.json", "adapter.safetensors", "command.txt"} <= stored  # in the server's artifact store
    assert not (home / "artifacts").exists()  # nothing written to a client-local artifact folder
    assert any(k.startswith("system/") for k in run.data.metrics)

    # A queued run through the background worker, stopped while it trains: checkpoint, KILLED, log uploaded.
    slow = {**TINY, "max_steps": 20000, "eval_every": 10000, "run_name": "remote-slow"}
    run_id = launcher.enqueue(slow)
    assert (home / "queue").is_dir() or launcher.run_log_path(run_id).exists()  # local state in ADEPT_HOME
    deadline = time.time() + 120
    while time.time() < deadline:
        r = client.get_run(run_id)
        step = int(r.data.tags.get("adept.progress", "0/1").split("/")[0])
        if r.info.status == "RUNNING" and step > 0:
            break
        assert r.info.status in ("SCHEDULED", "RUNNING"), (r.info.status, r.data.tags.get("adept.failure"))
        time.sleep(0.3)
    assert "SIGTERM" in launcher.stop_run(run_id)
    assert launcher.wait_for([run_id], timeout_s=90, poll_s=0.3) == {run_id: "KILLED"}
    assert tracking.download_artifacts(run_id, "checkpoint/manifest.json")
    deadline = time.time() + 30  # the worker uploads the log once the process exited
    while time.time() < deadline and not [a for a in client.list_artifacts(run_id, "logs")]:
        time.sleep(0.3)
    launcher.run_log_path(run_id).unlink()  # read it from the artifact, as another host would
    from_artifact = tracking.read_run_log(run_id)
    assert from_artifact and "stopped" in from_artifact.lower(), from_artifact
    assert str(home) in client.get_run(run_id).data.tags["adept.log"]

    # Analyze and export the finished run against the server.
    from adept.analysis import analyze_run
    from adept.export import export_run

    small = {"stats_examples": 8, "pilot_examples": 4, "attention_tokens": 8, "latency_examples": 1,
             "latency_repeats": 1}
    analysis = analyze_run(res["run_id"], sizes=small)
    assert analysis["meta"]["run_id"] == res["run_id"]
    assert any(p.parent.name == "analysis" for p in artifact_root.rglob("*.json"))
    report = export_run(res["run_id"], "peft", tmp_path / "export")
    assert (tmp_path / "export" / "adapter_config.json").is_file(), report
