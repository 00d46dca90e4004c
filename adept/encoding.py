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

    def sources(self, examples) -> list[list[int]]:
        """``source`` of every example: a split tokenized once, reused by every evaluation of a run."""
        return [self.source(ex) for ex in examples]

    def item_cache(self, examples) -> ItemCache:
        """``train_item`` of each example, computed when first asked for and kept for the run."""
        return ItemCache(self, examples)

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
        return self.collate_items([self.train_item(ex) for ex in examples], side)

    def collate_items(self, items: list[tuple[list[int], list]], side: str) -> dict[str, torch.Tensor]:
        """A padded batch of already-built ``train_item`` pairs (what :meth:`collate` tokenizes first)."""
        pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        ids, mask = self.pad([i for i, _ in items], side, pad_id)
        if self.kind == "encoder":
            dtype = torch.float if self.task.kind == "regression" else torch.long
            labels = torch.tensor([lab[0] for _, lab in items], dtype=dtype)
        elif self.kind == "seq2seq":
            labels, _ = self.pad([lab for _, lab in items], "right", -100)
        else:
            labels, _ = self.pad([lab for _, lab in items], side, -100)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class ItemCache:
    """A lazily filled list of ``encoder.train_item(ex)``: each example is tokenized the first time a batch
    draws it and never again (a short run draws a fraction of a large training split, so nothing is
    tokenized up front)."""

    def __init__(self, encoder: Encoder, examples):
        self.encoder, self.examples = encoder, examples
        self._items: dict[int, tuple[list[int], list]] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[list[int], list]:
        item = self._items.get(i)
        if item is None:
            item = self._items[i] = self.encoder.train_item(self.examples[i])
        return item


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate" in text


@torch.no_grad()
def evaluate(model, encoder: Encoder, examples, batch_size: int = 32) -> dict[str, float]:
    """The task's metrics on ``examples``: rank classification, the encoder head, or greedy generation."""
    return evaluate_ids(model, encoder, [encoder.source(ex) for ex in examples], [ex.label for ex in examples],
                        batch_size)


@torch.no_grad()
def evaluate_ids(model, encoder: Encoder, id_lists: list[list[int]], references: list, batch_size: int = 32
                 ) -> dict[str, float]:
    """The task's metrics for already-built source ids (the analyses' shifted inputs, or ``encoder.source``).

    Examples are scored longest first in batches of ``batch_size`` (so a batch pads to nearly its own
    length, not the split's longest), and the predictions are put back in the given order: the metrics
    are those of scoring one example at a time. A batch that runs out of memory is split in two and
    retried, so ``batch_size`` is the largest batch tried, not a hard requirement."""
    model.eval()
    task = encoder.task
    order = sorted(range(len(id_lists)), key=lambda i: (-len(id_lists[i]), i))
    preds: list = [None] * len(id_lists)
    size, start = max(1, int(batch_size)), 0
    while start < len(order):
        chunk = order[start:start + size]
        try:
            out = _predict(model, encoder, [id_lists[i] for i in chunk])
        except RuntimeError as exc:
            if not _is_out_of_memory(exc) or size == 1:
                raise
            size = max(1, size // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        for i, p in zip(chunk, out):
            preds[i] = p
        start += len(chunk)
    return task.compute_metrics(preds, references)


def _predict(model, encoder: Encoder, id_lists: list[list[int]]) -> list:
    """Predictions for one batch of source ids: label indices, regression values or generated texts."""
    task, device = encoder.task, model.prompt.device
    pad_id = encoder.tok.pad_token_id or 0
    ids, mask = encoder.pad(id_lists, model.padding_side, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    if task.kind == "classification":
        return model.score_labels(ids, mask, encoder.label_ids).argmax(-1).tolist()
    if model.kind == "encoder":
        return model(ids, mask).logits.float().squeeze(-1).tolist()
    new = model.generate_new_tokens(ids, mask)
    texts = [encoder.tok.decode(o, skip_special_tokens=True).strip() for o in new]
    return [_parse_float(t) for t in texts] if task.kind == "regression" else texts


def _parse_float(text: str) -> float:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return float("nan")
