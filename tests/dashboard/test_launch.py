"""Launch page: the equal-budget table, the time estimate, presets, errors next to their fields, and queueing."""

from __future__ import annotations

import pandas as pd

from .helpers import app, errors, figures, runs_df


def test_launch_shows_equal_budget_solution_and_time_estimate(store):
    from adept import budget
    from adept.config import PRESETS, RunConfig, estimate_seconds

    at = app()
    assert at.selectbox(key="launch.preset").value == "quick"
    assert at.selectbox(key="launch.backbone").value == PRESETS["quick"]["backbone"] == "minilm-l6"
    table = figures(at)[0]["data"][0]
    quick_l = PRESETS["quick"]["num_virtual_tokens"]
    expected = budget.equal_budget_table(384, PRESETS["quick"]["max_length"], PRESETS["quick"]["budget"], quick_l)
    cells = table["cells"]["values"]
    assert cells[0] == ["PT", "DePT", "ADePT"]
    assert cells[1] == [r["l"] for r in expected]
    assert cells[2][1:] == [r["r"] for r in expected[1:]]
    assert cells[3] == [f"{r['params']:,}" for r in expected]
    # The estimate: 3 methods x 3 seeds of the quick preset, one queued run ahead of them, concurrency 1.
    per = [
        estimate_seconds(
            RunConfig.from_dict(
                {
                    **PRESETS["quick"],
                    "method": m,
                    "lr_head": 3e-3,
                    "num_virtual_tokens": None if m == "pt" else quick_l,
                }
            )
        )
        for m in ("pt", "dept", "adept")
    ]
    from app.common import fmt_duration

    line = next(m.value for m in at.markdown if "runs queued" in m.value)
    assert (
        f"≈ {fmt_duration(sum(per) / 3)} per run, 9 runs queued, ≈ {fmt_duration(3 * sum(per))} in all at "
        "concurrency 1" in line
    )
    assert "1 run already waiting" in line
    # One launch action (all three methods picked: one budget, one sweep).
    assert [b.label for b in at.button if b.key and b.key.startswith("launch.go")] == ["Launch 9 runs"]


def test_preset_fills_the_form_and_the_table_follows_the_backbone(store):
    at = app()
    at.selectbox(key="launch.preset").set_value("faithful").run()
    assert at.selectbox(key="launch.backbone").value == "smollm2-135m"
    assert at.text_input(key="launch.budget").value == "57600"
    assert at.selectbox(key="launch.dtype").value == "auto"  # the backbone precision, from the preset
    assert at.text_input(key="launch.lr_prompt").value == "0.3"
    assert at.text_input(key="launch.lr_offsets").value == "0.0001"
    cells = figures(at)[0]["data"][0]["cells"]["values"]
    assert cells[1] == [100, 60, 60] and cells[3][0] == "57,600"  # PT: 100 x 576
    # Seeds multiply the runs: three by default, so "all three methods" is 9 runs.
    assert at.text_input(key="launch.seeds").value == "0, 1, 2"
    assert at.button(key="launch.go").label == "Launch 9 runs"
    at.text_input(key="launch.seeds").set_value("0").run()
    assert at.button(key="launch.go").label == "Launch 3 runs"
    assert any("Edited from the faithful preset: seeds" in c.value for c in at.caption)
    at.button(key="launch.reset").click().run()
    assert (
        at.text_input(key="launch.seeds").value == "0, 1, 2" and at.button(key="launch.go").label == "Launch 9 runs"
    )


def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_launched(store, no_worker):
    before = len(runs_df())
    at = app()
    at.text_input(key="launch.lr_prompt").set_value("fast").run()
    at.text_input(key="launch.budget").set_value("100").run()  # cannot hold one 384-wide prompt vector
    at.text_input(key="launch.seeds").set_value("0, x").run()
    form_errors = [e.value for e in at.columns[0].error]
    assert any("'fast' is not a number" in e for e in form_errors)
    assert any("whole numbers" in e for e in form_errors)
    at.button(key="launch.go").click().run()
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
    at.text_input(key="launch.max_length").set_value("32").run()
    at.text_input(key="launch.budget").set_value("6400").run()
    at.text_input(key="launch.num_virtual_tokens").set_value("6").run()
    at.multiselect(key="launch.methods").set_value(["pt", "dept", "adept"]).run()  # all three: one budget
    at.text_input(key="launch.seeds").set_value("0, 1").run()
    assert not at.columns[0].error
    before = set(runs_df()["run_id"])
    at.button(key="launch.go").click().run()
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
    at.text_input(key="launch.l_pt").set_value("50").run()
    at.text_input(key="launch.num_virtual_tokens").set_value("30").run()
    at.text_input(key="launch.rank").set_value("5").run()
    cells = figures(at)[0]["data"][0]["cells"]["values"]
    s = int(at.text_input(key="launch.max_length").value)
    assert cells[1] == [50, 30, 30] and cells[2] == ["—", 5, 5]
    assert cells[3] == [
        f"{budget.param_count(m, 64, s, lm, r):,}"
        for m, lm, r in (("pt", 50, 0), ("dept", 30, 5), ("adept", 30, 5))
    ]
    at.multiselect(key="launch.methods").set_value(["adept"]).run()
    at.text_input(key="launch.seeds").set_value("0").run()  # one run (three seeds by default)
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
    at.checkbox(key="launch.any_path").check().run()  # tmp_path is outside the data folders
    at.text_input(key="launch.data_path").set_value(str(bad)).run()
    assert any("has no column 'text'" in e and "review" in e for e in at.columns[0].error.values)
    at.text_input(key="launch.text_column").set_value("review").run()
    assert not any("column" in e for e in at.columns[0].error.values)
    at.text_input(key="launch.data_path").set_value(str(good)).run()
    at.text_input(key="launch.text_column").set_value("text").run()
    assert not at.columns[0].error
    before = set(runs_df()["run_id"])
    at.multiselect(key="launch.methods").set_value(["dept"]).run()
    at.text_input(key="launch.seeds").set_value("0").run()  # one run (three seeds by default)
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
