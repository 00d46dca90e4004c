"""PEFT export (adept/export.py): every export loads with peft.PeftModel.from_pretrained and gives our logits."""

import copy
import json
import zipfile

import pytest
import torch

import adept
from adept import export as E

CASES = [("tiny-llama", "pt"), ("tiny-llama", "adept"), ("tiny-gpt2", "adept"), ("tiny-gpt2", "dept"),
         ("tiny-t5", "pt"), ("tiny-t5", "adept"), ("tiny-bert", "adept"), ("tiny-bert", "dept")]


def build(bb, method):
    m = adept.build_method(method, bb, num_virtual_tokens=3, rank=4, max_length=16,
                           num_labels=2 if bb.kind == "encoder" else None)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in m.parameter_groups()["offsets"] + m.parameter_groups()["head"]:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        m.prompt.copy_(torch.randn(m.prompt.shape, generator=g))
    return m.eval()


def inputs():
    ids = torch.tensor([[1500, 1600, 1700, 1800, 1900], [2000, 2100, 2200, 0, 0]])
    return ids, (ids != 0).long()


@pytest.mark.parametrize("name,method", CASES)
def test_peft_loads_the_export_with_our_logits(tiny, tmp_path, name, method):
    from peft import PeftConfig, PeftModel

    bb = tiny(name)
    m = build(bb, method)
    report = E.export_peft(m, tmp_path / "x")
    out = tmp_path / "x"
    assert report["max_abs_diff"] < 1e-5 and json.loads((out / E.REPORT_FILE).read_text()) == report
    cfg = PeftConfig.from_pretrained(str(out))
    assert cfg.peft_type == "PROMPT_TUNING" and cfg.num_virtual_tokens == 3 and cfg.task_type == report["task_type"]
    assert (out / "adapter_model.safetensors").exists() and not list(tmp_path.glob(".x.*"))  # no temporary left
    # loaded the way a PEFT user would, independently of the export's own check
    if method == "pt":
        assert not (out / E.BASE_DIR).exists()
        base = copy.deepcopy(bb.model)
    else:
        base = E._auto_class(bb.kind).from_pretrained(out / E.BASE_DIR)
    peft_model = PeftModel.from_pretrained(base, str(out)).eval()
    ids, mask = inputs()
    with torch.no_grad():
        if bb.kind == "seq2seq":
            dec = torch.tensor([[0, 1500, 1600]] * 2)
            theirs = peft_model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
            ours = m(ids, mask, decoder_input_ids=dec).logits
        elif bb.kind == "encoder":
            h = peft_model(input_ids=ids, attention_mask=mask).last_hidden_state
            theirs, ours = E.head_logits(out, h, mask, 3), m(ids, mask).logits
        else:
            real = torch.cat([torch.ones(2, 3, dtype=torch.bool), mask.bool()], 1)  # PEFT's logits include the prompt
            theirs = peft_model(input_ids=ids, attention_mask=mask).logits[real]
            ours = m(ids, mask).logits[real]
    assert torch.allclose(theirs, ours, atol=1e-5)
    if method != "pt":  # the backbone we trained on is untouched by folding
        assert torch.equal(bb.input_embedding().weight, tiny(name).input_embedding().weight)


@pytest.mark.filterwarnings("ignore:Position ids are not supported")  # PEFT's generate, on purpose (docs)
def test_adept_generates_through_the_folded_table_like_ours(tiny, tmp_path):
    m = build(tiny("tiny-llama"), "adept")
    E.export_peft(m, tmp_path / "x")
    peft_model = E.load_peft_export(tmp_path / "x")
    ids = torch.tensor([[1500, 1600, 1700, 1800]])
    theirs = peft_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5,
                                 do_sample=False, eos_token_id=[])
    assert torch.equal(theirs, m.generate(ids, max_new_tokens=5, eos_token_id=[]))


def test_what_cannot_be_exported_is_a_clear_error(tiny, tmp_path):
    for name in ("tiny-llama", "tiny-t5"):
        with pytest.raises(ValueError, match=r"DePT on tiny-\w+ cannot be exported to PEFT.*rotary or relative"):
            E.export_peft(build(tiny(name), "dept"), tmp_path / name)
        assert not (tmp_path / name).exists()
    m = build(tiny("tiny-gpt2"), "dept")
    m.padding_side = "left"
    with pytest.raises(ValueError, match="needs right padding"):
        E.export_peft(m, tmp_path / "left")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="is not empty"):
        E.export_peft(build(tiny("tiny-llama"), "pt"), tmp_path / "full")
    with pytest.raises(ValueError, match="Unknown export format"):
        E.export_run("0" * 32, "onnx")


def test_a_failed_check_writes_nothing(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(E, "_check", lambda *a: 0.5)
    with pytest.raises(RuntimeError, match="does not reproduce our logits"):
        E.export_peft(build(tiny("tiny-llama"), "adept"), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_pt_with_base_writes_the_backbone(tiny, tmp_path):
    report = E.export_peft(build(tiny("tiny-llama"), "pt"), tmp_path / "x", with_base=True)
    assert report["base_model"] == E.BASE_DIR and (tmp_path / "x" / E.BASE_DIR / "config.json").exists()
    assert "from_pretrained(DIR + '/base_model')" in (tmp_path / "x" / "README.md").read_text()


def test_export_command_and_the_dashboard_functions(tiny_run, tmp_path, monkeypatch, capsys):
    from adept.__main__ import main

    run_id, home, _ = tiny_run
    monkeypatch.setenv("ADEPT_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    assert main(["export", run_id, "--format", "peft", "--out", str(tmp_path / "peft")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "adept" and report["max_abs_diff"] < 1e-5 and report["base_model"] == E.BASE_DIR
    assert E.load_peft_export(tmp_path / "peft") is not None
    assert main(["export", run_id, "--out", str(tmp_path / "peft")]) == 2  # not empty, no --force
    assert "--force" in capsys.readouterr().err
    rep = E.export_run(run_id, "adept", tmp_path / "ours")
    assert sorted(rep["files"]) == ["adapter.safetensors", "adept_adapter.json"]
    assert adept.PromptTunedModel.from_pretrained(tmp_path / "ours").method == "adept"
    rep = E.export_run(run_id, "folded", tmp_path / "folded")
    assert rep["format"] == "folded" and rep["max_abs_diff"] < 1e-5 and (tmp_path / "folded" / "model").exists()
    archive = E.export_archive(run_id, "adept", tmp_path / "zip")
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["adapter.safetensors", "adept_adapter.json"]
