"""The four MRQA 2019 sets (Natural Questions, HotpotQA, SearchQA, NewsQA): extractive QA as generation,
``question: ... context: ...`` -> the first gold answer, scored by SQuAD exact match (primary) and token F1
(:func:`adept.tasks.metrics.squad_em` / :func:`~adept.tasks.metrics.squad_f1`). :func:`pad_punctuation`
is T5's optional preprocessing of question, context and answer (``load_task(..., pad_punctuation=True)``).
"""

from __future__ import annotations

import unicodedata

from adept.tasks.paper_spec import LARGE, PaperTaskSpec, pair_fields


def pad_punctuation(text: str) -> str:
    """T5's ``_pad_punctuation``: spaces around every character that is not a letter, digit, mark,
    underscore or space, then whitespace squeezed (``"Who?"`` -> ``"Who ?"``)."""
    out = []
    for ch in str(text):
        keep = ch == "_" or ch.isspace() or unicodedata.category(ch)[0] in "NLM"
        out.append(ch if keep else f" {ch} ")
    return " ".join("".join(out).split())


def _mrqa(name: str, subset: str, label: str) -> PaperTaskSpec:
    return PaperTaskSpec(
        name, "mrqa-workshop/mrqa", None, "generation", ("question", "context"),
        (("question", ("question",)), ("context", ("context",)), ("answers", ("answers", "answer"))),
        metrics=("em", "f1"), build=pair_fields("question", "context"), subset=subset,
        note=f"MRQA 2019 {label}: extractive QA as generation (target = first gold answer); "
             "EM is primary (the paper selects on EM and reports F1).", **LARGE)


MRQA_TASKS: tuple[PaperTaskSpec, ...] = (
    _mrqa("mrqa-nq", "NaturalQuestionsShort", "Natural Questions"),
    _mrqa("mrqa-hotpotqa", "HotpotQA", "HotpotQA"),
    _mrqa("mrqa-searchqa", "SearchQA", "SearchQA"),
    _mrqa("mrqa-newsqa", "NewsQA", "NewsQA"),
)
