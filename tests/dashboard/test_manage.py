"""Runs page, managing runs: delete and restore (MLflow soft delete), tags and notes from the run's panel,
hide cancelled / never-started runs, Resume only with a checkpoint, the searchable log, the reproduce
command parsed back by the CLI, and the view kept in the URL. Every test leaves the store as it found it."""

from __future__ import annotations

import argparse
import shlex

import pandas as pd

from .helpers import app, runs_df, table_with


def test_delete_then_restore_from_the_panel(store):
    from adept import tracking

    rid = store["finished"][0]
    at = app("runs")
    at.selectbox(key="runs.selected").set_value(rid).run()
    at.button(key="runs.delete").click().run()
    assert not at.exception
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert rid not in set(runs_df()["run_id"])  # gone from every page
    assert tracking.get_client().get_run(rid).info.lifecycle_stage == "deleted"
    at.multiselect(key="runs.restore_pick").set_value([rid]).run()
    at.button(key="runs.restore").click().run()
    assert any("Restored 1 run" in s.value for s in at.success)
    assert rid in set(runs_df()["run_id"])


def test_delete_is_refused_for_a_running_run(store):
    rid = store["running"][0]
    at = app("runs")
    at.selectbox(key="runs.selected").set_value(rid).run()
    assert at.button(key="runs.delete").disabled
    from app.runs import manage

    try:
        manage.delete_runs([rid], {rid: "RUNNING"})
    except ValueError as exc:
        assert "stop them first" in str(exc)
    else:
        raise AssertionError("deleting a running run was not refused")


def test_tag_note_and_tag_filter(store):
    from adept import tracking

    rid = store["finished"][1]
    client = tracking.get_client()
    at = app("runs")
    at.selectbox(key="runs.selected").set_value(rid).run()
    at.text_input(key=f"runs.tag_key.{rid}").input("baseline").run()
    at.text_input(key=f"runs.tag_value.{rid}").input("v1").run()
    at.button(key="runs.tag_add").click().run()
    assert client.get_run(rid).data.tags["baseline"] == "v1"
    table = table_with(at, "tags")
    assert "baseline=v1" in set(table["tags"])
    # The Tag filter keeps only the tagged run.
    at.multiselect(key="runs.filter.tags").set_value(["baseline"]).run()
    assert len(table_with(at, "tags")) == 1
    at.multiselect(key="runs.filter.tags").set_value([]).run()
    # A note is MLflow's run description.
    at.text_area(key=f"runs.note.{rid}").input("first try, lr too high").run()
    at.button(key="runs.note_save").click().run()
    assert client.get_run(rid).data.tags["mlflow.note.content"] == "first try, lr too high"
    assert "first try, lr too high" in set(table_with(at, "note")["note"])
    # Reserved names are refused with a message; removing the tag works.
    at.text_input(key=f"runs.tag_key.{rid}").input("adept.method").run()
    at.button(key="runs.tag_add").click().run()
    assert any("belong to ADePT Lab" in e.value for e in at.error)
    at.selectbox(key=f"runs.tag_drop.{rid}").set_value("baseline").run()
    at.button(key="runs.tag_remove").click().run()
    assert "baseline" not in client.get_run(rid).data.tags
    client.delete_tag(rid, "mlflow.note.content")


