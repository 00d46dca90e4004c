"""Bad inputs on the command line: every one gets one ``error: ...`` line on stderr, exit code 2 and no
traceback, and leaves the store exactly as it was (no run created, none changed, no file written).

Each case is ``(id, argv, what the line must say)``; ``{name}`` in argv is a bad file from :func:`files`.
The commands run through ``adept.__main__.main`` in this process (the code a shell runs), a few as real
processes too (:func:`test_a_real_process_prints_one_line_and_no_traceback`).
"""

from __future__ import annotations

import os
import re
import time

import pandas as pd
import pytest

from .helpers import TINY_FLAGS, assert_untouched, cli, cli_process, one_error_line, snapshot

T = ["train", *TINY_FLAGS]

TRAIN_CASES = [
    ("unknown method", [*T, "--method", "lora"], r"method: 'lora' is not a method — use pt, dept or adept"),
    ("seed past 2**64", [*T, "--seed", str(2**70)], r"seed: 1,180,591,620,717,411,303,424 is over 4,294,967,295"),
    ("negative seed", [*T, "--seed", "-1"], r"seed: -1 is below 0"),
    ("zero steps", [*T, "--max-steps", "0"], r"max_steps: 0 is below 1"),
    ("ten million steps and more", [*T, "--max-steps", "20000000"], r"max_steps: 20,000,000 is over 10,000,000"),
    ("huge batch", [*T, "--batch-size", "100000"], r"batch_size: 100,000 is over 1,024 — use a smaller batch"),
    ("batch x length over one pass", [*T, "--batch-size", "1024", "--max-length", "1000"],
     r"batch_size: a batch of 1,024 × \(60 prompt \+ 1,000 input\) tokens"),
    ("huge max length", [*T, "--max-length", "100000"], r"max_length: 100,000 is over 8,192"),
    ("prompt + input past the positions", [*T, "--max-length", "1000"],
     r"max_length: 60 prompt \+ 1000 input tokens exceed tiny-bert's 1024 positions — lower the max input "
     r"length to at most 964"),
    ("DePT length past the positions", [*T, "--method", "dept", "--max-length", "2000"],
     r"max_length: 60 prompt \+ 2000 input tokens exceed tiny-bert's 1024 positions"),
    ("huge rank", [*T, "--method", "dept", "--rank", "100000"], r"rank: 100,000 is over 65,536"),
    ("negative rank", [*T, "--method", "dept", "--rank", "-5"], r"rank: -5 is below 1"),
    ("budget 1e13", [*T, "--budget", "10000000000000"], r"budget: 10,000,000,000,000 is over 100,000,000"),
    ("budget too small", [*T, "--method", "adept", "--budget", "100"], r"budget: Budget 100 cannot hold"),
    ("PT with 0 prompt tokens", [*T, "--method", "pt", "--num-virtual-tokens", "0"],
     r"num_virtual_tokens: PT with 0 prompt tokens trains nothing"),
    ("NaN learning rate", [*T, "--lr-prompt", "nan"], r"lr_prompt: nan is not a finite number"),
    ("infinite learning rate", [*T, "--lr-offsets", "inf"], r"lr_offsets: inf is not a finite number"),
    ("zero learning rate", [*T, "--lr-head", "0"], r"lr_head: 0 is outside \(0, 10\]"),
    ("NaN weight decay", [*T, "--weight-decay", "nan"], r"weight_decay: nan is not a finite number"),
    ("infinite weight decay", [*T, "--weight-decay", "inf"], r"weight_decay: inf is not a finite number"),
    ("negative grad clip", [*T, "--grad-clip", "-1"], r"grad_clip: -1 is outside \[0, 1e\+06\]"),
    ("warmup past the steps", [*T, "--warmup-steps", "50"], r"warmup_steps: 50 warmup steps exceed the 2"),
    ("zero eval_every", [*T, "--eval-every", "0"], r"eval_every: 0 is below 1"),
    ("deep ADePT", [*T, "--adept-depth", "100"], r"adept_depth: 100 is over 16"),
    ("empty init text", [*T, "--init-text", ""], r"init_text: empty — type the text the prompt starts from"),
    ("bad padding side", [*T, "--padding-side", "up"], r"padding_side: 'up' — use left or right"),
    ("bad device", [*T, "--device", "tpu"], r"device: 'tpu' — use auto, cpu, cuda or cuda:N"),
    ("cuda without a GPU", [*T, "--device", "cuda"], r"device: cuda was asked for but no CUDA GPU is visible"),
    ("unknown backbone", [*T, "--backbone", "no-such-model"], r"backbone: cannot tell the width of 'no-such-model'"),
    ("unknown task", [*T, "--task", "no-such-task"], r"task: unknown task 'no-such-task'"),
    ("paper task without data offline", [*T, "--task", "glue-sst2"], r"task: task 'glue-sst2' has no local data"),
    ("task folder that is not a folder", [*T, "--task", "glue-sst2", "--data-dir", "{missing}"],
     r"data_dir: .* is not a folder"),
    ("data file missing", [*T, "--data-file", "{missing}"], r"data_file: .*missing\.csv does not exist"),
    ("data file is a folder", [*T, "--data-file", "{folder}"], r"data_file: .*folder\.csv is a folder, not a file"),
    ("data file is a pipe", [*T, "--data-file", "{fifo}"], r"data_file: .*fifo\.csv is not a regular file"),
    ("data file of the wrong type", [*T, "--data-file", "{txt}"], r"unsupported file type '\.txt'"),
    ("data file empty", [*T, "--data-file", "{empty}"], r"data_file: .*empty\.csv is empty"),
    ("data file with only a header", [*T, "--data-file", "{header}"], r"header\.csv is empty \(no data rows\)"),
    ("data file without the text column", [*T, "--data-file", "{nocol}"], r"has no column 'text' \(text_column\)"),
    ("data file with one class", [*T, "--data-file", "{oneclass}"], r"only 1 class"),
    ("data file with missing labels", [*T, "--data-file", "{nolabel}"], r"have no value in label column"),
    ("data file with empty texts", [*T, "--data-file", "{notext}"], r"have an empty 'text'"),
    ("data file with number labels", [*T, "--data-file", "{floatlabel}"], r"non-integer numbers"),
    ("data file with a bad split", [*T, "--data-file", "{badsplit}"], r"'split' column has 'holdout'"),
    ("data file of binary garbage", [*T, "--data-file", "{garbage}"], r"could not read .*garbage\.csv"),
    ("parquet file cut short", [*T, "--data-file", "{cutparquet}"], r"could not read .*cut\.parquet"),
    ("data file with too few rows", [*T, "--data-file", "{tiny}"], r"too few to fill"),
    ("empty text column name", [*T, "--data-file", "{nocol}", "--text-column", ""], r"text_column: empty"),
    ("not a number", [*T, "--max-steps", "ten"], r"argument --max-steps: invalid int value: 'ten'"),
    ("config file malformed JSON", ["train", "--config", "{badjson}"], r"badjson\.json: line 2, column 1: "),
    ("config file malformed YAML", ["train", "--config", "{badyaml}"], r"bad\.yaml: line 2, column 1: .*fix the YAML"),
    ("config file that is a list", ["train", "--config", "{listyaml}"], r"holds a list, not a mapping"),
    ("config file empty", ["train", "--config", "{emptyyaml}"], r"Config file .* is empty"),
    ("config file with an unknown field", ["train", "--config", "{unknownjson}"], r"Unknown config field\(s\) lr"),
    ("config file with an alias", ["train", "--config", "{aliasyaml}"], r"anchors and aliases .* not accepted"),
    ("config file not UTF-8", ["train", "--config", "{binaryjson}"], r"is not UTF-8 text"),
    ("config file missing", ["train", "--config", "{missing}"], r"Config file .* does not exist"),
    ("config file with a wrong type", ["train", "--config", "{wrongtype}"],
     r"max_steps: 'ten' is not a whole number"),
    ("resume of a run that does not exist", [*T, "--resume-from", "0123456789abcdef"], r"No run '0123456789abcdef'"),
]

