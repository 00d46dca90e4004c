"""The run level: load a finished run's model, compute every analysis on its examples, store the results.

:func:`analyze_run` loads a run's config and best adapter from MLflow (:func:`load_run_model`), computes the
analyses on the task's validation / test examples (bounded by :func:`default_sizes`) and logs each result as
the JSON artifact ``analysis/<name>.json`` of that run, once: later calls read them back
(:func:`load_analysis`). :func:`summary_lines` prints their key numbers.

=============================  ==================================================================
``analysis/offset_stats.json``       :func:`adept.analysis.offsets.offset_statistics`
``analysis/position_vs_input.json``  :func:`adept.analysis.position.position_vs_input`
``analysis/offset_pca.json``         :func:`adept.analysis.pca.offset_pca`
``analysis/pilot.json``              :func:`adept.analysis.pilot.pilot_experiment`
``analysis/attention.json``          :func:`adept.analysis.attention.attention_analysis`
``analysis/latency.json``            :func:`adept.analysis.latency.latency` (+ ``variants`` description)
``analysis/meta.json``               what was computed, on which examples, in how many seconds
=============================  ==================================================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import torch

from adept.analysis.attention import attention_analysis
from adept.analysis.common import ANALYSIS_DIR, encode_examples
from adept.analysis.latency import _latency_variants, latency
from adept.analysis.offsets import offset_statistics
from adept.analysis.pca import offset_pca
from adept.analysis.pilot import PILOT_KS, neutral_token_ids, pilot_experiment
from adept.analysis.position import position_vs_input

ARTIFACT_NAMES = ("offset_stats", "position_vs_input", "offset_pca", "pilot", "attention", "latency")
ANALYSIS_VERSION = 1


def _run_config(run_id: str):
    from adept import tracking
    from adept.config import RunConfig

    cfg = tracking.load_json_artifact(run_id, "config.json")
    if cfg is None:
        raise ValueError(f"Run {run_id} has no config.json artifact: is the run id right (and MLFLOW_TRACKING_URI)?")
    import dataclasses

    known = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig.from_dict({k: v for k, v in cfg.items() if k in known})


def load_run_model(run_id: str, device: str | None = None):
    """A finished run's best adapter on its backbone, with its task and encoder.

    Returns ``(model, encoder, task, config)`` (model in eval mode). Raises ValueError when the run has no
    ``config.json`` or no ``adapter/`` artifact (it has not evaluated once yet).
    """
    from adept import tracking
    from adept.backbones import load_backbone
    from adept.encoding import Encoder
    from adept.methods import load_adapter
    from adept.tasks import load_task

    cfg = _run_config(run_id)
    try:
        adapter_dir = tracking.download_artifacts(run_id, "adapter")
    except ValueError as exc:
        raise ValueError(f"Run {run_id} has no adapter/ artifact yet (it saves one at its first evaluation): "
                         "wait for it or pick a finished run.") from exc
    if cfg.data_file:
        task = load_task(cfg.data_file, text_column=cfg.text_column,
                         text_pair_column=cfg.text_pair_column, label_column=cfg.label_column)
    else:
        task = load_task(cfg.task, data_dir=cfg.data_dir)
    bb = load_backbone(cfg.backbone)
    model = load_adapter(adapter_dir, bb)
    dev = torch.device(device) if device else torch.device("cpu")
    model.to(dev).eval()
    encoder = Encoder(task, bb.tokenizer, bb.kind, model.max_length)
    return model, encoder, task, cfg


def default_sizes(backbone: str) -> dict[str, int]:
    """Example counts for :func:`analyze_run`, sized so a SmolLM2 run's analysis stays under ~2 minutes on 2
    idle CPU cores. The pilot experiment dominates: it scores every example at 6 values of k, for both padding
    sides on decoder backbones (SmolLM2: ~0.6 CPU-seconds per example at l = 60, so 16 examples = 192
    forwards, ~70 s on 2 idle cores, ~2.5 min on a busy one). That is a quick look (one example moves
    accuracy by 6 points); a real pilot: ``python -m adept analyze RUN_ID --force --pilot-examples 200``."""
    from adept.backbones import BACKBONE_INFO

    cost = BACKBONE_INFO.get(backbone, {}).get("sec_per_step_cpu", 3.0)
    if cost >= 1.0:  # SmolLM2 and unknown (hub) backbones
        return {"stats_examples": 128, "pilot_examples": 16, "attention_tokens": 40, "latency_examples": 4,
                "latency_repeats": 2}
    return {"stats_examples": 256, "pilot_examples": 100, "attention_tokens": 48, "latency_examples": 8,
            "latency_repeats": 3}


def _log_json(run_id: str, obj, name: str) -> None:
    from adept import tracking
    from adept.tracking import _json_default

    tracking.get_client().log_text(run_id, json.dumps(obj, default=_json_default), f"{ANALYSIS_DIR}/{name}.json")


def _run_status(run_id: str) -> str | None:
    from adept import tracking

    try:
        return tracking.get_client().get_run(run_id).info.status
    except Exception:  # noqa: BLE001 - a missing run is reported by load_run_model with a clear message
        return None


def load_analysis(run_id: str) -> dict | None:
    """The stored analysis of a run (``{name: json}`` for every artifact plus ``meta``), or None if the run was
    never analysed completely."""
    from adept import tracking

    meta = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/meta.json")
    if meta is None:
        return None
    out = {"meta": meta}
    for name in meta.get("artifacts", ARTIFACT_NAMES):
        out[name] = tracking.load_json_artifact(run_id, f"{ANALYSIS_DIR}/{name}.json")
    return out


def analyze_run(run_id: str, *, force: bool = False, sizes: dict[str, int] | None = None,
                log: Callable[[str], None] | None = None) -> dict:
    """Every analysis of docs/analyses.md on one run, logged as ``analysis/<name>.json`` artifacts.

    Computed once: when ``analysis/meta.json`` exists the stored results are read back, unless ``force``.
    Offset statistics, position-vs-input and PCA use the first ``stats_examples`` validation examples; the
    pilot experiment the first ``pilot_examples`` test examples; attention the first validation example
    (first ``attention_tokens`` tokens, the same input for every run of a task, so runs can be compared with
    :func:`attention_comparison`); latency the first ``latency_examples`` validation examples.
    ``sizes`` overrides :func:`default_sizes`. A run analysed while RUNNING (its best adapter so far) is
    analysed again once its status changed. Returns ``{name: json}`` for the names in ``ARTIFACT_NAMES`` and
    ``"meta"`` = ``{"run_id", "run_status", "method", "backbone", "task", "sizes", "seconds": {name: s},
    "total_seconds", "artifacts", "version", "threads"}``.
    """
    say = log or (lambda msg: None)
    status = _run_status(run_id)
    if not force:
        stored = load_analysis(run_id)
        if stored is not None and stored["meta"].get("run_status") in (status, None):
            say(f"analysis of {run_id} already stored; reading it back (force=True recomputes)")
            return stored
        if stored is not None:
            say(f"stored analysis was made while the run was {stored['meta'].get('run_status')}; recomputing")
    t_all = time.perf_counter()
    model, encoder, task, cfg = load_run_model(run_id)
    size = {**default_sizes(cfg.backbone), **(sizes or {})}
    val, test = task.splits["validation"], task.splits["test"] or task.splits["validation"]
    if not val:
        raise ValueError(f"Task {task.name!r} has no validation examples to analyse.")
    seconds: dict[str, float] = {}
    results: dict[str, object] = {}

    def step(name: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        results[name] = fn()
        seconds[name] = time.perf_counter() - t0
        _log_json(run_id, results[name], name)
        say(f"{name}: {seconds[name]:.1f} s")

    ids, mask = encode_examples(model, encoder, val[: size["stats_examples"]])
    neutral = neutral_token_ids(encoder.tok, max(PILOT_KS))
    step("offset_stats", lambda: offset_statistics(model, ids, mask))
    step("position_vs_input", lambda: position_vs_input(model, ids, mask, neutral))
    step("offset_pca", lambda: offset_pca(model, ids, mask))
    one = torch.tensor([encoder.source(val[0])[: size["attention_tokens"]]], device=model.prompt.device)
    step("attention", lambda: attention_analysis(model, one))
    step("pilot", lambda: pilot_experiment(model, encoder, test[: size["pilot_examples"]],
                                           batch_size=cfg.eval_batch_size))

    def run_latency() -> dict:
        variants = _latency_variants(model, cfg)
        lists = [encoder.source(ex) for ex in val[: size["latency_examples"]]]
        out = latency(variants, lists, label_ids=encoder.label_ids or None, repeats=size["latency_repeats"])
        out["variants"] = {name: {"method": m.method, "num_virtual_tokens": m.num_virtual_tokens, "rank": m.rank,
                                  "from_run": m is model, "folded": name == "adept_folded"}
                           for name, m in variants.items()}
        return out

    step("latency", run_latency)
    meta = {"run_id": run_id, "run_status": status, "method": model.method, "backbone": cfg.backbone,
            "task": task.name, "sizes": size,
            "seconds": seconds, "total_seconds": time.perf_counter() - t_all, "artifacts": list(ARTIFACT_NAMES),
            "version": ANALYSIS_VERSION, "threads": torch.get_num_threads()}
    _log_json(run_id, meta, "meta")
    results["meta"] = meta
    return results


def summary_lines(res: dict) -> list[str]:
    """Human-readable key numbers of an :func:`analyze_run` result."""
    lines = []
    st, pv, pilot, att, lat = (res.get(k) or {} for k in ("offset_stats", "position_vs_input", "pilot",
                                                          "attention", "latency"))
    meta = res.get("meta", {})
    lines.append(f"run {meta.get('run_id')} ({meta.get('method')}, {meta.get('backbone')}, {meta.get('task')})")
    if st:
        ps = st["paper_stat"]
        lines.append(f"offsets: mean|Δ| {ps['offset']['mean']:.4g} ± {ps['offset']['std']:.4g} (across dims) vs "
                     f"|E| {ps['embedding']['mean']:.4g} ± {ps['embedding']['std']:.4g}; ||Δ||/||e|| mean "
                     f"{st['norms']['relative_mean']:.4g}; distinct offsets {st['distinct']['offset_vectors']} "
                     f"(tokens {st['distinct']['tokens_seen']}, positions {st['distinct']['positions_seen']})")
    if pv:
        lines.append(f"same token at other slots: max ||ΔΔ|| {pv['same_token']['max_difference']:.4g}; "
                     f"per-slot variance across inputs {pv['position_variance']['mean_variance']:.4g}")
    if pilot:
        for side, metrics in pilot["results"].items():
            vals = metrics[pilot["metric"]]
            lines.append(f"pilot ({side} padding) {pilot['metric']} at k={pilot['ks']}: "
                         + ", ".join(f"{v:.1f}" for v in vals))
    if att:
        lines.append(f"layer-1 relative attention change vs frozen: {att['relative_change']:.4g} "
                     f"({att['position_encoding']} positions)")
    if lat:
        lines.append("latency per example: " + ", ".join(f"{k} {v['median_ms']:.1f} ms"
                                                        for k, v in lat["models"].items()))
    return lines
