"""adept.launcher: the run queue in MLflow + files, the single worker, stop / cancel / reconcile.

Queue mechanics run against a fake training script (starts in ~1 s); one end-to-end test starts the
real background worker, which runs the real ``python -m adept train`` on a tiny backbone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from adept import launcher, tracking
from adept.launcher import repair, worker

TINY = {"method": "pt", "backbone": "tiny-bert", "task": "rotten-tomatoes", "max_steps": 3, "eval_every": 3,
        "eval_examples": 16, "test_examples": 16, "warmup_steps": 0, "batch_size": 4,
        "experiment": "queue-test"}

# Stands in for `python -m adept train --config FILE --run-id ID`; config run_name picks what it does.
FAKE_TRAIN = textwrap.dedent("""
    import json, os, sys, time
    from adept.tracking import RunTracker, install_sigterm_handler
    args = sys.argv[1:]
    cfg = json.load(open(args[args.index("--config") + 1]))
    run_id = args[args.index("--run-id") + 1]
    mode = cfg["run_name"].split("-")[0]
    install_sigterm_handler()
    if mode == "die":
        print("fake trainer dying without a word", flush=True)
        os._exit(3)
    with RunTracker(experiment=cfg["experiment"], run_name=cfg["run_name"], run_id=run_id) as t:
        for step in range(1, cfg["max_steps"] + 1):
            t.log_metrics({"train/loss": 1.0 / step}, step=step)
            t.flush()
            time.sleep(0.5 if mode == "slow" else 0.02)