SWEEP_CASES = [
    ("sweep file empty", ["sweep", "{emptyyaml}"], r"Sweep file .* is empty — a sweep needs `grid:`"),
    ("sweep alias bomb", ["sweep", "{bomb}"], r"line \d+, column \d+: YAML anchors and aliases"),
    ("sweep malformed YAML", ["sweep", "{badyaml}"], r"bad\.yaml: line 2, column 1:"),
    ("sweep that is a list", ["sweep", "{listyaml}"], r"holds a list, not a mapping"),
    ("sweep with an unknown key", ["sweep", "{sweep_unknown}"], r"unknown key\(s\) grids — a sweep has only"),
    ("sweep grid of a million runs", ["sweep", "{sweep_million}"],
     r"expands to 1,000,000 runs, over the cap of 200 — shrink the grid, or pass --max-runs 1000000"),
    ("sweep grid past --max-runs", ["sweep", "{sweep_six}", "--max-runs", "5"],
     r"expands to 6 runs, over the cap of 5"),
    ("sweep with a bad config", ["sweep", "{sweep_badmethod}"],
     r"run 2 of 2 \(method='lora'\): Invalid run config: method: 'lora' is not a method .* nothing was queued"),
    ("sweep with a bad data file", ["sweep", "{sweep_baddata}"], r"run 1 of 2 .*has no column 'text'.*nothing"),
    ("sweep concurrency flag -2", ["sweep", "{sweep_six}", "--concurrency", "-2"],
     r"argument --concurrency: '-2' is not a whole number >= 1"),
    ("sweep concurrency -2 in the file", ["sweep", "{sweep_conc}"], r"concurrency must be a whole number from 1"),
    ("sweep grid with an empty list", ["sweep", "{sweep_emptylist}"], r"grid\.seed is an empty list"),
    ("sweep with base only", ["sweep", "{sweep_baseonly}"], r"no grid and no runs"),
    ("sweep runs not a list", ["sweep", "{sweep_runsmap}"], r"runs must be a list of mappings"),
    ("sweep grid field unknown", ["sweep", "{sweep_badfield}"], r"grid has unknown field\(s\) learning_rate"),
    ("sweep --max-runs 0", ["sweep", "{sweep_six}", "--max-runs", "0"], r"argument --max-runs: '0' is not a whole"),
    ("sweep file missing", ["sweep", "{missing}"], r"Sweep file .* does not exist"),
]

