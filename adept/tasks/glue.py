"""The GLUE tasks (MNLI, QQP, QNLI, SST-2, STS-B, MRPC, RTE, CoLA): their hub datasets, templates,
verbalisers, metrics and split conventions."""

from __future__ import annotations

from adept.tasks.paper_spec import COLUMNS, LARGE, NO_YES, SMALL, PaperTaskSpec, pair_fields

_GLUE = "nyu-mll/glue"

GLUE_TASKS: tuple[PaperTaskSpec, ...] = (
    PaperTaskSpec(
        "glue-mnli", _GLUE, "mnli", "classification", ("premise", "hypothesis"),
        (("premise", ("premise",)), ("hypothesis", ("hypothesis",)), COLUMNS["label"]),
        convention="mnli", files=("train", "validation_mismatched", "validation_matched"),
        label_names=("entailment", "neutral", "contradiction"),
        verbalizers=("entailment", "neutral", "contradiction"), build=pair_fields("premise", "hypothesis"),
        note="validation = validation_mismatched, test = validation_matched (paper convention)."),
    PaperTaskSpec(
        "glue-qqp", _GLUE, "qqp", "classification", ("question1", "question2"),
        (("question1", ("question1",)), ("question2", ("question2",)), COLUMNS["label"]),
        label_names=("not_duplicate", "duplicate"), metrics=("accuracy", "f1"),
        build=pair_fields("question1", "question2"), **NO_YES, **LARGE),
    PaperTaskSpec(
        "glue-qnli", _GLUE, "qnli", "classification", ("question", "sentence"),
        (("question", ("question",)), ("sentence", ("sentence",)), COLUMNS["label"]),
        label_names=("entailment", "not_entailment"), verbalizers=("yes", "no"),
        build=pair_fields("question", "sentence"), **LARGE),
    PaperTaskSpec(
        "glue-sst2", _GLUE, "sst2", "classification", ("sentence",), (COLUMNS["sentence"], COLUMNS["label"]),
        label_names=("negative", "positive"), verbalizers=("negative", "positive"), **LARGE),
    PaperTaskSpec(
        "glue-stsb", _GLUE, "stsb", "regression", ("sentence1", "sentence2"),
        (COLUMNS["s1"], COLUMNS["s2"], COLUMNS["label"]),
        metrics=("pearson", "spearman"), build=pair_fields("sentence1", "sentence2"),
        note="regression 0-5; target '%.1f' on T5's 0.2 grid.", **SMALL),
    PaperTaskSpec(
        "glue-mrpc", _GLUE, "mrpc", "classification", ("sentence1", "sentence2"),
        (COLUMNS["s1"], COLUMNS["s2"], COLUMNS["label"]), label_names=("not_equivalent", "equivalent"),
        metrics=("accuracy", "f1"), build=pair_fields("sentence1", "sentence2"), **NO_YES, **SMALL),
    PaperTaskSpec(
        "glue-rte", _GLUE, "rte", "classification", ("sentence1", "sentence2"),
        (COLUMNS["s1"], COLUMNS["s2"], COLUMNS["label"]), label_names=("entailment", "not_entailment"),
        verbalizers=("yes", "no"), build=pair_fields("sentence1", "sentence2"), **SMALL),
    PaperTaskSpec(
        "glue-cola", _GLUE, "cola", "classification", ("sentence",), (COLUMNS["sentence"], COLUMNS["label"]),
        label_names=("unacceptable", "acceptable"), verbalizers=("unacceptable", "acceptable"),
        metrics=("mcc", "accuracy"), **SMALL),
)