""")


@pytest.fixture()
def fake_train(store, monkeypatch):
    script = store / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    def command(config_path, run_id):
        return [sys.executable, str(script), "--config", str(config_path), "--run-id", run_id]

    monkeypatch.setattr(worker, "_train_command", command)  # where the worker looks it up
    return script


def _run(run_id):
    return tracking.get_client().get_run(run_id)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _queue(name: str, **overrides) -> str:
    return launcher.enqueue({**TINY, "run_name": name, **overrides}, start_worker=False)


# ---------------------------------------------------------------------- enqueue


def test_enqueue_creates_scheduled_run_and_queue_file(store, monkeypatch):
    started = []
    monkeypatch.setattr(launcher, "ensure_worker", lambda *a, **k: started.append(k) or None)
    run_id = launcher.enqueue({**TINY, "seed": 3, "sweep": "sw-1"})
    assert started == [{"tracking_uri": tracking.tracking_uri()}]

    run = _run(run_id)
    assert run.info.status == "SCHEDULED"
    assert run.info.run_name == "pt-rotten-tomatoes-s3"
    tags = run.data.tags
    assert (tags["adept.method"], tags["adept.backbone"], tags["adept.task"], tags["adept.seed"],
            tags["adept.sweep"], tags["adept.progress"]) == \
        ("pt", "tiny-bert", "rotten-tomatoes", "3", "sw-1", "0/3")
    assert tags["adept.command"].startswith("python -m adept train") and "--seed 3" in tags["adept.command"]
    assert tags["adept.command"] == launcher.reproduce_command({**TINY, "seed": 3, "sweep": "sw-1"})

    queued = json.loads((store / "queue" / f"{run_id}.json").read_text())
    assert queued == tracking.load_json_artifact(run_id, "config.json")
    assert queued["max_steps"] == 3 and queued["lr_prompt"] == 0.3  # defaults filled in
    assert run.data.params["max_steps"] == "3" and "budget" not in run.data.params
    assert launcher.queued_run_ids() == [run_id]
    df = tracking.runs_dataframe("queue-test")
    assert df.loc[0, "status"] == "SCHEDULED" and df.loc[0, "progress"] == "0/3"


def test_enqueue_takes_a_run_config_as_well_as_a_dict(store):
    from adept.config import RunConfig

    cfg = RunConfig.from_dict({**TINY, "seed": 5, "method": "PT"})
    run_id = launcher.enqueue(cfg, start_worker=False)
    assert cfg.method == "PT"  # the caller's config is copied, never changed
    from_dict = launcher.enqueue({**TINY, "seed": 5, "method": "PT"}, start_worker=False)
    assert tracking.load_json_artifact(run_id, "config.json") == tracking.load_json_artifact(from_dict, "config.json")
    a, b = _run(run_id), _run(from_dict)
    assert a.info.run_name == b.info.run_name == "pt-rotten-tomatoes-s5"
    assert a.data.params == b.data.params
    assert {k: v for k, v in a.data.tags.items() if k.startswith("adept.")} == \
        {k: v for k, v in b.data.tags.items() if k.startswith("adept.")}
    assert sorted(launcher.queued_run_ids()) == sorted([run_id, from_dict])


def test_enqueue_rejects_invalid_config_before_creating_anything(store):
    with pytest.raises(ValueError, match="max_steps"):
        launcher.enqueue({**TINY, "max_steps": -1}, start_worker=False)
    with pytest.raises(ValueError, match="Unknown config field"):
        launcher.enqueue({**TINY, "learning_rate": 1}, start_worker=False)
    assert tracking.runs_dataframe().empty
    assert launcher.queued_run_ids() == []


# ---------------------------------------------------------------------- stop / cancel


def test_stop_scheduled_run_cancels_it(store):
    run_id = _queue("ok-a")
    message = launcher.stop_run(run_id)
    assert message.startswith("Cancelled queued run")
    run = _run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["adept.failure"] == "cancelled before start"
    assert launcher.queued_run_ids() == []
    assert "already KILLED" in launcher.stop_run(run_id)
    with pytest.raises(ValueError, match="No run"):
        launcher.stop_run("f" * 32)


def test_stop_queue_cancels_only_scheduled_runs(store):
    queued = [_queue(f"ok-{i}") for i in range(3)]
    client = tracking.get_client()
    orphan = client.create_run(tracking.ensure_experiment("queue-test")).info.run_id
    client.update_run(orphan, status="SCHEDULED")  # no queue file: would never start
    running = client.create_run(tracking.ensure_experiment("queue-test")).info.run_id
    client.set_tag(running, "adept.pid", str(os.getpid()))
    client.set_tag(running, "adept.host", tracking.hostname())
    launcher.stop_run(queued[0])

    assert launcher.stop_queue() == 3  # queued[1], queued[2], orphan
    assert [_run(r).info.status for r in queued + [orphan]] == ["KILLED"] * 4
    assert _run(running).info.status == "RUNNING"  # running runs continue
    assert launcher.queued_run_ids() == [] and launcher.stop_queue() == 0


def test_rerun_queues_same_config(store):
    first = _queue("ok-r", resume_from=None)
    launcher.stop_run(first)
    second = launcher.rerun(first, start_worker=False)
    assert second != first and _run(second).info.status == "SCHEDULED"
    config = tracking.load_json_artifact(first, "config.json")
    assert tracking.load_json_artifact(second, "config.json") == config
    client = tracking.get_client()
    bare = client.create_run(tracking.ensure_experiment("queue-test")).info.run_id
    with pytest.raises(ValueError, match="no config.json"):
        launcher.rerun(bare)


def test_resume_requeues_stopped_run_with_its_checkpoint(store, tmp_path):
    run_id = _queue("ok-resume")
    launcher.stop_run(run_id)
    with pytest.raises(ValueError, match="no checkpoint"):
        launcher.resume(run_id)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "state.json").write_text('{"step": 2}')
    tracking.get_client().log_artifacts(run_id, str(ckpt), "checkpoint")
    assert launcher.resume(run_id, start_worker=False) == run_id
    run = _run(run_id)
    assert run.info.status == "SCHEDULED" and "adept.failure" not in run.data.tags
    assert json.loads((store / "queue" / f"{run_id}.json").read_text())["resume_from"] == run_id
    with pytest.raises(ValueError, match="only a KILLED or FAILED run"):
        launcher.resume(run_id)


# ---------------------------------------------------------------------- reconcile


def test_reconcile_marks_dead_runs_of_this_host_only(store):
    client = tracking.get_client()
    exp = tracking.ensure_experiment("queue-test")
    host = tracking.hostname()

    def running(pid, host=host, **tags):
        run_id = client.create_run(exp).info.run_id
        for key, value in {"adept.pid": str(pid), "adept.host": host, **tags}.items():
            client.set_tag(run_id, key, value)
        return run_id

    dead = running(_dead_pid())
    stopped = running(_dead_pid(), **{"adept.stop_requested": "1"})
    alive = running(os.getpid())
    reused = running(os.getpid(), **{"adept.pid_start": "1"})  # our pid, but a different process start
    elsewhere = running(_dead_pid(), host="some-other-host")
    no_pid = client.create_run(exp).info.run_id
    finished = running(_dead_pid())
    client.set_terminated(finished, status="FINISHED")

    assert sorted(launcher.reconcile()) == sorted([dead, stopped, reused])
    assert _run(dead).info.status == "FAILED"
    assert _run(dead).data.tags["adept.failure"].startswith(
        "training process ended without reporting (killed or crashed); see log")
    assert _run(stopped).info.status == "KILLED"
    assert [_run(r).info.status for r in (alive, elsewhere, no_pid, finished)] == \
        ["RUNNING", "RUNNING", "RUNNING", "FINISHED"]
    assert launcher.reconcile() == []


# ---------------------------------------------------------------------- lock / worker


def test_single_worker_lock(store, monkeypatch):
    spawned = []

    class FakePopen:
        pid = 424242

        def __init__(self, cmd, **kwargs):
            spawned.append((cmd, kwargs))

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    lock = launcher.lock_path()
    # A live worker (here: this test) holds the lock -> nothing is started, and a second worker quits.
    fd = worker._try_lock(lock)
    assert fd is not None
    try:
        assert launcher.ensure_worker() is None
        assert launcher.worker_main(max_concurrent=1, poll_s=0.01, idle_exit_s=0.01) is False
        assert launcher.worker_status()["running"] is True
    finally:
        worker._release_lock(fd)
    assert spawned == []

    # A stale lock file (its worker died: pid dead, flock gone) is taken over.
    lock.write_text(json.dumps({"pid": _dead_pid(), "max_concurrent": 1}))
    assert launcher.worker_status() == {"running": False, "pid": None, "max_concurrent": None,
                                        "started": None, "queued": 0}
    monkeypatch.setenv("ADEPT_MAX_CONCURRENT", "3")
    assert launcher.ensure_worker() == 424242
    cmd, kwargs = spawned[-1]
    assert cmd == [sys.executable, "-m", "adept", "worker", "--max-concurrent", "3"]
    assert kwargs["start_new_session"] is True
    assert kwargs["env"]["MLFLOW_TRACKING_URI"] == tracking.tracking_uri()
    assert kwargs["env"]["ADEPT_HOME"] == str(store)
    assert launcher.ensure_worker(2) == 424242 and spawned[-1][0][-1] == "2"
    monkeypatch.setenv("ADEPT_MAX_CONCURRENT", "zero")
    with pytest.raises(ValueError, match="ADEPT_MAX_CONCURRENT"):
        launcher.ensure_worker()

    # The worker itself: takes the lock (pid inside), lets go of it when idle.
    assert launcher.worker_main(max_concurrent=2, poll_s=0.01, idle_exit_s=0.05) is True
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert launcher.worker_status()["running"] is False


def test_worker_runs_queue_oldest_first_and_stop_kills_running_run(store, fake_train):
    first, crash, slow = _queue("ok-1"), _queue("die-2"), _queue("slow-3", max_steps=60)
    worker = threading.Thread(target=launcher.worker_main,
                              kwargs={"max_concurrent": 1, "poll_s": 0.05, "idle_exit_s": 0.2})
    worker.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the slow run reports (its SIGTERM handler is installed)
            if "train/loss" in _run(slow).data.metrics:
                break
            time.sleep(0.1)
        assert _run(slow).data.tags["adept.pid"] != str(os.getpid())  # the child's pid, not the worker's
        message = launcher.stop_run(slow)
        assert message.startswith(f"Sent SIGTERM to run {slow}")
    finally:
        worker.join(timeout=30)
    assert not worker.is_alive()

    assert [_run(r).info.status for r in (first, crash, slow)] == ["FINISHED", "FAILED", "KILLED"]
    hist = tracking.metric_history([first, slow], ["train/loss"])
    assert hist[hist["run_id"] == first]["value"].tolist() == pytest.approx([1.0, 0.5, 1 / 3])
    assert 1 <= len(hist[hist["run_id"] == slow]) < 60  # stopped part-way
    # Oldest first and never two at once: the third run's first point comes after the first run's last.
    assert hist[hist["run_id"] == slow]["timestamp"].min() > hist[hist["run_id"] == first]["timestamp"].max()
    reason = _run(crash).data.tags["adept.failure"]
    assert reason.startswith("training process ended without reporting")
    assert "exit code 3" in reason and "fake trainer dying without a word" in reason
    assert _run(slow).data.tags["adept.failure"].startswith("RunKilled: stopped by SIGTERM")
    assert _run(first).data.tags["adept.log"] == str(launcher.run_log_path(first))
    assert launcher.queued_run_ids() == [] and not list((store / "queue" / "started").glob("*.json"))
    assert launcher.worker_status()["running"] is False


def test_worker_and_real_training_end_to_end(store, monkeypatch):
    """enqueue -> background `python -m adept worker` -> `python -m adept train` on tiny-bert -> FINISHED."""
    monkeypatch.setenv("ADEPT_WORKER_IDLE_S", "0.5")
    monkeypatch.setenv("ADEPT_WORKER_POLL_S", "0.2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run_id = launcher.enqueue(TINY)
    statuses = launcher.wait_for([run_id], timeout_s=120, poll_s=0.5)
    log = launcher.run_log_path(run_id)
    assert statuses == {run_id: "FINISHED"}, log.read_text()[-2000:] if log.exists() else "no run log"
    run = _run(run_id)
    assert run.data.tags["adept.progress"] == "3/3"
    assert 0 <= run.data.metrics["test/accuracy"] <= 100
    assert [m.step for m in tracking.get_client().get_metric_history(run_id, "train/loss")] == [1, 2, 3]
    assert tracking.load_json_artifact(run_id, "config.json")["max_steps"] == 3
    deadline = time.time() + 30
    while launcher.worker_status()["running"] and time.time() < deadline:
        time.sleep(0.2)  # the worker leaves by itself once idle
    assert launcher.worker_status()["running"] is False
    assert "worker" in (store / "logs" / "worker.log").read_text()


def test_sigterm_before_handler_counts_as_stop(store):
    """A process killed by SIGTERM before it could report still ends KILLED, not FAILED."""
    client = tracking.get_client()
    run_id = client.create_run(tracking.ensure_experiment("queue-test")).info.run_id
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    client.set_tag(run_id, "adept.pid", str(proc.pid))
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    assert repair._mark_dead(client, run_id, returncode=proc.returncode) is True
    run = _run(run_id)
    assert run.info.status == "KILLED" and "SIGTERM" in run.data.tags["adept.failure"]
    assert repair._mark_dead(client, run_id, returncode=-15) is False  # already ended: left alone


def test_start_analysis_runs_detached_and_stores_the_analysis(store):
    """start_analysis -> background `python -m adept analyze RUN_ID` on the same store -> analysis/*.json."""
    from adept import analysis
    from adept.training import train
    from app.seed import tiny_config

    run_id = train(tiny_config("adept", 0, max_steps=4, eval_every=4), progress=False)["run_id"]
    log = launcher.start_analysis(run_id)
    assert log == store / "logs" / f"analyze-{run_id}.log" and log.exists()
    deadline = time.time() + 120
    stored = None
    while stored is None and time.time() < deadline:
        time.sleep(1.0)
        stored = analysis.load_analysis(run_id)
    assert stored is not None, log.read_text()[-2000:]
    assert stored["meta"]["run_id"] == run_id and stored["meta"]["method"] == "adept"
    assert set(analysis.ARTIFACT_NAMES) <= set(stored)
    deadline = time.time() + 30
    while "latency per example" not in log.read_text() and time.time() < deadline:
        time.sleep(0.2)  # the summary is printed after the last artifact is stored
    assert f"run {run_id} (adept" in log.read_text()
