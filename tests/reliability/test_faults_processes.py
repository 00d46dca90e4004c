"""Faults injected into real processes: SIGKILL and SIGTERM of a direct ``python -m adept train``, and the
queue under fire — four launches at concurrency two, one of them SIGKILLed, then the worker SIGKILLed with
runs still queued, the app restarted while two runs train. Nothing is lost: every reader repairs the store
first, a lost worker is restarted, and each resumed run equals the uninterrupted one (ADePT, dropout)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from adept import launcher, tracking
from adept.training import train

from .helpers import ROOT, TINY, assert_store_sound, cli

# Long enough to be killed between its evaluations (metrics are flushed every ~2 s in between), short
# enough to finish in seconds: 300 tiny-llama steps at batch 2.
SLOW = {**TINY, "max_steps": 300, "eval_every": 100, "batch_size": 2, "max_length": 32, "test_examples": 8}
_REFERENCE: dict[str, list] = {}


def history(run_id: str) -> list[tuple]:
    df = tracking.metric_history([run_id], None)
    df = df[~df["key"].str.startswith(("time/", "system/"))]  # timings and machine samples vary
    return sorted(zip(df["key"], df["step"], df["value"]))


def reference(cfg: dict) -> list[tuple]:
    """The uninterrupted run of ``cfg`` trained in this process (once per config)."""
    key = json.dumps(cfg, sort_keys=True)
    if key not in _REFERENCE:
        _REFERENCE[key] = history(train(cfg, progress=False)["run_id"])
    return _REFERENCE[key]


def _steps(run_id: str, key: str) -> list[int]:
    return sorted(tracking.metric_history([run_id], [key])["step"].tolist())


def _wait(condition, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _past_checkpoint(run_id: str) -> bool:
    """A checkpoint exists (an evaluation after step 0) and later training steps are already logged."""
    val = [s for s in _steps(run_id, "val/accuracy") if s > 0]
    return bool(val) and max(_steps(run_id, "train/loss") or [0]) > max(val)


def _start_direct(store, cfg: dict) -> tuple[subprocess.Popen, str]:
    path = store / "cfg.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, "-m", "adept", "train", "--config", str(path), "--quiet"], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def started():
        df = tracking.runs_dataframe()
        return df["run_id"].iloc[0] if not df.empty and df["status"].iloc[0] == "RUNNING" else None

    run_id = _wait(started, 240, "the run to start")
    _wait(lambda: _past_checkpoint(run_id) or proc.poll() is not None, 240, "steps past the first checkpoint")
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read()[-2000:]
    return proc, run_id


def test_sigkill_of_a_direct_run_is_repaired_by_the_next_reader_and_resumes_exactly(store):
    expected = reference(SLOW)
    proc, run_id = _start_direct(store, SLOW)
    logged = _steps(run_id, "train/loss")
    proc.kill()  # no handler runs: as an OOM kill or a power cut
    proc.wait(60)
    assert tracking.get_client().get_run(run_id).info.status == "RUNNING"  # what the store says until repaired
    listing = cli("runs")  # any reader reconciles first
    assert listing.rc == 0 and "FAILED" in listing.out and "RUNNING" not in listing.out
    run = tracking.get_client().get_run(run_id)
    assert run.info.status == "FAILED" and "training process ended without reporting" in run.data.tags[
        tracking.TAG_FAILURE]
    assert_store_sound(store)
    out = train({**SLOW, "resume_from": run_id}, progress=False)
    assert out["status"] == "FINISHED"
    assert history(run_id) == expected  # every step once, and the same values
    check = tracking.get_client().get_run(run_id).data.tags[tracking.TAG_RESUME_CHECK]
    recomputed = len([s for s in logged if s > 100])  # steps logged past the checkpoint before the kill
    assert recomputed and re.match(r"exact: [1-9]\d* point\(s\) logged before the resume were recomputed", check)
    assert_store_sound(store)


def test_sigterm_of_a_direct_run_saves_a_checkpoint_says_so_and_resumes_exactly(store):
    expected = reference(SLOW)
    proc, run_id = _start_direct(store, SLOW)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    step = json.loads(open(tracking.download_artifacts(run_id, "checkpoint/state.json")).read())["step"]
    assert f"stopped: checkpoint saved at step {step}, run marked KILLED" in err and step > 100
    assert tracking.get_client().get_run(run_id).info.status == "KILLED"
    assert_store_sound(store)
    train({**SLOW, "resume_from": run_id}, progress=False)
    assert history(run_id) == expected
    assert_store_sound(store)


class _Concurrency:
    """Samples how many runs are RUNNING with a live process, every 0.2 s, in a thread."""

    def __init__(self):
        self.most, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        from adept.launcher.repair import _dead_run_ids
        from adept.tracking.sqlite_fast import _running_runs_from_sqlite
        from adept.tracking.store import _sqlite_path

        uri = tracking.tracking_uri()
        while not self._stop.is_set():
            try:
                running = {r for r, _ in _running_runs_from_sqlite(_sqlite_path(uri))} - set(_dead_run_ids(uri))
                self.most = max(self.most, len(running))
            except Exception:  # noqa: BLE001 - a locked read: sample again
                pass
            time.sleep(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.most


def _runs_page_line() -> str:
    """The Runs page's "Now: ..." line, from a new AppTest session (a fresh app process, as after a restart)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return next(m.value for m in at.markdown if m.value.startswith("**Now:**"))


