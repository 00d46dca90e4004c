"""Try page: predictions with label scores for each picked run, a test example with its label, the
per-token offsets of the input, the folded-vs-unfolded check, and the three downloads built on request."""

from __future__ import annotations

import zipfile

import pytest

from .helpers import app, figures


def test_try_predicts_with_label_scores_and_checks_the_fold(store):
    import torch

    from adept.analysis import load_run_model
    from app.try_model import predict

    at = app("try_model")
    assert not at.exception
    picked = at.multiselect(key="try.runs").value
    assert picked  # the newest run of each method, like the Offsets page
    assert any(m.label == "prediction" for m in at.metric)
    scores = [d.value for d in at.dataframe if "probability" in d.value.columns]
    assert len(scores) == len(picked)
    for s in scores:
        assert s["probability"].sum() == pytest.approx(1.0, abs=1e-5)
        assert set(s["label"]) == {"negative", "positive"} or len(s) == 2
    # The page's numbers are the model's: recompute the first run's probabilities here.
    model, encoder, task, _ = load_run_model(picked[0])
    ex = predict.example(task, at.text_area(key="try.text").value)
    ids, mask = encoder.pad([encoder.source(ex)], model.padding_side, 0)
    with torch.no_grad():
        probs = model.score_labels(ids, mask, encoder.label_ids)[0].softmax(-1).tolist()
    assert any(s["probability"].tolist() == pytest.approx(probs, abs=1e-5) for s in scores)
    # Folded vs unfolded on this input: DePT (tiny-bert has a position table) and ADePT fold exactly.
    assert any("Folded vs unfolded: same prediction" in s.value for s in at.success)
    assert not any("DIFFERENT" in e.value for e in at.error)
    # Per-token offsets of the input for the non-PT runs.
    titles = [(f["layout"].get("title") or {}).get("text", "") for f in figures(at)]
    assert any(t.startswith("Per-token offset norm") for t in titles)


def test_try_a_test_example_shows_its_label(store):
    at = app("try_model")
    at.number_input(key="try.example_index").set_value(3).run()
    at.button(key="try.use_example").click().run()
    assert any("Test example #3: its label is" in c.value for c in at.caption)
    assert at.text_area(key="try.text").value != ""


def test_try_builds_the_adapter_download(store):
    at = app("try_model")
    rid = at.multiselect(key="try.runs").value[0]
    at.button(key=f"try.export.adept.{rid}.build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    path = at.session_state[f"try.export.adept.{rid}"]
    with zipfile.ZipFile(path) as z:
        assert "adept_adapter.json" in z.namelist()
    assert any(b.proto.label == "Download adapter" for b in at.get("download_button"))
