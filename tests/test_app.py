"""The dashboard's pages under streamlit.testing.v1.AppTest, against a store of real tiny runs.

The store (module fixture) holds PT / DePT / ADePT x 2 seeds trained for 12 steps on tiny-bert (real
metrics, adapters and timings), one FAILED run, one RUNNING run whose process is a `sleep` we own (so Stop
has something real to signal), and one queued run. Launch tests queue real runs through adept.launcher
with the worker start patched out, so nothing trains in the background.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 180


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    home = tmp_path_factory.mktemp("app-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADEPT_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
        mp.setenv("ADEPT_MAX_CONCURRENT", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        from adept import tracking
        from app.seed import seed_store

        ids = seed_store(running=True, queued=True)
        # The RUNNING run's "training process" is a sleep we own: Stop may SIGTERM it, never pytest itself.
        sleeper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        tracking.get_client().set_tag(ids["running"][0], tracking.TAG_PID, str(sleeper.pid))
        tracking.get_client().set_tag(
            ids["running"][0], tracking.TAG_PID_START, tracking.process_start_ticks(sleeper.pid) or ""
        )
        try:
            yield {"home": home, **ids}
        finally:
            sleeper.kill()
            sleeper.wait()


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def no_worker(monkeypatch):
    """enqueue() creates real SCHEDULED runs and queue files, but no worker process starts them."""
    from adept import launcher

    monkeypatch.setattr(launcher, "ensure_worker", lambda *a, **k: None)


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def figure(at: AppTest, title: str) -> dict:
    found = [f for f in figures(at) if (f["layout"].get("title") or {}).get("text") == title]
    assert found, (
        f"no figure titled {title!r}: {[(f['layout'].get('title') or {}).get('text') for f in figures(at)]}"
    )
    return found[0]


def runs_df():
    from adept import tracking

    return tracking.runs_dataframe()


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first st.dataframe on the page that has ``column`` (AppTest does not expose their keys)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no dataframe with column {column!r}"
    return found[0]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


# ------------------------------------------------------------------------------------------------------
# Launch


def test_launch_shows_equal_budget_solution_and_time_estimate(store):
    from adept import budget
    from adept.training import PRESETS, RunConfig, estimate_seconds

    at = app()
    assert at.selectbox(key="launch.preset").value == "quick"
    assert at.selectbox(key="launch.backbone").value == PRESETS["quick"]["backbone"] == "minilm-l6"
    table = figures(at)[0]["data"][0]
    expected = budget.equal_budget_table(384, PRESETS["quick"]["max_length"], PRESETS["quick"]["budget"], 60)
    cells = table["cells"]["values"]
    assert cells[0] == ["PT", "DePT", "ADePT"]
    assert cells[1] == [r["l"] for r in expected]
    assert cells[2][1:] == [r["r"] for r in expected[1:]]
    assert cells[3] == [f"{r['params']:,}" for r in expected]
    # The estimate: 3 runs of the quick preset, one queued run ahead of them, concurrency 1.
    per = [
        estimate_seconds(
            RunConfig.from_dict(
                {
                    **PRESETS["quick"],
                    "method": m,
                    "lr_head": 3e-3,
                    "num_virtual_tokens": None if m == "pt" else 60,
                }
            )
        )
        for m in ("pt", "dept", "adept")
    ]
    from app.common import fmt_duration

    line = next(m.value for m in at.markdown if "runs queued" in m.value)
    assert (
        f"≈ {fmt_duration(sum(per) / 3)} per run, 3 runs queued, ≈ {fmt_duration(sum(per))} in all at "
        "concurrency 1" in line
    )
    assert "1 run already waiting" in line
    assert [b.label for b in at.button if b.key in ("launch.go", "launch.go_all")] == [
        "Launch 3 runs",
        "Compare all three (3 runs)",
    ]


def test_preset_fills_the_form_and_the_table_follows_the_backbone(store):
    at = app()
    at.selectbox(key="launch.preset").set_value("faithful").run()
    assert at.selectbox(key="launch.backbone").value == "smollm2-135m"
    assert at.number_input(key="launch.budget").value == 57600
    assert at.text_input(key="launch.lr_prompt").value == "0.3"
    assert at.text_input(key="launch.lr_offsets").value == "0.0001"
    cells = figures(at)[0]["data"][0]["cells"]["values"]
    assert cells[1] == [100, 60, 60] and cells[3][0] == "57,600"  # PT: 100 x 576
    # Seeds multiply the runs.
    at.text_input(key="launch.seeds").set_value("0, 1, 2").run()
    assert at.button(key="launch.go").label == "Launch 9 runs"
    assert at.button(key="launch.go_all").label == "Compare all three (9 runs)"
    assert any("Edited from the faithful preset: seeds" in c.value for c in at.caption)
    at.button(key="launch.reset").click().run()
    assert (
        at.text_input(key="launch.seeds").value == "0" and at.button(key="launch.go").label == "Launch 3 runs"
    )


def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_launched(store, no_worker):
    before = len(runs_df())
    at = app()
    at.text_input(key="launch.lr_prompt").set_value("fast").run()
    at.number_input(key="launch.budget").set_value(100).run()  # cannot hold one 384-wide prompt vector
    at.text_input(key="launch.seeds").set_value("0, x").run()
    form_errors = [e.value for e in at.columns[0].error]
    assert any("'fast' is not a number" in e for e in form_errors)
    assert any("whole numbers" in e for e in form_errors)
    at.button(key="launch.go_all").click().run()
    assert any(e.startswith("Nothing launched") for e in errors(at))
    assert len(runs_df()) == before
    # A budget too small for the prompt: the solver's message, next to the budget field.
    at.text_input(key="launch.lr_prompt").set_value("0.3").run()
    at.text_input(key="launch.seeds").set_value("0").run()
    assert any("Budget 100" in e for e in at.columns[0].error.values)
    at.button(key="launch.go").click().run()
    assert any(e.startswith("Nothing launched") for e in errors(at)) and len(runs_df()) == before


def test_compare_all_three_queues_every_method_at_one_budget_per_seed(store, no_worker):
    from adept import launcher, tracking

    at = app()
    at.selectbox(key="launch.backbone").set_value("tiny-bert").run()
    at.number_input(key="launch.max_length").set_value(32).run()
    at.number_input(key="launch.budget").set_value(6400).run()
    at.number_input(key="launch.num_virtual_tokens").set_value(6).run()
    at.multiselect(key="launch.methods").set_value(["adept"]).run()  # Compare all three ignores this
    at.text_input(key="launch.seeds").set_value("0, 1").run()
    assert not at.columns[0].error
    before = set(runs_df()["run_id"])
    at.button(key="launch.go_all").click().run()
    assert not at.exception
    assert any("Queued 6 runs" in s.value for s in at.success)
    df = runs_df()
    new = df[~df["run_id"].isin(before)]
    try:
        assert len(new) == 6 and set(new["status"]) == {"SCHEDULED"}
        assert sorted(zip(new["method"], new["seed"])) == sorted(
            (m, s) for m in ("pt", "dept", "adept") for s in (0, 1)
        )
        assert new["sweep"].nunique() == 1 and new["sweep"].iloc[0].startswith("compare-rotten-tomatoes-")
        assert set(new["params.budget"]) == {"6400"} and set(new["backbone"]) == {"tiny-bert"}
        assert set(new.loc[new["method"] != "pt", "params.num_virtual_tokens"]) == {"6"}
        assert set(launcher.queued_run_ids()) >= set(new["run_id"])
        cfg = tracking.load_json_artifact(new["run_id"].iloc[0], "config.json")
        assert cfg["max_length"] == 32 and cfg["backbone"] == "tiny-bert"
    finally:
        for rid in new["run_id"]:
            launcher.stop_run(rid)


def test_l_and_r_mode_counts_parameters_and_launches_those_sizes(store, no_worker):
    from adept import budget, launcher, tracking

    at = app()
    at.selectbox(key="launch.backbone").set_value("tiny-bert").run()
    at.radio(key="launch.mode").set_value("Set l and r myself").run()
    at.number_input(key="launch.l_pt").set_value(50).run()
    at.number_input(key="launch.num_virtual_tokens").set_value(30).run()
    at.number_input(key="launch.rank").set_value(5).run()
    cells = figures(at)[0]["data"][0]["cells"]["values"]
    s = at.number_input(key="launch.max_length").value
    assert cells[1] == [50, 30, 30] and cells[2] == ["—", 5, 5]
    assert cells[3] == [
        f"{budget.param_count(m, 64, s, lm, r):,}"
        for m, lm, r in (("pt", 50, 0), ("dept", 30, 5), ("adept", 30, 5))
    ]
    at.multiselect(key="launch.methods").set_value(["adept"]).run()
    before = set(runs_df()["run_id"])
    at.button(key="launch.go").click().run()
    new = runs_df()[lambda d: ~d["run_id"].isin(before)]
    try:
        assert len(new) == 1
        cfg = tracking.load_json_artifact(new["run_id"].iloc[0], "config.json")
        assert (cfg["budget"], cfg["num_virtual_tokens"], cfg["rank"]) == (None, 30, 5)
    finally:
        for rid in new["run_id"]:
            launcher.stop_run(rid)


def test_uploaded_file_is_validated_with_load_task(store, no_worker, tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"review": ["good"] * 20, "label": [0, 1] * 10}).to_csv(bad, index=False)
    good = tmp_path / "reviews.csv"
    pd.DataFrame(
        {"text": [f"a fine film number {i}" for i in range(40)], "label": ["pos", "neg"] * 20}
    ).to_csv(good, index=False)
    at = app()
    at.selectbox(key="launch.task").set_value("your own file (csv / jsonl / parquet)").run()
    assert any("upload a file" in e for e in at.columns[0].error.values)
    at.text_input(key="launch.data_path").set_value(str(bad)).run()
    assert any("has no column 'text'" in e and "review" in e for e in at.columns[0].error.values)
    at.text_input(key="launch.text_column").set_value("review").run()
    assert not any("column" in e for e in at.columns[0].error.values)
    at.text_input(key="launch.data_path").set_value(str(good)).run()
    at.text_input(key="launch.text_column").set_value("text").run()
    assert not at.columns[0].error
    before = set(runs_df()["run_id"])
    at.multiselect(key="launch.methods").set_value(["dept"]).run()
    at.button(key="launch.go").click().run()
    df = runs_df()
    new = df[~df["run_id"].isin(before)]
    from adept import launcher

    try:
        assert len(new) == 1 and new["task"].iloc[0] == "reviews" and new["method"].iloc[0] == "dept"
        assert new["params.data_file"].iloc[0] == str(good.resolve())
    finally:
        for rid in new["run_id"]:
            launcher.stop_run(rid)


# ------------------------------------------------------------------------------------------------------
# Runs


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
    codes = [c.value for c in at.code]
    assert run.data.tags["adept.command"] in codes and run.data.tags["adept.command"].startswith(
        "python -m adept train"
    )
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


# ------------------------------------------------------------------------------------------------------
# Compare


def test_compare_sweep_groups_final_metric_by_method(store):
    at = app("compare")
    assert at.selectbox(key="compare.sweep").value == "seeded-sweep"
    df = runs_df()
    sweep = df[df["sweep"] == "seeded-sweep"]
    done = sweep[sweep["status"] == "FINISHED"]  # a re-run copies the sweep tag; earlier tests cancelled one
    final = figure(at, "Final test/accuracy by method")
    bars, points = final["data"]
    assert bars["x"] == ["PT", "DePT", "ADePT"]
    means = done.groupby("method")["metrics.test/accuracy"].mean()
    stds = done.groupby("method")["metrics.test/accuracy"].std(ddof=1)
    assert bars["y"] == pytest.approx([means[m] for m in ("pt", "dept", "adept")])
    assert bars["error_y"]["array"] == pytest.approx([stds[m] for m in ("pt", "dept", "adept")])
    assert sorted(points["y"]) == pytest.approx(sorted(done["metrics.test/accuracy"]))
    stats = table_with(at, "runs")
    assert stats["runs"].tolist() == [2, 2, 2]
    assert stats["mean"].tolist() == pytest.approx([round(means[m], 2) for m in ("pt", "dept", "adept")])

    with_loss = sweep[sweep["metrics.train/loss"].notna()]
    n = len(with_loss)
    loss = figure(at, "Training loss")  # smoothing 0.6 by default: a faint raw line under each smoothed one
    assert len(loss["data"]) == 2 * n and sum(t["name"].endswith("(raw)") for t in loss["data"]) == n
    at.slider(key="compare.smoothing").set_value(0.0).run()
    loss = figure(at, "Training loss")
    assert len(loss["data"]) == n
    from app.common import run_labels

    assert {t["name"] for t in loss["data"]} == {run_labels(df)[r] for r in with_loss["run_id"]}
    params = figure(at, "Trainable parameters")
    assert sorted(v for t in params["data"] for v in t["y"]) == sorted(
        sweep["params.trainable_params"].dropna().astype(int)
    )
    time_fig = figure(at, "Time")
    step_bars = [t for t in time_fig["data"] if t["type"] == "bar"][0]
    step_means = done.groupby("method")["metrics.time/mean_step_s"].mean()
    assert step_bars["y"] == pytest.approx([step_means[m] for m in ("pt", "dept", "adept")])


def test_compare_opens_the_sweep_named_in_the_link(store):
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/compare.py")
    at.query_params["sweep"] = "seeded-sweep"
    at.run()
    assert not at.exception
    assert at.radio(key="compare.mode").value == "A sweep"
    assert at.selectbox(key="compare.sweep").value == "seeded-sweep"


def test_compare_picked_runs_and_eval_curves(store):
    from adept import tracking

    picked = store["finished"][:2]
    at = app("compare")
    at.radio(key="compare.mode").set_value("Pick runs").run()
    at.multiselect(key="compare.runs").set_value(picked).run()
    ev = figure(at, "Validation accuracy")
    hist = tracking.metric_history(picked, ["val/accuracy"])
    assert len(ev["data"]) == 2
    got = sorted(v for t in ev["data"] for v in t["y"])
    assert got == pytest.approx(sorted(hist["value"]))
    at.multiselect(key="compare.runs").set_value([]).run()
    assert any("Pick at least one run" in i.value for i in at.info)


# ------------------------------------------------------------------------------------------------------
# Offsets


def _best_run(method: str) -> str:
    df = runs_df()
    rows = df[(df["method"] == method) & (df["status"] == "FINISHED") & (df["metrics.best/step"] > 0)]
    assert not rows.empty, f"no {method} run whose best adapter is trained"
    return rows["run_id"].iloc[0]


def test_offsets_position_based_versus_input_adaptive(store):
    adept_id, dept_id = _best_run("adept"), _best_run("dept")
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([adept_id, dept_id]).run()
    assert not at.exception and not errors(at)

    # Per-token norms of the default text: 'the' and 'film' occur twice.
    heat = figure(at, "Per-token offset size")["data"][0]
    tokens = heat["text"][0]
    rows = dict(zip(heat["y"], heat["z"]))
    assert list(heat["y"])[0].startswith("dept")  # PT, DePT, ADePT order on the page
    z_adept = next(z for name, z in rows.items() if name.startswith("adept"))
    z_dept = next(z for name, z in rows.items() if name.startswith("dept"))
    first, second = [i for i, t in enumerate(tokens) if t == "film"]
    assert z_adept[first] == pytest.approx(z_adept[second], rel=1e-6)  # ADePT: the token decides
    assert abs(z_dept[first] - z_dept[second]) > 1e-6  # DePT: the position decides

    shift = figure(at, "Same token, different position")["data"]
    by_name = {t["name"]: t["y"] for t in shift}
    labels = {t["name"] for t in shift}
    adept_line = next(by_name[n] for n in labels if n.startswith("adept"))
    dept_line = next(by_name[n] for n in labels if n.startswith("dept"))
    assert max(adept_line) < 1e-6 and min(dept_line) > 1e-4

    summary = table_with(at, "distinct offsets").set_index("method")
    assert summary.loc["ADePT", "same token moved: max ‖ΔΔ‖"] < 1e-6
    assert summary.loc["DePT", "same token moved: max ‖ΔΔ‖"] > 1e-4
    assert summary.loc["DePT", "same slot, other inputs: var"] == pytest.approx(0.0, abs=1e-12)
    assert summary.loc["ADePT", "same slot, other inputs: var"] > 0
    assert summary.loc["DePT", "distinct offsets"] == summary.loc["DePT", "positions"]
    assert summary.loc["ADePT", "distinct offsets"] > summary.loc["ADePT", "positions"]

    # The numbers are adept.analysis's, on the first 64 validation examples.
    from adept import analysis

    model, encoder, task, _ = analysis.load_run_model(dept_id)
    ids, mask = analysis.encode_examples(model, encoder, task.splits["validation"][:64])
    tpp = analysis.tokens_per_position(ids, mask, model.dept_positions(mask))
    bars = figure(at, f"{summary.loc['DePT', 'run']}: different tokens per position offset")["data"][0]
    assert bars["x"] == tpp["row"] and bars["y"] == tpp["distinct_tokens"]
    pca = analysis.offset_pca(model, ids, mask)
    scatter = figure(at, f"{summary.loc['DePT', 'run']}: offsets, PCA")
    assert sum(len(t["x"]) for t in scatter["data"]) == pca["num_points"]


def test_offsets_bad_text_is_a_message_not_a_traceback(store):
    at = app("offsets")
    at.text_area(key="offsets.text").set_value("   ").run()
    assert not at.exception
    assert any("The text is empty" in e for e in errors(at))


def test_offsets_task_example_button_fills_the_text(store):
    from adept.tasks import load_task

    at = app("offsets")
    at.number_input(key="offsets.example_index").set_value(3).run()
    at.button(key="offsets.use_example").click().run()
    task = load_task("rotten-tomatoes")
    assert at.text_area(key="offsets.text").value == task.source_text(task.splits["validation"][3])
    assert not errors(at)


SMALL_ANALYSIS = {"stats_examples": 16, "pilot_examples": 8, "attention_tokens": 12, "latency_examples": 2,
                  "latency_repeats": 1}


@pytest.fixture(scope="module")
def analysed(store):
    """A DePT and an ADePT run analysed in-process with small sizes (what `python -m adept analyze` stores)."""
    from adept import analysis

    return {m: analysis.analyze_run(_best_run(m), sizes=SMALL_ANALYSIS) for m in ("dept", "adept")}


def test_offsets_paper_analyses_are_charts(store, analysed):
    dept, adept = analysed["dept"], analysed["adept"]
    dept_id, adept_id = dept["meta"]["run_id"], adept["meta"]["run_id"]
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([adept_id, dept_id]).run()
    assert not at.exception and not errors(at)
    assert not [b for b in at.button if b.label == "Analyse in the background"]  # both are analysed
    assert any(h.value == "Paper analyses" for h in at.subheader)

    titles = [(f["layout"].get("title") or {}).get("text") or "" for f in figures(at)]
    pilot = figure(at, next(t for t in titles if t.startswith("Pilot: tokens prepended")))
    means = {t["legendgroup"]: t["y"] for t in pilot["data"] if t["mode"] == "lines"}
    metric = adept["pilot"]["metric"]
    assert means["adept"] == pytest.approx(adept["pilot"]["results"]["right"][metric])  # one analysed run each
    assert means["dept"] == pytest.approx(dept["pilot"]["results"]["right"][metric])
    assert sorted({x for t in pilot["data"] for x in t["x"]}) == list(adept["pilot"]["ks"])

    hist = figure(at, "Offset size relative to the token embedding")["data"]
    assert [t["type"] for t in hist] == ["bar", "bar"]
    assert sum(hist[0]["customdata"]) == dept["offset_stats"]["num_tokens"]
    prof = figure(at, "Offset norm by position, over the input lengths")["data"]
    assert prof[0]["type"] == "bar" and prof[0]["yaxis"] == "y2"
    assert prof[0]["y"] == dept["offset_stats"]["input_lengths"]["counts"]
    assert prof[1]["y"] == pytest.approx(dept["offset_stats"]["position_profile"]["offset_norm"])

    att = figure(at, next(t for t in titles if t.startswith("Layer-1 attention")))
    n = len(adept["attention"]["tokens"])
    assert 0 < n <= SMALL_ANALYSIS["attention_tokens"]
    assert len(att["data"]) == 3 and all(len(h["z"]) == n and len(h["z"][0]) == n for h in att["data"])
    assert f"{adept['attention']['relative_change']:.3g}" in att["layout"]["title"]["text"]

    lat = [f for t, f in zip(titles, figures(at)) if t.startswith("measured with")]
    assert len(lat) == 2 and list(lat[0]["data"][0]["x"])[:3] == ["PT", "DePT<br>(this run)", "ADePT"]
    assert lat[0]["data"][0]["y"][1] == pytest.approx(dept["latency"]["models"]["dept"]["median_ms"])
    top = table_with(at, "‖Δ‖/‖e‖")
    assert top["‖Δ‖"].tolist() == [r["offset_norm"] for r in adept["offset_stats"]["top_tokens"]["seen"]["largest"]]
    captions = " ".join(c.value for c in at.caption)
    assert "DePT's score may drop as k grows" in captions and "Grey bars" in captions


def test_offsets_unanalysed_run_offers_the_command_and_a_background_analysis(store, analysed, monkeypatch):
    from adept import analysis, launcher

    df = runs_df()
    pt_id = df[(df["method"] == "pt") & (df["status"] == "FINISHED")]["run_id"].iloc[0]
    assert analysis.load_analysis(pt_id) is None
    at = app("offsets")
    at.multiselect(key="offsets.runs").set_value([pt_id]).run()
    assert not at.exception and not errors(at)
    assert f"python -m adept analyze {pt_id}" in [c.value for c in at.code]
    started = []

    def fake_start(run_id, tracking_uri=None):  # the real one is tested in test_launcher.py
        started.append(run_id)
        log = launcher.analysis_log_path(run_id, tracking_uri)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("[analyze] offset_stats: 0.1 s\n")
        return log

    monkeypatch.setattr(launcher, "start_analysis", fake_start)
    log = launcher.analysis_log_path(pt_id)
    try:
        at.button(key=f"offsets.analyze.{pt_id}").click().run()
        assert started == [pt_id] and not at.exception
        assert any(i.value == f"analysing… (log: {log})" for i in at.info)
        assert not [b for b in at.button if b.label == "Analyse in the background"]
        # The analysed runs of the same backbone and task still give the pooled pilot chart.
        assert any((f["layout"].get("title") or {}).get("text", "").startswith("Pilot") for f in figures(at))
    finally:
        log.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------------
# An empty store and a broken one: messages, never tracebacks


@pytest.mark.parametrize("page", [None, "runs", "compare", "offsets"])
def test_every_page_on_an_empty_store(store, tmp_path, monkeypatch, page):
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    at = app(page)
    assert not errors(at)
    if page:
        assert any("No runs in this store yet" in i.value or "No finished" in i.value for i in at.info)
    else:
        assert len(figures(at)) == 1  # the budget table works without any run


def test_unreadable_store_is_an_error_message(store, tmp_path, monkeypatch):
    bad = tmp_path / "not-a-db"
    bad.write_text("this is not sqlite")
    monkeypatch.setenv("ADEPT_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{bad}")
    at = app("runs")
    assert any(e.startswith("Reading the MLflow store") for e in errors(at))


def test_sidebar_names_the_store_and_the_mlflow_ui_command(store):
    at = app()
    uri = f"sqlite:///{store['home']}/mlflow.db"
    assert any(uri in c.value for c in at.sidebar.caption)
    assert any(c.value.startswith(f"mlflow ui --backend-store-uri {uri}") for c in at.sidebar.code)
    assert math.isclose(len(at.sidebar.get("link_button")), 1)