def test_four_launches_at_concurrency_two_survive_killed_runs_a_killed_worker_and_an_app_restart(store, monkeypatch):
    monkeypatch.setenv("ADEPT_WORKER_IDLE_S", "3")
    cfgs = [{**SLOW, "seed": seed, "max_steps": 600, "eval_every": 200} for seed in range(4)]
    expected = reference(cfgs[0])
    ids = launcher.enqueue_all(cfgs)
    watch = _Concurrency()
    launcher.ensure_worker(2)

    def running():
        df = tracking.runs_dataframe()
        return df[df["status"] == "RUNNING"]["run_id"].tolist() if not df.empty else []

    _wait(lambda: len(running()) == 2, 240, "two runs training")
    # The app restarted while two runs train: a new session sees both training and two waiting, twice.
    for _ in range(2):
        assert _runs_page_line() == "**Now:** 2 running, 2 waiting in the queue"
    victim = ids[0]  # the worker starts the oldest first
    assert victim in running()
    _wait(lambda: _past_checkpoint(victim), 240, "the first run past its first checkpoint")
    tags = tracking.get_client().get_run(victim).data.tags
    os.kill(int(tags[tracking.TAG_PID]), signal.SIGKILL)  # a run the worker started
    worker_pid = json.loads((store / "worker.lock").read_text())["pid"]
    os.kill(worker_pid, signal.SIGKILL)  # and the worker, with two runs still queued
    _wait(lambda: not launcher.worker_status()["running"], 30, "the worker's lock to be released by its death")
    assert len(launcher.queued_run_ids()) == 2 and not tracking.pid_alive(worker_pid)

    listing = cli("runs")  # a reader: repairs the killed run and restarts the lost worker
    assert listing.rc == 0
    assert tracking.get_client().get_run(victim).info.status == "FAILED"
    _wait(lambda: launcher.worker_status()["running"], 60, "a new worker")
    assert launcher.worker_status()["max_concurrent"] == 2  # the concurrency the lost worker had
    others = [r for r in ids if r != victim]
    assert set(launcher.wait_for(others, timeout_s=600, poll_s=1).values()) == {"FINISHED"}

    launcher.resume(victim)
    assert launcher.wait_for([victim], timeout_s=600, poll_s=1) == {victim: "FINISHED"}
    assert watch.stop() <= 2  # never more than two at once, through all of it
    assert history(victim) == expected
    assert tracking.get_client().get_run(victim).data.tags[tracking.TAG_RESUME_CHECK].startswith("exact")
    assert all(tracking.get_client().get_run(r).info.status == "FINISHED" for r in ids)
    _wait(lambda: not launcher.worker_status()["running"], 60, "the worker to go idle")
    assert_store_sound(store)
    assert not list((store / "queue").glob("*.json")) and not list((store / "queue" / "started").glob("*.json"))
