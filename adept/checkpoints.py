"""A run's checkpoint (what an exact resume needs) and the checks before a run is resumed.

The ``checkpoint/`` artifact holds the adapter (``adapter.safetensors`` + its config), the
optimizer and learning-rate schedule (``optimizer.pt``), the loop's counters (``state.json``: step, best
validation score and step, evaluations without improvement, the last evaluated step, whether the zero-shot
pass and early stopping happened) and every random-number state a step draws from (``rng.pt``: torch's
generator, which ADePT's dropout uses, CUDA's when present, Python's and numpy's). With the same seed,
the batch order is a function of the step (:func:`adept.training._batches`), so a run resumed from step
``k`` computes what the uninterrupted run computed after step ``k``, bit for bit on the same machine.

It is written whole (:meth:`adept.tracking.RunTracker.log_folder`: a manifest of checksums, then an
atomic swap on a local store), and read back only if it matches its manifest.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import torch

from adept.config import RunConfig

# Fields a resume may change: they name, group or report the run, or only affect the final test pass.
# Any other difference would make the resumed run a different experiment than the one it continues.
RESUME_NEUTRAL_FIELDS = frozenset({"resume_from", "run_name", "sweep", "experiment", "extra", "eval_batch_size",
                                   "test_examples", "zero_shot"})
_PATH_FIELDS = ("data_file", "data_dir")


# ----------------------------------------------------------------------------------------------------------
# Random-number states


def rng_state() -> dict:
    """Every random-number state a training step can draw from, in types ``torch.load(weights_only=True)``
    reads back (tensors, lists, numbers)."""
    import numpy as np

    version, keys, gauss = random.getstate()
    kind, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, list(keys), gauss],
        "numpy": [kind, torch.from_numpy(np_keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Put back what :func:`rng_state` returned."""
    import numpy as np

    torch.set_rng_state(state["torch"])
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    kind, np_keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np_keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------------------------------------
# Writing and reading


def write(folder: Path, model, optimizer, scheduler, state: dict, best_dir: Path) -> Path:
    """Write the checkpoint files into local ``folder`` (uploaded by the caller with ``log_folder``), with a
    copy of the best adapter so far (``best/``): one folder, swapped whole, so the counters and the best
    adapter they describe can never come from two different moments."""
    model.save_pretrained(folder)
    shutil.rmtree(folder / "best", ignore_errors=True)
    if best_dir.exists():
        shutil.copytree(best_dir, folder / "best")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, folder / "optimizer.pt")
    torch.save(rng_state(), folder / "rng.pt")
    (folder / "state.json").write_text(json.dumps(state))
    return folder


def checkpoint_dir(run_id: str, *, uri: str | None = None) -> Path:
    """The run's ``checkpoint/`` artifact as a local folder, checked against its manifest. ``ValueError``
    when there is none ("Re-run it") or it is damaged."""
    from adept import tracking

    tracking.repair_run_artifacts(run_id, uri=uri)  # a swap its dead process left half done
    try:
        folder = Path(tracking.download_artifacts(run_id, "checkpoint", uri=uri))
    except ValueError as exc:
        raise ValueError(f"Run {run_id} saved no checkpoint: Re-run it from scratch instead.") from exc
    if not (folder / "state.json").is_file():
        raise ValueError(f"Run {run_id} saved no checkpoint: Re-run it from scratch instead.")
    problem = tracking.manifest_problem(folder)
    if problem:
        raise ValueError(f"Run {run_id}'s checkpoint is damaged ({problem}): Re-run it from scratch instead.")
    return folder


def restore(run_id: str, model, optimizer, scheduler, best_dir: Path) -> dict:
    """Load the checkpoint of ``run_id`` into ``model`` / ``optimizer`` / ``scheduler`` and the random-number
    generators, copy its best adapter to ``best_dir``; returns the loop's counters."""
    from safetensors.torch import load_file

    from adept import tracking

    folder = checkpoint_dir(run_id)
    model.load_state_dict(load_file(str(folder / "adapter.safetensors")), strict=False)
    opt = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    state = json.loads((folder / "state.json").read_text())
    if (folder / "rng.pt").exists():  # checkpoints written before random states were saved resume inexactly
        set_rng_state(torch.load(folder / "rng.pt", weights_only=True))
    # Checkpoints written before these counters existed: evaluated at their step, zero-shot done.
    state.setdefault("evaluated_step", state.get("step", 0))
    state.setdefault("zero_shot_done", True)
    state.setdefault("stopped_early", False)
    adapter = folder / "best"
    if not adapter.is_dir():  # written before the checkpoint carried its best adapter
        try:
            adapter = Path(tracking.download_artifacts(run_id, "adapter"))
        except ValueError:
            adapter = None
    if adapter is not None and (adapter / "adapter.safetensors").is_file():
        shutil.copytree(adapter, best_dir, dirs_exist_ok=True)
    else:
        state["best"] = -math.inf  # no best adapter yet: the next evaluation sets one
    return state


# ----------------------------------------------------------------------------------------------------------
# Before a resume


def _comparable(config: dict) -> dict:
    out = dict(config)
    for key in _PATH_FIELDS:
        if out.get(key):
            out[key] = str(Path(out[key]).expanduser().resolve())
    return out


def config_differences(stored: dict, cfg: RunConfig) -> list[str]:
    """``"field (run: a, given: b)"`` for every field that changes training and differs between the run's
    ``config.json`` and ``cfg``."""
    known = RunConfig().to_dict()
    old = _comparable({**known, **{k: v for k, v in stored.items() if k in known}})
    new = _comparable(cfg.to_dict())
    if isinstance(old.get("method"), str):
        old["method"] = old["method"].lower()
    return [f"{k} (run: {old[k]!r}, given: {new[k]!r})" for k in known
            if k not in RESUME_NEUTRAL_FIELDS and old.get(k) != new.get(k)]


def check_resume(run_id: str, cfg: RunConfig | None = None, *, uri: str | None = None) -> dict:
    """Refuse, with one ``ValueError`` that says what to do, a resume of ``run_id`` that cannot continue it
    exactly: the run is missing or FINISHED, ``cfg`` differs from its ``config.json`` in a field that changes
    training, or its checkpoint is missing or damaged. Returns the stored config. Changes nothing."""
    from mlflow.exceptions import MlflowException

    from adept import tracking

    try:
        run = tracking.get_client(uri).get_run(run_id)
    except MlflowException as exc:
        raise ValueError(f"No run {run_id!r} in {uri or tracking.tracking_uri()}: check the run id.") from exc
    if run.info.status == "FINISHED":
        raise ValueError(f"Run {run_id} already finished: Re-run it instead (a new run with the same config).")
    stored = tracking.load_json_artifact(run_id, "config.json", uri=uri)
    if not isinstance(stored, dict):
        raise ValueError(f"Run {run_id} has no config.json artifact, so it cannot be resumed: Re-run it.")
    if cfg is not None:
        diffs = config_differences(stored, cfg)
        if diffs:
            raise ValueError(f"Resume of run {run_id} changes {', '.join(diffs)}: a resume continues the same "
                             "training, so drop those settings (or Re-run with them as a new run).")
    checkpoint_dir(run_id, uri=uri)
    return stored
