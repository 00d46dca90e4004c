"""adept.tasks: offline Rotten Tomatoes tasks, paper tasks from tiny local files, user files, metrics."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from adept import tasks as T  # noqa: E402
from adept.tasks import (  # noqa: E402
    Example,
    Task,
    list_tasks,
    load_task,
    paper_loading,
    rotten_tomatoes,
    user_files,
)


def _texts(split):
    return [ex.text for ex in split]


# ------------------------------------------------------------------------------------------------
# Offline tasks


def test_rotten_tomatoes_counts_splits_and_templates():
    task = load_task("rotten-tomatoes")
    assert task.kind == "classification"
    assert task.label_names == ["negative", "positive"] and task.verbalizers == ["negative", "positive"]
    assert task.metric_names == ["accuracy", "f1"]
    sizes = {s: len(task.splits[s]) for s in ("train", "validation", "test")}
    assert sizes == {"train": 10202, "validation": 1275, "test": 1275}
    everything = [ex for s in task.splits.values() for ex in s]
    assert len(everything) == 12752 and len({ex.text for ex in everything}) == 12752  # deduplicated
    assert Counter(ex.label for ex in everything) == {1: 7368, 0: 5384}
    # stratified: per class round(10%) in validation and test
    for split, pos, neg in (("validation", 737, 538), ("test", 737, 538), ("train", 5894, 4308)):
        assert Counter(ex.label for ex in task.splits[split]) == {1: pos, 0: neg}
    train, val, test = (set(_texts(task.splits[s])) for s in ("train", "validation", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    ex = task.splits["test"][0]
    assert task.source_text(ex) == f"sentence: {ex.text}"
    assert task.target_text(ex) == ["negative", "positive"][ex.label]
    assert "10,202" in task.description and "1,275" in task.description


def test_rotten_tomatoes_deterministic_per_seed_and_cached():
    a, b = load_task("rotten-tomatoes"), load_task("rotten-tomatoes", seed=42)
    assert a.splits == b.splits
    c = load_task("rotten-tomatoes", seed=1)
    assert len(c.splits["test"]) == 1275 and set(_texts(c.splits["test"])) != set(_texts(a.splits["test"]))
    rotten_tomatoes._rt_corpus.cache_clear()
    rotten_tomatoes._offline_splits.cache_clear()
    t0 = time.perf_counter()
    load_task("rotten-tomatoes")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_task("rotten-tomatoes")
    warm = time.perf_counter() - t0
    assert cold < 2.0 and warm < 0.2


def test_rt_subjectivity_counts():
    raw = pd.read_csv(T.rotten_tomatoes_path())
    assert (raw["category"] == "plot").sum() == 1097
    assert raw.loc[raw["category"] == "plot", "text"].isna().sum() == 14  # dropped: 1,083 plot texts remain
    task = load_task("rt-subjectivity")
    assert task.label_names == ["plot", "review"] and task.verbalizers == ["plot", "review"]
    assert task.metric_names == ["macro_f1", "accuracy"]
    assert {s: len(v) for s, v in task.splits.items()} == {"train": 11069, "validation": 1383, "test": 1383}
    for split, plot, review in (("train", 867, 10202), ("validation", 108, 1275), ("test", 108, 1275)):
        assert Counter(ex.label for ex in task.splits[split]) == {0: plot, 1: review}
    assert task.source_text(Example("x y", label=0)) == "text: x y"


def test_max_examples_caps_each_split_deterministically():
    full = load_task("rotten-tomatoes")
    a = load_task("rotten-tomatoes", max_examples=50)
    b = load_task("rotten-tomatoes", max_examples=50)
    assert {s: len(v) for s, v in a.splits.items()} == {"train": 50, "validation": 50, "test": 50}
    assert a.splits == b.splits
    for s in a.splits:  # a subset of the full split, in the same order
        pos = [full.splits[s].index(ex) for ex in a.splits[s]]
        assert pos == sorted(pos)
    with pytest.raises(ValueError, match="max_examples=0: pass a positive integer"):
        load_task("rotten-tomatoes", max_examples=0)


# ------------------------------------------------------------------------------------------------
# Metrics (hand-computed)


def test_metric_functions_match_hand_computed_values():
    assert T.accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 75.0
    # TP 2, FP 1, FN 1 -> 2*2 / (4 + 1 + 1)
    assert T.f1_score([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == pytest.approx(100 * 4 / 6)
    # per class F1: 1, 2/3, 2/3
    assert T.macro_f1([0, 1, 2, 2], [0, 1, 1, 2], 3) == pytest.approx(100 * 7 / 9)
    # TP 2, TN 1, FP 1, FN 1 -> (2*1 - 1*1) / sqrt(3*3*2*2)
    assert T.matthews_corrcoef([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == pytest.approx(100 / 6)
    assert T.matthews_corrcoef([1, 1, 1], [0, 1, 0]) == 0.0  # constant predictions: undefined -> 0
    # x = 1,2,3 ; y = 1,2,4: r = 3 / sqrt(2 * 42/9)
    assert T.pearson([1, 2, 3], [1, 2, 4]) == pytest.approx(100 * 3 / (2 * 42 / 9) ** 0.5)
    assert T.spearman([1, 2, 3], [1, 2, 4]) == pytest.approx(100.0)
    # ranks 1.5,1.5,3 vs 1,2,3: 1.5 / sqrt(1.5 * 2)
    assert T.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(100 * 1.5 / 3**0.5)
    assert T.normalize_answer("The  Cat!") == "cat"
    assert T.squad_em(["the cat", "dog"], ["Cat.", "a cat"]) == 50.0
    # "big cat" vs "cat sat": 1 shared token, precision = recall = 1/2
    assert T.squad_f1(["a big cat"], ["the cat sat"]) == pytest.approx(50.0)
    assert T.squad_f1(["a big cat"], [["dog", "big cat"]]) == pytest.approx(100.0)  # best reference


def test_task_compute_metrics_scale_and_parsing():
    rt = load_task("rotten-tomatoes", max_examples=5)
    m = rt.compute_metrics([1, 0, "positive", "maybe"], [1, 1, 1, 0])
    assert m == {"accuracy": 50.0, "f1": pytest.approx(100 * 4 / 5)}  # TP 2, FN 1, "maybe" wrong
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        rt.compute_metrics([0, 1, 1], [0, 1])
    empty = {"train": [], "validation": [], "test": []}
    stsb = Task("s", "regression", [], [], ["pearson", "spearman"], empty)
    m = stsb.compute_metrics(["1.0", "2.0", "3.0"], [1.0, 2.0, 3.0])
    assert m == {"pearson": pytest.approx(100.0), "spearman": pytest.approx(100.0)}
    assert T.parse_float("oops") == -1.0 and T.parse_float(" 2.5 ") == 2.5
    qa = Task("q", "generation", [], [], ["em", "f1"], empty)
    # "in London" vs "London": precision 1/2, recall 1 -> F1 2/3
    m = qa.compute_metrics(["Paris", "in London"], ["paris", "London"])
    assert m == {"em": 50.0, "f1": pytest.approx(100 * (1 + 2 / 3) / 2)}


def test_task_requires_all_splits():
    with pytest.raises(ValueError, match="lacks splits"):
        Task("x", "classification", ["a", "b"], ["a", "b"], ["accuracy"], {"train": []})


# ------------------------------------------------------------------------------------------------
# Paper tasks from tiny local files


def _write(df: pd.DataFrame, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)


def test_sst2_from_csv_large_convention(tmp_path):
    train = pd.DataFrame({"sentence": [f"train {i}" for i in range(6)], "label": [0, 1] * 3, "idx": range(6)})
    val = pd.DataFrame({"sentence": ["it is good", "bad film", "fine", "awful"], "label": [1, 0, 1, 0]})
    _write(train, tmp_path / "train.csv")
    _write(val, tmp_path / "validation.csv")
    task = load_task("glue-sst2", data_dir=str(tmp_path))
    assert task.verbalizers == ["negative", "positive"] and task.metric_names == ["accuracy"]
    # large task: official validation = test; training examples held out as validation (half of 6 here)
    assert _texts(task.splits["test"]) == ["it is good", "bad film", "fine", "awful"]
    assert len(task.splits["validation"]) == 3 and len(task.splits["train"]) == 3
    held = set(_texts(task.splits["train"])) | set(_texts(task.splits["validation"]))
    assert held == set(train["sentence"])
    ex = task.splits["test"][0]
    assert task.source_text(ex) == "sentence: it is good" and task.target_text(ex) == "positive"
    assert task.info["source"] == str(tmp_path)


def test_mnli_from_jsonl_uses_mismatched_and_matched(tmp_path):
    rows = lambda tag: pd.DataFrame({"premise": [f"{tag} p{i}" for i in range(3)],  # noqa: E731
                                     "hypothesis": [f"{tag} h{i}" for i in range(3)],
                                     "label": [0, "neutral", 2]})
    for split in ("train", "validation_mismatched", "validation_matched"):
        _write(rows(split), tmp_path / "glue-mnli" / f"{split}.jsonl")  # per-task subfolder layout
    task = load_task("glue-mnli", data_dir=str(tmp_path))
    assert task.verbalizers == ["entailment", "neutral", "contradiction"]
    assert _texts(task.splits["validation"])[0] == "validation_mismatched p0"
    assert _texts(task.splits["test"])[0] == "validation_matched p0"
    ex = task.splits["train"][1]
    assert task.source_text(ex) == "premise: train p1 hypothesis: train h1"
    assert task.target_text(ex) == "neutral"
    assert [e.label for e in task.splits["train"]] == [0, 1, 2]


def test_stsb_from_parquet_small_convention(tmp_path):
    import torch

    _write(pd.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [2.47, 4.0]}),
           tmp_path / "train.parquet")
    val = pd.DataFrame({"sentence1": [f"v{i}" for i in range(5)], "sentence2": ["w"] * 5,
                        "label": [0.0, 1.0, 2.0, 3.0, 4.0]})
    _write(val, tmp_path / "validation.parquet")
    task = load_task("glue-stsb", data_dir=str(tmp_path))
    assert task.kind == "regression" and task.metric_names == ["pearson", "spearman"]
    ex = task.splits["train"][0]
    assert task.source_text(ex) == "sentence1: a sentence2: c"
    assert task.target_text(ex) == "2.4"  # T5's 0.2 grid: round(2.47 * 5) / 5
    assert task.target_text(task.splits["train"][1]) == "4.0"
    # small task: the official validation set halved with a seed-42 randperm (as the official code)
    g = torch.Generator()
    g.manual_seed(42)
    perm = torch.randperm(5, generator=g).tolist()
    assert _texts(task.splits["validation"]) == [f"v{i}" for i in perm[:2]]
    assert _texts(task.splits["test"]) == [f"v{i}" for i in perm[2:]]
    again = load_task("glue-stsb", data_dir=str(tmp_path))
    assert again.splits == task.splits


def test_boolq_from_jsonl_bool_labels(tmp_path):
    df = pd.DataFrame({"question": ["is it", "is it not"], "passage": ["yes it is", "no"], "idx": [0, 1],
                       "label": [True, False]})
    _write(df, tmp_path / "train.jsonl")
    _write(df, tmp_path / "validation.jsonl")
    task = load_task("superglue-boolq", data_dir=str(tmp_path))
    assert task.verbalizers == ["no", "yes"]
    ex = task.splits["train"][0]
    assert task.source_text(ex) == "question: is it passage: yes it is"
    assert task.target_text(ex) == "yes" and task.target_text(task.splits["train"][1]) == "no"


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_mrqa_nq_generation_from_csv_and_parquet(tmp_path, ext):
    answers = [["Paris", "paris, France"], ["1600"]]
    if ext == ".csv":
        answers = [json.dumps(a) for a in answers]
    df = pd.DataFrame({"subset": ["NaturalQuestionsShort", "SQuAD"], "question": ["where?", "when?"],
                       "context": ["in Paris.", "in 1600."], "answers": answers})
    _write(df, tmp_path / f"train{ext}")
    _write(df, tmp_path / f"validation{ext}")
    task = load_task("mrqa-nq", data_dir=str(tmp_path))
    assert task.kind == "generation" and task.metric_names == ["em", "f1"]
    assert len(task.splits["test"]) == 1  # only the NaturalQuestionsShort row
    ex = task.splits["test"][0]
    assert task.source_text(ex) == "question: where? context: in Paris."
    assert task.target_text(ex) == "Paris"
    padded = load_task("mrqa-nq", data_dir=str(tmp_path), pad_punctuation=True)
    assert padded.source_text(padded.splits["test"][0]) == "question: where ? context: in Paris ."


TEMPLATE_CASES = [
    ("glue-qqp", {"question1": "q1", "question2": "q2", "label": 1}, "question1: q1 question2: q2", "yes"),
    ("glue-qnli", {"question": "q", "sentence": "s", "label": 0}, "question: q sentence: s", "yes"),
    ("glue-mrpc", {"sentence1": "a", "sentence2": "b", "label": 0}, "sentence1: a sentence2: b", "no"),
    ("glue-rte", {"sentence1": "a", "sentence2": "b", "label": 1}, "sentence1: a sentence2: b", "no"),
    ("glue-cola", {"sentence": "x", "label": 1}, "sentence: x", "acceptable"),
    ("superglue-cb", {"premise": "p", "hypothesis": "h", "label": 1}, "premise: p hypothesis: h",
     "contradiction"),
    ("superglue-wic", {"word": "bank", "sentence1": "s1", "sentence2": "s2", "label": 1},
     "sentence1: s1 sentence2: s2 word: bank", "yes"),
    ("superglue-multirc", {"paragraph": "A<br>B <b>C</b>", "question": "q", "answer": "a", "label": 0},
     "question: q answer: a paragraph: A B C", "no"),
    ("superglue-wsc", {"text": "Mark told Pete lies. He lied.", "span1_index": 0, "span2_index": 4,
                       "span1_text": "Mark", "span2_text": "He", "label": 1},
     "text: * Mark * told Pete lies. # He # lied.", "yes"),
    ("yelp-2", {"text": "great food", "label": 1}, "sentence: great food", "positive"),
    ("scitail", {"premise": "p", "hypothesis": "h", "label": "entails"}, "premise: p hypothesis: h",
     "entailment"),
    ("scitail", {"sentence1": "p", "sentence2": "h", "gold_label": "neutral"}, "premise: p hypothesis: h",
     "neutral"),
    ("paws", {"id": 1, "sentence1": "a", "sentence2": "b", "label": 1}, "sentence1: a sentence2: b", "yes"),
    ("winogrande", {"sentence": "The _ fell.", "option1": "cup", "option2": "plate", "answer": "2"},
     "sentence: The _ fell. option1: cup option2: plate", "second"),
    ("mrqa-hotpotqa", {"question": "who?", "context": "c", "answers": '["Bo"]'}, "question: who? context: c",
     "Bo"),
]


@pytest.mark.parametrize("name,row,source,target", TEMPLATE_CASES)
def test_paper_templates(tmp_path, name, row, source, target):
    spec = T.PAPER_TASKS[name]
    for split in spec.files:
        _write(pd.DataFrame([row] * 4), tmp_path / f"{split}.csv")
    task = load_task(name, data_dir=str(tmp_path))
    ex = task.splits["test"][0]
    assert task.source_text(ex) == source
    assert task.target_text(ex) == target


def test_paper_task_errors(tmp_path):
    with pytest.raises(ValueError, match=r"HF_HUB_OFFLINE=1.*put train\.csv and validation\.csv.*"
                                         r"columns sentence, label.*data_dir="):
        load_task("glue-sst2")
    with pytest.raises(ValueError, match=r"lacks train\.\{csv,jsonl,parquet\}, "
                                         r"validation\.\{csv,jsonl,parquet\}"):
        load_task("glue-sst2", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="is not a folder"):
        load_task("glue-sst2", data_dir=str(tmp_path / "nope"))
    _write(pd.DataFrame({"text": ["a"], "label": [0]}), tmp_path / "train.csv")
    _write(pd.DataFrame({"text": ["a"], "label": [0]}), tmp_path / "validation.csv")
    with pytest.raises(ValueError, match=r"lacks column 'sentence' for glue-sst2; "
                                         r"it has \['text', 'label'\]"):
        load_task("glue-sst2", data_dir=str(tmp_path))
    _write(pd.DataFrame({"sentence": ["a", "b"], "label": [0, -1]}), tmp_path / "train.csv")
    _write(pd.DataFrame({"sentence": ["a"], "label": [0]}), tmp_path / "validation.csv")
    with pytest.raises(ValueError, match=r"1 row\(s\) with a missing or unknown 'label' \(row 2: -1\)"):
        load_task("glue-sst2", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="option text_column='review' does not apply"):
        load_task("glue-sst2", data_dir=str(tmp_path), text_column="review")


def test_hub_path_calls_load_dataset(monkeypatch):
    import datasets

    calls = []

    def fake_load(path, config, split, revision=None):
        calls.append((path, config, split, revision))
        return datasets.Dataset.from_pandas(pd.DataFrame({"sentence": [f"{split} {i}" for i in range(4)],
                                                          "label": [0, 1, 0, 1]}))

    monkeypatch.setattr(paper_loading, "_is_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    task = load_task("glue-sst2")
    assert calls == [("nyu-mll/glue", "sst2", "train", None), ("nyu-mll/glue", "sst2", "validation", None)]
    assert _texts(task.splits["test"]) == [f"validation {i}" for i in range(4)]
    assert task.info["source"] == "hub:nyu-mll/glue/sst2"

    def failing(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(ValueError, match=r"could not load nyu-mll/glue \(sst2\).*no network.*data_dir="):
        load_task("glue-sst2")


# ------------------------------------------------------------------------------------------------
# User files


def _user_df(n_per_class=20, labels=("pos", "neg")):
    rows = [{"review": f"{lab} text {i}", "other": f"o{i}", "y": lab}
            for lab in labels for i in range(n_per_class)]
    return pd.DataFrame(rows)


def test_user_csv_string_labels_and_stratified_split(tmp_path):
    path = tmp_path / "mine.csv"
    _write(_user_df(), path)
    task = load_task(str(path), text_column="review", label_column="y")
    assert task.label_names == ["neg", "pos"] and task.verbalizers == ["neg", "pos"]
    assert task.metric_names == ["accuracy", "macro_f1"]
    for split, n in (("train", 16), ("validation", 2), ("test", 2)):
        assert Counter(ex.label for ex in task.splits[split]) == {0: n, 1: n}
    texts = [set(_texts(task.splits[s])) for s in ("train", "validation", "test")]
    assert sum(map(len, texts)) == 40 and len(set.union(*texts)) == 40
    ex = task.splits["train"][0]
    assert task.source_text(ex) == f"review: {ex.text}" and task.target_text(ex) == task.label_names[ex.label]
    assert load_task(str(path), text_column="review", label_column="y").splits == task.splits
    assert load_task(str(path), text_column="review", label_column="y", seed=7).splits != task.splits


def test_user_jsonl_int_labels_pair_and_verbalizer_rules(tmp_path):
    df = _user_df(labels=(2, 10))
    path = tmp_path / "mine.jsonl"
    _write(df, path)
    task = load_task(str(path), text_column="review", text_pair_column="other", label_column="y")
    assert task.label_names == ["2", "10"]  # numeric order
    assert task.verbalizers == ["label0", "label1"]  # digits are not words
    ex = task.splits["test"][0]
    assert task.source_text(ex) == f"review: {ex.text} other: {ex.text_pair}"
    task = load_task(str(path), text_column="review", label_column="y", verbalizers=["bad", "good"])
    assert task.verbalizers == ["bad", "good"]
    with pytest.raises(ValueError, match="give 2 distinct non-empty words"):
        load_task(str(path), text_column="review", label_column="y", verbalizers=["bad"])
    _write(_user_df(labels=("very good", "bad")), tmp_path / "multi.parquet")
    task = load_task(str(tmp_path / "multi.parquet"), text_column="review", label_column="y")
    assert task.label_names == ["bad", "very good"] and task.verbalizers == ["label0", "label1"]


def test_user_split_column(tmp_path):
    df = _user_df(n_per_class=10).rename(columns={"review": "text", "y": "label"})
    df["split"] = (["train"] * 7 + ["dev"] * 1 + ["test"] * 2) * 2
    path = tmp_path / "s.csv"
    _write(df, path)
    task = load_task(str(path))
    assert {s: len(v) for s, v in task.splits.items()} == {"train": 14, "validation": 2, "test": 4}
    df["split"] = (["train"] * 8 + ["test"] * 2) * 2  # no validation: carved from train
    _write(df, path)
    task = load_task(str(path))
    assert {s: len(v) for s, v in task.splits.items()} == {"train": 14, "validation": 2, "test": 4}
    df.loc[0, "split"] = "holdout"
    _write(df, path)
    with pytest.raises(ValueError, match="'split' column has 'holdout' in data row 1"):
        load_task(str(path))


def test_user_file_errors(tmp_path, monkeypatch):
    good = tmp_path / "good.csv"
    _write(_user_df(), good)
    with pytest.raises(ValueError, match="not found"):
        load_task(str(tmp_path / "missing.csv"))
    (tmp_path / "notes.txt").write_text("text,label\na,1\n")
    with pytest.raises(ValueError, match=r"unsupported file type '\.txt'; "
                                         r"use one of \.csv, \.jsonl, \.parquet"):
        load_task(str(tmp_path / "notes.txt"))
    with pytest.raises(ValueError, match=r"no column 'text' \(text_column\); available columns: "
                                         r"\['review', 'other', 'y'\]"):
        load_task(str(good), label_column="y")
    with pytest.raises(ValueError, match=r"no column 'label' \(label_column\)"):
        load_task(str(good), text_column="review")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_task(str(tmp_path / "empty.csv"))
    (tmp_path / "header.csv").write_text("text,label\n")
    with pytest.raises(ValueError, match="is empty"):
        load_task(str(tmp_path / "header.csv"))
    (tmp_path / "nan.csv").write_text("text,label\na,pos\nb,\nc,neg\n")
    with pytest.raises(ValueError, match=r"1 row\(s\) have no value in label column 'label' \(data rows 2\)"):
        load_task(str(tmp_path / "nan.csv"))
    (tmp_path / "one.csv").write_text("text,label\na,pos\nb,pos\n")
    with pytest.raises(ValueError, match=r"only 1 class \(\['pos'\]\); classification needs at least 2"):
        load_task(str(tmp_path / "one.csv"))
    (tmp_path / "reg.csv").write_text("text,label\na,0.5\nb,1\n")
    with pytest.raises(ValueError, match="non-integer numbers"):
        load_task(str(tmp_path / "reg.csv"))
    (tmp_path / "few.csv").write_text("text,label\na,x\nb,y\nc,x\n")
    with pytest.raises(ValueError, match="too few to fill"):
        load_task(str(tmp_path / "few.csv"))
    (tmp_path / "blank.csv").write_text("text,label\na,x\n,y\n")
    with pytest.raises(ValueError, match=r"have an empty 'text' \(data rows 2\)"):
        load_task(str(tmp_path / "blank.csv"))
    monkeypatch.setattr(user_files, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValueError, match=r"too large \(0 MB > 0 MB\)"):
        load_task(str(good), text_column="review", label_column="y")
    monkeypatch.setattr(user_files, "MAX_FILE_BYTES", 200_000_000)
    monkeypatch.setattr(user_files, "MAX_ROWS", 10)
    with pytest.raises(ValueError, match=r"too large \(40 rows > 10\)"):
        load_task(str(good), text_column="review", label_column="y")
    _write(_user_df(), tmp_path / "big.parquet")
    with pytest.raises(ValueError, match=r"too large \(40 rows > 10\)"):
        load_task(str(tmp_path / "big.parquet"), text_column="review", label_column="y")


def test_registry_and_name_errors():
    names = list_tasks()
    assert names[:2] == ["rotten-tomatoes", "rt-subjectivity"]
    for n in ("glue-mnli", "glue-qqp", "glue-qnli", "glue-sst2", "glue-stsb", "glue-mrpc", "glue-rte",
              "glue-cola", "superglue-multirc", "superglue-boolq", "superglue-wic", "superglue-wsc",
              "superglue-cb", "yelp-2", "scitail", "paws", "winogrande", "mrqa-nq", "mrqa-hotpotqa",
              "mrqa-searchqa", "mrqa-newsqa"):
        assert n in names
    assert set(T.task_descriptions()) == set(names)
    with pytest.raises(ValueError, match="unknown task 'sst'"):
        load_task("sst")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\]"):
        load_task("x.csv", colour="red")
    # the user-file options at their defaults are accepted for registry tasks
    assert load_task("rotten-tomatoes", text_column="text", label_column="label", text_pair_column=None,
                     max_examples=3).splits["train"][0].label in (0, 1)


def test_package_keeps_the_public_names_of_the_former_module():
    public = ("Example", "Task", "KINDS", "SPLITS", "EXTENSIONS", "MAX_FILE_BYTES", "MAX_ROWS", "LARGE_HOLDOUT",
              "RT_FILE", "OFFLINE_TASKS", "PAPER_TASKS", "accuracy", "f1_score", "macro_f1", "matthews_corrcoef",
              "pearson", "spearman", "parse_float", "normalize_answer", "squad_f1", "squad_em",
              "rotten_tomatoes_path", "pad_punctuation", "list_tasks", "task_descriptions", "load_task")
    assert [n for n in public if not hasattr(T, n)] == []
    assert sorted(T.__all__) == sorted(public)
    assert list(T.PAPER_TASKS) == list_tasks()[2:]  # GLUE, SuperGLUE, the others, then MRQA, in that order
