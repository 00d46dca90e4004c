"""Runs page: the table and its filters, live progress, a run's command and curves, Stop and Re-run."""

from __future__ import annotations

import os

import pytest

from .helpers import app, errors, figure, runs_df, table_with


def test_runs_table_lists_every_run_and_filters(store):
    at = app("runs")
    table = table_with(at, "why it ended")
    df = runs_df()
    assert len(table) == len(df)
    assert set(table["status"]) >= {"FINISHED", "FAILED", "RUNNING", "SCHEDULED"}
    from app.common import run_labels

    labels = run_labels(df)
    assert set(table["run"]) == set(labels.values())  # unique even where names repeat
    finished = df[df["status"] == "FINISHED"].iloc[0]
    row = table[table["run"] == labels[finished["run_id"]]].iloc[0]
    assert row["test"] == f"accuracy {finished['metrics.test/accuracy']:.1f}"
    assert row["trainable"] == f"{int(finished['params.trainable_params']):,}"

    at.multiselect(key="runs.filter.method").set_value(["dept"]).run()
    table = table_with(at, "why it ended")
    assert set(table["method"]) == {"DePT"} and len(table) == int((df["method"] == "dept").sum())
    at.multiselect(key="runs.filter.method").set_value([]).run()
    at.multiselect(key="runs.filter.status").set_value(["FAILED"]).run()
    table = table_with(at, "why it ended")
    assert len(table) == 1 and "Training loss became nan" in table["why it ended"].iloc[0]
    # The selected run follows the filter; its failure reason is shown.
    assert any("FloatingPointError" in e for e in errors(at))


def test_runs_live_progress_of_a_running_run(store):
    at = app("runs")
    progress = [p.proto for p in at.get("progress")]
    assert len(progress) == 1
    # 40 of 150 steps logged, last loss 0.7 - 0.004 * 40 = 0.54, 110 steps left x 0.5 s = 55 s.
    assert progress[0].value == int(100 * 40 / 150)
    assert "step 40 of 150" in progress[0].text and "loss 0.5400" in progress[0].text
    assert "≈ 55 s left" in progress[0].text
    assert any("1 running, 1 waiting" in m.value for m in at.markdown)
    at.run()  # the fragment re-reads the store on its own timer; AppTest needs a rerun
    assert len(at.get("progress")) == 1


def test_runs_selected_run_command_and_loss_curve(store):
    from adept import tracking

    rid = store["finished"][-1]
    at = app("runs")
    at.selectbox(key="runs.selected").set_value(rid).run()
    run = tracking.get_client().get_run(rid)
    codes = [c.value for c in at.code if " -m adept train " in c.value]
    # Shown runnable from anywhere: cd to the repository, this app's interpreter, every non-default field.
    tag = run.data.tags["adept.command"]
    assert len(codes) == 1 and codes[0].startswith("cd ") and " && " in codes[0]
    assert codes[0].split(" -m adept train ", 1)[1] == tag.split(" -m adept train ", 1)[1]
    assert "--method" in tag
    loss = figure(at, "Training loss")
    hist = tracking.metric_history([rid], ["train/loss"])
    assert loss["data"][0]["y"] == pytest.approx(hist["value"].tolist())
    assert loss["data"][0]["x"] == hist["step"].tolist()
    val = figure(at, "Validation accuracy")
    assert val["data"][0]["y"] == pytest.approx(
        tracking.metric_history([rid], ["val/accuracy"])["value"].tolist()
    )
    link = next(el for el in at.get("link_button") if "MLflow" in el.proto.label)
    assert link.proto.url.endswith(f"/#/experiments/{run.info.experiment_id}/runs/{rid}")


def test_runs_stop_cancels_a_queued_run_and_rerun_queues_a_copy(store, no_worker):
    from adept import launcher, tracking

    rid = store["queued"][0]
    at = app("runs")
    at.selectbox(key="runs.selected").set_value(rid).run()
    at.button(key="runs.stop").click().run()
    assert not at.exception
    run = tracking.get_client().get_run(rid)
    assert run.info.status == "KILLED" and run.data.tags["adept.failure"] == "cancelled before start"
    assert any("Cancelled queued run" in s.value for s in at.success)

    src = store["finished"][0]
    before = set(runs_df()["run_id"])
    at.selectbox(key="runs.selected").set_value(src).run()
    at.button(key="runs.rerun").click().run()
    new = runs_df()[lambda d: ~d["run_id"].isin(before)]
    try:
        assert len(new) == 1 and new["status"].iloc[0] == "SCHEDULED"
        a = tracking.load_json_artifact(src, "config.json")
        b = tracking.load_json_artifact(new["run_id"].iloc[0], "config.json")
        assert {k: v for k, v in a.items() if k != "resume_from"} == {
            k: v for k, v in b.items() if k != "resume_from"
        }
    finally:
        assert launcher.stop_queue() >= 1
    assert runs_df().set_index("run_id").loc[new["run_id"].iloc[0], "status"] == "KILLED"


def test_runs_stop_signals_the_running_process(store):
    from adept import tracking

    rid = store["running"][0]
    pid = int(tracking.get_client().get_run(rid).data.tags["adept.pid"])
    at = app("runs")
    assert at.selectbox(key="runs.selected").value == rid  # a running run is selected first
    at.button(key="runs.stop").click().run()
    assert any(f"Sent SIGTERM to run {rid} (pid {pid})" in s.value for s in at.success)
    for _ in range(50):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not tracking.pid_alive(pid):
            break
        import time

        time.sleep(0.1)
    assert not tracking.pid_alive(pid)
