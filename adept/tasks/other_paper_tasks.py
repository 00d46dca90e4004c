"""The papers' other benchmark tasks: Yelp-2, SciTail, PAWS and WinoGrande (hub datasets, templates,
verbalisers, metrics and split conventions). WinoGrande's official template shows option1 twice; here it
is fixed: ``sentence: ... option1: ... option2: ...``."""

from __future__ import annotations

from adept.tasks.paper_spec import COLUMNS, LARGE, NO_YES, SMALL, PaperTaskSpec, pair_fields

OTHER_PAPER_TASKS: tuple[PaperTaskSpec, ...] = (
    PaperTaskSpec(
        "yelp-2", "fancyzhx/yelp_polarity", None, "classification", ("sentence",),
        (("text", ("text", "sentence")), COLUMNS["label"]), convention="large", files=("train", "test"),
        label_names=("negative", "positive"), verbalizers=("negative", "positive"), train_limit=100_000,
        note="test = the official test set; train truncated to its first 100,000 examples (paper)."),
    PaperTaskSpec(
        "scitail", "allenai/scitail", "snli_format", "classification", ("premise", "hypothesis"),
        (("premise", ("sentence1", "premise")), ("hypothesis", ("sentence2", "hypothesis")),
         ("label", ("gold_label", "label"))),
        label_names=("entailment", "neutral"), verbalizers=("entailment", "neutral"),
        aliases=(("entails", 0),), build=pair_fields("premise", "hypothesis"), **SMALL),
    PaperTaskSpec(
        "paws", "google-research-datasets/paws", "labeled_final", "classification",
        ("sentence1", "sentence2"),
        (COLUMNS["s1"], COLUMNS["s2"], COLUMNS["label"]), convention="official", files=("train", "validation", "test"),
        label_names=("not_paraphrase", "paraphrase"), build=pair_fields("sentence1", "sentence2"),
        note="PAWS-Wiki labeled_final with its official train / validation / test.", **NO_YES),
    PaperTaskSpec(
        "winogrande", "allenai/winogrande", "winogrande_xl", "classification",
        ("sentence", "option1", "option2"),
        (("sentence", ("sentence",)), ("option1", ("option1",)), ("option2", ("option2",)),
         ("answer", ("answer", "label"))),
        label_names=("option1", "option2"), verbalizers=("first", "second"), label_offset=1,
        build=lambda f: (f["sentence"], f"{f['option1']} option2: {f['option2']}"),
        note="the official template's bug (option1 shown twice) is fixed; answer 1/2 -> first/second.",
        **LARGE),
)