OTHER_CASES = [
    ("runs --limit 0", ["runs", "--limit", "0"], r"argument --limit: '0' is not a whole number >= 1"),
    ("fold of an unknown run", ["fold", "0123456789abcdef"], r"0123456789abcdef"),
    ("analyze an unknown run", ["analyze", "0123456789abcdef"], r"0123456789abcdef"),
    ("unknown command", ["trian"], r"argument command: invalid choice: 'trian'"),
]


@pytest.fixture()
def files(tmp_path):
    """Every bad file the cases name, by name."""
    d = tmp_path / "bad"
    d.mkdir()
    p = {"missing": d / "missing.csv", "folder": d / "folder.csv", "fifo": d / "fifo.csv", "txt": d / "notes.txt"}
    p["folder"].mkdir()
    os.mkfifo(p["fifo"])
    p["txt"].write_text("text,label\na,pos\n")

    def write(name: str, text: str | bytes) -> None:
        p[name.split(".")[0]] = path = d / name
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)

    rows = "".join(f"a fine film {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))
    write("empty.csv", "")
    write("header.csv", "text,label\n")
    write("nocol.csv", "review,label\n" + rows)
    write("oneclass.csv", "text,label\n" + "".join(f"film {i},pos\n" for i in range(40)))
    write("nolabel.csv", "text,label\n" + rows + "a film without a label,\n")
    write("notext.csv", "text,label\n" + rows + ",pos\n")
    write("floatlabel.csv", "text,label\n" + "".join(f"film {i},{i / 3:.2f}\n" for i in range(40)))
    write("badsplit.csv", "text,label,split\n" + "".join(f"film {i},{i % 2},holdout\n" for i in range(40)))
    write("garbage.csv", bytes(range(256)) * 40)
    write("tiny.csv", "text,label\na,pos\nb,neg\n")
    good = pd.DataFrame({"text": [f"a fine film {i}" for i in range(40)], "label": ["pos", "neg"] * 20})
    good.to_parquet(d / "full.parquet")
    data = (d / "full.parquet").read_bytes()
    write("cut.parquet", data[: len(data) // 2])
    p["cutparquet"] = p.pop("cut")
    write("badjson.json", '{"method": "adept",\n')
    write("bad.yaml", "method: adept\n: broken\n")
    p["badyaml"] = p.pop("bad")
    write("list.yaml", "- method\n- adept\n")
    p["listyaml"] = p.pop("list")
    write("emptyyaml.yaml", "")
    write("unknownjson.json", '{"lr": 0.1}')
    write("aliasyaml.yaml", "method: &m adept\nrun_name: *m\n")
    write("binaryjson.json", b"\xff\xfe\x00{")
    write("wrongtype.json", '{"backbone": "tiny-bert", "max_steps": "ten"}')
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    write("bomb.yaml", "name: bomb\ngrid:\n  seed: [0]\nbase:\n" + "".join("  " + ln + "\n" for ln in
                                                                         laughs.splitlines()))
    base = "base:\n  backbone: tiny-bert\n  max_steps: 2\n  eval_every: 2\n  warmup_steps: 0\n  experiment: rel\n"
    write("sweep_unknown.yaml", base + "grids:\n  seed: [0, 1]\n")
    write("sweep_million.yaml", base + "grid:\n" + "".join(f"  {k}: [{', '.join(map(str, range(10)))}]\n" for k in (
        "seed", "warmup_steps", "eval_examples", "num_virtual_tokens", "rank", "early_stopping_patience")))
    write("sweep_six.yaml", base + "grid:\n  seed: [0, 1, 2]\n  method: [pt, dept]\n")
    write("sweep_badmethod.yaml", base + "grid:\n  method: [pt, lora]\n")
    write("sweep_baddata.yaml", base + f"  data_file: {p['nocol']}\ngrid:\n  seed: [0, 1]\n")
    write("sweep_conc.yaml", base + "concurrency: -2\ngrid:\n  seed: [0, 1]\n")
    write("sweep_emptylist.yaml", base + "grid:\n  seed: []\n")
    write("sweep_baseonly.yaml", base)
    write("sweep_runsmap.yaml", base + "runs:\n  method: pt\n")
    write("sweep_badfield.yaml", base + "grid:\n  learning_rate: [0.1, 0.2]\n")
    return {k: str(v) for k, v in p.items()}


def _check(store, files, argv, expected):
    before = snapshot(store)
    result = cli(*[a.format(**files) for a in argv])
    line = one_error_line(result)
    assert result.rc == 2, (result.rc, line)
    assert re.search(expected, line), line
    assert_untouched(store, before)


@pytest.mark.parametrize("argv,expected", [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_train_refuses_with_one_line(store, files, argv, expected):
    _check(store, files, argv, expected)


@pytest.mark.parametrize("argv,expected", [c[1:] for c in SWEEP_CASES], ids=[c[0] for c in SWEEP_CASES])
def test_sweep_refuses_the_whole_file_before_queueing_anything(store, files, argv, expected):
    _check(store, files, argv, expected)


@pytest.mark.parametrize("argv,expected", [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES])
def test_other_commands_refuse_with_one_line(store, files, argv, expected):
    _check(store, files, argv, expected)


@pytest.mark.parametrize("uri,expected", [
    ("http://127.0.0.1:9", r"MLflow tracking server http://127.0.0.1:9 is not reachable"),
    ("htp://x", r"unknown scheme 'htp'"),
    ("sqlite://relative.db", r"names no database file \(sqlite needs three slashes"),
    ("http://:80", r"has no valid host and port"),
    ("http://host:99999", r"has no valid host and port"),
], ids=["server down", "unknown scheme", "sqlite with two slashes", "no host", "port out of range"])
def test_a_bad_tracking_uri_fails_within_seconds_naming_it(store, monkeypatch, uri, expected):
    before = snapshot(store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for argv in (["runs"], [*T]):
        t0 = time.monotonic()
        result = cli(*argv)
        assert time.monotonic() - t0 < 15  # the probe waits 3 s at most; minutes before
        line = one_error_line(result)
        assert result.rc == 2 and re.search(expected, line) and uri in line, line
    assert_untouched(store, before)


def test_bad_env_settings_are_refused(store, monkeypatch):
    before = snapshot(store)
    monkeypatch.setenv("ADEPT_THREADS", "many")
    result = cli(*T)
    assert result.rc == 2 and "ADEPT_THREADS='many': set it to a whole number" in one_error_line(result)
    monkeypatch.setenv("ADEPT_THREADS", "1")
    monkeypatch.setenv("ADEPT_MAX_CONCURRENT", "0")
    result = cli("worker")
    assert result.rc == 2 and "ADEPT_MAX_CONCURRENT='0'" in one_error_line(result)
    assert_untouched(store, before)


def test_a_real_process_prints_one_line_and_no_traceback(store, files):
    """The same refusals from a shell: exit code 2, one line, nothing written (three of the cases above)."""
    before = snapshot(store)
    for argv, expected in ((["train", *TINY_FLAGS, "--seed", str(2**70)], "seed: 1,180,591,620,717,411,303,424"),
                           (["sweep", files["bomb"]], "YAML anchors and aliases"),
                           (["train", *TINY_FLAGS, "--data-file", files["folder"]], "is a folder, not a file")):
        result = cli_process(*argv)
        assert result.rc == 2 and expected in one_error_line(result), result.err
    assert_untouched(store, before)
