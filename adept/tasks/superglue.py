"""The SuperGLUE tasks (MultiRC, BoolQ, WiC, WSC, CB): their hub datasets, templates (with MultiRC's markup
removal and T5's WSC span marking), verbalisers, metrics and split conventions."""

from __future__ import annotations

import re

from adept.tasks.paper_spec import COLUMNS, NO_YES, SMALL, PaperTaskSpec, pair_fields

_SUPERGLUE = "aps/super_glue"


def _remove_markup(text: str) -> str:
    """MultiRC paragraphs: ``<br>`` -> space, ``<b>``/``</b>`` dropped (as the official code)."""
    return re.sub(r"<(/)?b>", "", re.sub(r"<br>", " ", text))


def _mark_span(text: str, span: str, index: int, mark: str) -> str:
    """T5's WSC marking: the span starting at word ``index`` becomes ``"{mark} span {mark}"``."""
    pattern = r"^((?:\S+\s){" + str(index) + r"})(" + re.escape(span) + ")"
    return re.sub(pattern, lambda m: f"{m.group(1)}{mark} {m.group(2)} {mark}", text, count=1)


def _wsc_text(f: dict) -> tuple[str, None]:
    i1, i2 = int(f["span1_index"]), int(f["span2_index"])
    text = _mark_span(f["text"], f["span1_text"], i1, "*")
    text = _mark_span(text, f["span2_text"], i2 + 2 * int(i1 < i2), "#")  # 2 words added before it
    return text, None


SUPERGLUE_TASKS: tuple[PaperTaskSpec, ...] = (
    PaperTaskSpec(
        "superglue-multirc", _SUPERGLUE, "multirc", "classification", ("question", "answer", "paragraph"),
        (("question", ("question",)), ("answer", ("answer",)), ("paragraph", ("paragraph",)), COLUMNS["label"]),
        label_names=("False", "True"), metrics=("f1", "accuracy"),
        build=lambda f: (f["question"], f"{f['answer']} paragraph: {_remove_markup(f['paragraph'])}"),
        note="one example per (question, answer option); f1 = F1 of 'True' over all answer options.",
        **NO_YES, **SMALL),
    PaperTaskSpec(
        "superglue-boolq", _SUPERGLUE, "boolq", "classification", ("question", "passage"),
        (("question", ("question",)), ("passage", ("passage",)), ("label", ("label", "answer"))),
        label_names=("False", "True"), build=pair_fields("question", "passage"), **NO_YES, **SMALL),
    PaperTaskSpec(
        "superglue-wic", _SUPERGLUE, "wic", "classification", ("sentence1", "sentence2", "word"),
        (COLUMNS["s1"], COLUMNS["s2"], ("word", ("word",)), COLUMNS["label"]), label_names=("False", "True"),
        build=lambda f: (f["sentence1"], f"{f['sentence2']} word: {f['word']}"), **NO_YES, **SMALL),
    PaperTaskSpec(
        "superglue-wsc", _SUPERGLUE, "wsc.fixed", "classification", ("text",),
        (("text", ("text",)), ("span1_index", ("span1_index",)), ("span2_index", ("span2_index",)),
         ("span1_text", ("span1_text",)), ("span2_text", ("span2_text",)), COLUMNS["label"]),
        label_names=("False", "True"), build=_wsc_text,
        note="T5 style: the noun marked '* noun *', the pronoun '# pronoun #'.", **NO_YES, **SMALL),
    PaperTaskSpec(
        "superglue-cb", _SUPERGLUE, "cb", "classification", ("premise", "hypothesis"),
        (("premise", ("premise",)), ("hypothesis", ("hypothesis",)), COLUMNS["label"]),
        label_names=("entailment", "contradiction", "neutral"),
        verbalizers=("entailment", "contradiction", "neutral"), metrics=("macro_f1", "accuracy"),
        build=pair_fields("premise", "hypothesis"),
        note="selects on macro F1, the paper's tables report accuracy.", **SMALL),
)
