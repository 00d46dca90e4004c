"""The papers' split conventions: how a benchmark's official splits become train / validation / test.

* ``small`` tasks halve the official validation set (a seed-``seed`` ``torch.randperm``, as the official
  code) into validation and test; train is the official train.
* ``large`` tasks hold 1,000 shuffled training examples out as validation (half the file when it has
  fewer than 2,000 rows) and use the official validation (or test) set as test.
* ``mnli``: validation = validation_mismatched, test = validation_matched.
* ``official``: the dataset's own train / validation / test (PAWS).

``seed`` is the *data* seed (42 = the paper's); keep it fixed when comparing training seeds, or the test
sets differ.
"""

from __future__ import annotations

from adept.tasks.paper_spec import PaperTaskSpec
from adept.tasks.task import SPLITS, Example

LARGE_HOLDOUT = 1000  # training examples held out as validation for large tasks

CONVENTION_TEXT = {  # each convention in one line, for a task's description and info["split"]
    "small": "official validation halved (seed-{seed} randperm) into validation / test; "
             "train = official train",
    "large": "1,000 seed-{seed} shuffled training examples held out as validation (half the file if it has "
             "fewer than 2,000 rows); test = official {test}",
    "mnli": "validation = validation_mismatched, test = validation_matched",
    "official": "official train / validation / test",
}


def _torch_permutation(n: int, seed: int) -> list[int]:
    """``torch.randperm(n)`` from a generator seeded with ``seed``: the official code's shuffle."""
    import torch

    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


def apply_convention(spec: PaperTaskSpec, parts: dict[str, list[Example]], seed: int
                     ) -> dict[str, list[Example]]:
    """Official splits -> train / validation / test, by ``spec.convention`` (see the module docstring)."""
    if spec.convention == "small":
        val = parts["validation"]
        perm = _torch_permutation(len(val), seed)
        half = len(val) // 2
        return {"train": parts["train"], "validation": [val[i] for i in perm[:half]],
                "test": [val[i] for i in perm[half:]]}
    if spec.convention == "large":
        train = parts["train"]
        perm = _torch_permutation(len(train), seed)
        hold = min(LARGE_HOLDOUT, len(train) // 2)
        out = {"train": [train[i] for i in perm[hold:]], "validation": [train[i] for i in perm[:hold]],
               "test": parts[spec.files[1]]}
        if spec.train_limit is not None:
            out["train"] = out["train"][:spec.train_limit]
        return out
    if spec.convention == "mnli":
        return {"train": parts["train"], "validation": parts["validation_mismatched"],
                "test": parts["validation_matched"]}
    return {s: parts[s] for s in SPLITS}
