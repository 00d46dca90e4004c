"""Encoding examples for a backbone: :class:`Encoder` turns task examples into token ids (source, target,
loss labels), pads and collates them; :func:`evaluate` / :func:`evaluate_ids` score a model on them with
the task's metrics (rank classification, the encoder head, or greedy generation)."""

from __future__ import annotations

import torch

CAUSAL_SUFFIX = "\nAnswer:"


class Encoder:
    """Turns task examples into token ids for one backbone kind.

    causal:  ``<source>\\nAnswer:`` then `` <verbalizer>`` (loss on the verbalizer tokens only);
    seq2seq: ``<source>`` -> ``<verbalizer>``; encoder: ``<source>`` -> class index.
    Sources are truncated so that input (+ target) fits ``max_length``.
    """

    def __init__(self, task, tokenizer, kind: str, max_length: int):
        self.task, self.tok, self.kind, self.max_length = task, tokenizer, kind, max_length
        self.label_ids: list[int] = []
        self.verbalizers = list(task.verbalizers)
        if task.kind == "classification" and kind != "encoder":
            self.label_ids = self._first_ids(self.verbalizers)
            if len(set(self.label_ids)) != len(self.label_ids):
                # e.g. a user file's "label0" / "label1": fall back to letters, distinct single tokens in any
                # vocabulary (the Options line shows them); logged as the param verbalizers_used
                self.verbalizers = [chr(ord("A") + i) for i in range(len(self.verbalizers))]
                self.label_ids = self._first_ids(self.verbalizers)
            if len(set(self.label_ids)) != len(self.label_ids):
                raise ValueError(
                    f"Verbalizers {self.verbalizers} start with the same token for this tokenizer: rank "
                    "classification needs label words whose first tokens differ."
                )

    def _first_ids(self, words: list[str]) -> list[int]:
        return [self._ids(self._target(w))[0] for w in words]

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _target(self, text: str) -> str:
        return " " + text if self.kind == "causal" else text

    def source(self, ex) -> list[int]:
        text = self.task.source_text(ex)
        if self.task.kind == "classification" and self.kind != "encoder":
            text = f"{text}\nOptions: {', '.join(self.verbalizers)}."
        if self.kind == "causal":
            suffix = self._ids(CAUSAL_SUFFIX)
            target = 1 if self.task.kind == "classification" else len(self._target_ids(ex))
            room = self.max_length - len(suffix) - target
            return self._ids(text)[: max(1, room)] + suffix
        ids = self.tok(text, truncation=True, max_length=self.max_length)["input_ids"]
        return ids

    def _target_ids(self, ex) -> list[int]:
        text = self.verbalizers[ex.label] if self.task.kind == "classification" else self.task.target_text(ex)
        ids = self._ids(self._target(text))
        if self.kind == "seq2seq" and self.tok.eos_token_id is not None:
            ids = ids + [self.tok.eos_token_id]
        return ids

    def train_item(self, ex) -> tuple[list[int], list[int]]:
        """(input_ids, labels): causal labels align with input_ids (-100 = no loss); seq2seq labels are
        the decoder targets; encoder labels are ``[class]`` (or ``[float]`` for regression)."""
        src = self.source(ex)
        if self.kind == "encoder":
            return src, [ex.label]
        tgt = self._target_ids(ex)
        if self.kind == "seq2seq":
            return src, tgt
        tgt = tgt[: max(1, self.max_length - len(src))]
        return src + tgt, [-100] * len(src) + tgt

    def pad(self, seqs: list[list[int]], side: str, value: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), value, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, s in enumerate(seqs):
            sl = slice(n - len(s), n) if side == "left" else slice(0, len(s))
            ids[i, sl] = torch.tensor(s)
            mask[i, sl] = 1
        return ids, mask

    def collate(self, examples, side: str) -> dict[str, torch.Tensor]:
        pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        items = [self.train_item(ex) for ex in examples]
        ids, mask = self.pad([i for i, _ in items], side, pad_id)
        if self.kind == "encoder":
            dtype = torch.float if self.task.kind == "regression" else torch.long
            labels = torch.tensor([lab[0] for _, lab in items], dtype=dtype)
        elif self.kind == "seq2seq":
            labels, _ = self.pad([lab for _, lab in items], "right", -100)
        else:
            labels, _ = self.pad([lab for _, lab in items], side, -100)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@torch.no_grad()
def evaluate(model, encoder: Encoder, examples, batch_size: int = 32) -> dict[str, float]:
    """The task's metrics on ``examples``: rank classification, the encoder head, or greedy generation."""
    return evaluate_ids(model, encoder, [encoder.source(ex) for ex in examples], [ex.label for ex in examples],
                        batch_size)


@torch.no_grad()
def evaluate_ids(model, encoder: Encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                 ) -> dict[str, float]:
    """The task's metrics for already-built source ids (the analyses' shifted inputs, or ``encoder.source``)."""
    model.eval()
    task, preds = encoder.task, []
    device = model.prompt.device
    pad_id = encoder.tok.pad_token_id or 0
    for start in range(0, len(id_lists), batch_size):
        ids, mask = encoder.pad(id_lists[start:start + batch_size], model.padding_side, pad_id)
        ids, mask = ids.to(device), mask.to(device)
        if task.kind == "classification":
            preds += model.score_labels(ids, mask, encoder.label_ids).argmax(-1).tolist()
        elif model.kind == "encoder":
            preds += model(ids, mask).logits.squeeze(-1).tolist()
        else:
            new = model.generate_new_tokens(ids, mask)
            texts = [encoder.tok.decode(o, skip_special_tokens=True).strip() for o in new]
            preds += [_parse_float(t) for t in texts] if task.kind == "regression" else texts
    return task.compute_metrics(preds, references)


def _parse_float(text: str) -> float:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return float("nan")