def test_hide_never_started_runs_and_the_url_keeps_filters(store):
    from adept import tracking

    # A cancelled queued run (KILLED before its first step), made here and deleted at the end.
    tr = tracking.RunTracker(experiment="adept-lab", run_name="cancelled-one",
                             tags={tracking.TAG_METHOD: "pt", tracking.TAG_SEED: "5"})
    tr.finish("KILLED", reason="cancelled before start")
    try:
        at = app("runs")
        n = len(table_with(at, "why it ended"))
        at.toggle(key="runs.hide_unstarted").set_value(True).run()
        hidden = table_with(at, "why it ended")
        from app.runs import facts

        k = int(facts.hide_mask(runs_df()).sum())  # this one, and any queued run another test cancelled
        assert k >= 1 and len(hidden) == n - k and "cancelled-one" not in set(hidden["run"])
        assert any(f"{k} cancelled / never-started run" in c.value and "hidden" in c.value for c in at.caption)
        assert at.query_params["hide"] in ("1", ["1"])
        at.multiselect(key="runs.filter.method").set_value(["pt"]).run()
        assert at.query_params["method"] in ("pt", ["pt"])
        # A shared link: a new session opened on these parameters shows the same view.
        from streamlit.testing.v1 import AppTest

        from .helpers import MAIN, TIMEOUT

        again = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
        again.query_params.update({"hide": "1", "method": "pt"})
        again.run()
        again.switch_page("views/runs.py").run()
        assert again.toggle(key="runs.hide_unstarted").value is True
        assert again.multiselect(key="runs.filter.method").value == ["pt"]
        assert set(table_with(again, "why it ended")["method"]) == {"PT"}
    finally:
        tracking.get_client().delete_run(tr.run_id)


def test_resume_only_for_a_run_with_a_checkpoint_and_the_log_is_searchable(store, tmp_path):
    from adept import tracking

    rid = store["failed"][0]  # FAILED at step 3, before any evaluation: no checkpoint
    log = tmp_path / "run.log"
    log.write_text("loading tiny-bert\n" + "".join(f"\r  {i}/12 steps" for i in range(13))
                   + "\nERROR: Training loss became nan\ndone\n")
    tracking.get_client().set_tag(rid, "adept.log", str(log))
    try:
        at = app("runs")
        at.selectbox(key="runs.selected").set_value(rid).run()
        assert at.button(key="runs.resume").disabled
        at.text_input(key=f"runs.log_search.{rid}").input("nan").run()
        code = [c.value for c in at.code if "became nan" in c.value]
        assert code and "loading" not in code[0]  # only the matching line, numbered
        assert any("1 contain “nan”" in c.value for c in at.caption)
        at.text_input(key=f"runs.log_search.{rid}").input("").run()
        full = next(c.value for c in at.code if "loading tiny-bert" in c.value)
        assert "12/12 steps" in full and "3/12" not in full  # the tqdm redraws collapse to the last one
    finally:
        tracking.get_client().delete_tag(rid, "adept.log")


def test_the_shown_command_parses_back_to_the_runs_config(store):
    from adept import tracking
    from adept.__main__ import add_config_flags, config_from_args
    from adept.config import RunConfig
    from app.runs.command import reproduce

    rid = store["finished"][2]
    line = reproduce(rid)
    argv = shlex.split(line.split(" && ", 1)[1])
    assert argv[1:4] == ["-m", "adept", "train"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_config_flags(parser)
    back = RunConfig.from_dict(config_from_args(parser.parse_args(argv[4:])))
    stored = tracking.load_json_artifact(rid, "config.json")
    assert {k: v for k, v in back.to_dict().items() if k != "resume_from"} == {
        k: v for k, v in stored.items() if k != "resume_from"}


def test_durations_never_count_queue_time():
    from app.runs import facts

    start = pd.Timestamp("2026-01-01 10:00:00", tz="UTC")
    row = {"status": "FINISHED", "start_time": start, "end_time": start + pd.Timedelta(minutes=10),
           "metrics.train/loss": 0.5, "progress": "12/12"}
    assert facts.duration_s(row) == 600
    # Queued for 7 minutes: the train-start tag (epoch seconds) marks when training began.
    row["tags.adept.train_started"] = str((start + pd.Timedelta(minutes=7)).timestamp())
    assert facts.duration_s(row) == 180
    row["tags.adept.train_started"] = (start + pd.Timedelta(minutes=8)).isoformat()
    assert facts.duration_s(row) == 120
    assert facts.duration_s({"status": "SCHEDULED", "start_time": start}) is None
    assert facts.duration_s({"status": "KILLED", "failure": "cancelled before start", "start_time": start,
                             "end_time": start + pd.Timedelta(hours=1)}) is None
