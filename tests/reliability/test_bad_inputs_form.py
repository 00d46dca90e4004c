"""Bad inputs in the Launch form (AppTest): the value shown is the value used, an invalid one is a message
under its field naming what to do, and Launch then queues nothing (the summary names the form's labels).
The real-browser case is in test_browser_form.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from .helpers import ROOT, assert_untouched, snapshot

MODE_LR = "Set l and r myself"
UPLOAD = "your own file (csv / jsonl / parquet)"

# (what, [(widget kind, key, value)], field label in the summary, message under the field)
FORM_CASES = [
    ("zero steps", [("text_input", "max_steps", "0")], "Steps", "0 is below 1"),
    ("empty steps", [("text_input", "max_steps", "")], "Steps", "empty — type a whole number"),
    ("steps that are words", [("text_input", "max_steps", "many")], "Steps", "'many' is not a number"),
    ("fractional eval_every", [("text_input", "eval_every", "2.5")], "Evaluate every (steps)",
     "'2.5' is not a whole number"),
    ("rank -5 under l and r", [("radio", "mode", MODE_LR), ("text_input", "rank", "-5")], "DePT / ADePT rank r",
     "-5 is below 1"),
    ("budget 1e13", [("text_input", "budget", "1e13")], "Trainable parameters (budget)",
     "10,000,000,000,000 is over 100,000,000"),
    ("budget too small", [("text_input", "budget", "100")], "Trainable parameters (budget)", "Budget 100 cannot hold"),
    ("batch of words", [("text_input", "batch_size", "abc")], "Batch size", "'abc' is not a number"),
    ("huge batch", [("text_input", "batch_size", "100000")], "Batch size", "100,000 is over 1,024"),
    ("max length 5", [("text_input", "max_length", "5")], "Max input tokens s", "5 is below 8"),
    ("warmup past the steps", [("text_input", "warmup_steps", "500")], "Warmup steps",
     "500 warmup steps exceed the 60 training steps"),
    ("NaN offset learning rate", [("text_input", "lr_offsets", "nan")], "Learning rate, offsets",
     "'nan' is not a finite number"),
    ("learning rate of words", [("text_input", "lr_prompt", "fast")], "Learning rate, soft prompt",
     "'fast' is not a number"),
    ("seed 2**70", [("text_input", "seeds", str(2**70))], "Seeds", "is out of range — seeds go from 0 to"),
    ("no seed", [("text_input", "seeds", " ")], "Seeds", "no seed"),
    ("a path outside the data folders", [("selectbox", "task", UPLOAD), ("text_input", "data_path", "/etc/passwd")],
     "Data file", "this file is outside the data folders"),
    ("no method", [("multiselect", "methods", [])], "Methods", "pick at least one method"),
]


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=180)
    at.run()
    assert not at.exception
    return at


def _set(at: AppTest, kind: str, key: str, value) -> None:
    getattr(at, kind)(key="launch." + key).set_value(value).run()


@pytest.fixture()
def form(store, monkeypatch):
    """The Launch page on an empty store; no worker may start."""
    import streamlit as st

    from adept import launcher

    monkeypatch.setattr(launcher, "ensure_worker", lambda *a, **k: None)
    st.cache_data.clear()
    return _app()


@pytest.mark.parametrize("edits,label,message", [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES])
def test_an_invalid_field_blocks_launch_with_its_message_under_it(store, form, edits, label, message):
    at = form
    for kind, key, value in edits:
        _set(at, kind, key, value)
    shown = {k: getattr(at, kind)(key="launch." + k).value for kind, k, _ in edits}
    assert shown == {k: v for _, k, v in edits}  # the value shown is the value the form uses
    under = at.columns[0].error.values
    assert any(message in e for e in under), under
    before = snapshot(store)
    at.button(key="launch.go").click().run()
    summary = [e.value for e in at.error if e.value.startswith("Nothing launched")]
    assert summary and f"**{label}**" in summary[0] and message in summary[0], summary
    assert not at.exception
    assert_untouched(store, before)


@pytest.mark.parametrize("edits,warning", [
    ([("text_input", "max_steps", "10000000")], "10,000,000 training steps"),
    ([("selectbox", "backbone", "tiny-bert"), ("radio", "mode", MODE_LR), ("text_input", "l_pt", "600")],
     "a 600-token prompt on a 64-wide backbone"),
], ids=["ten million steps", "600-token PT prompt on a 64-wide backbone"])
def test_absurd_sizes_need_a_tick_before_launching(store, form, edits, warning):
    at = form
    for kind, key, value in edits:
        _set(at, kind, key, value)
    assert any(warning in w.value for w in at.warning), [w.value for w in at.warning]
    before = snapshot(store)
    at.button(key="launch.go").click().run()
    summary = [e.value for e in at.error if e.value.startswith("Nothing launched")]
    assert summary and "**Sizes**" in summary[0] and "Launch these sizes anyway" in summary[0]
    assert_untouched(store, before)
    at.checkbox(key="launch.confirm_sizes").check().run()
    at.multiselect(key="launch.methods").set_value(["pt"]).run()
    at.text_input(key="launch.seeds").set_value("0").run()  # one run (three seeds by default)
    at.button(key="launch.go").click().run()
    assert any("Queued 1 run" in s.value for s in at.success)
    from adept import launcher, tracking

    queued = tracking.runs_dataframe()
    assert len(queued) == 1 and queued["status"].iloc[0] == "SCHEDULED"
    launcher.stop_run(queued["run_id"].iloc[0])
