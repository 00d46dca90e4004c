"""Speed and memory figures, each a ratio measured side by side in one process (``python -m adept bench``).

Every timing figure runs its arms **A/B interleaved** (each round calls every arm once, in an order
rotated round by round, so drifting load from other processes hits all arms alike) and reports the
**median over rounds**, on one torch thread unless ``--threads`` says otherwise (see :func:`run_bench`).
Figures (one printed line each):

* ``dept/pt`` and ``adept/pt`` training-step time at an equal parameter budget (PT ``l = 100``, DePT /
  ADePT ``l = 60`` with ``r`` solved), same batch, one full optimizer step each (forward, backward,
  clipping, AdamW). Target: at most the sequence-length ratio ``(l_adept + n) / (l_pt + n)`` (``n`` =
  padded input length), since the offset network is tiny.
* ``ours-pt/peft-pt``: our PT against PEFT's ``PromptTuning`` on the same causal backbone, batch and
  prompt length. PEFT's causal-LM forward computes the vocabulary head at every position of
  ``[P ; x]`` (its logits include the virtual-token positions); ours only at the label positions. Target: at most 1.0.
* ``adept-folded/bare``: ADePT with its offsets folded into the embedding table against the bare backbone
  reading the same soft prompt (PT with ADePT's prompt), per-example inference latency. Target: 1.00
  within noise. ``adept-unfolded/adept-folded``: the runtime FFN's overhead.
* ``cached/uncached generation tokens/s`` and ``ours/bare-generate tokens/s`` (target >= 0.8) on the main
  causal backbone: :mod:`adept.bench_generation`.
* ``runs_dataframe/search_runs``: the Runs page's data path (:func:`adept.tracking.runs_dataframe`) against
  ``mlflow.search_runs`` on a temporary sqlite store holding 1,000 runs.
* peak RSS (``VmHWM``; ``resource.getrusage`` where /proc is missing) of a short default training run, in a
  child process.

``--quick`` uses the tiny random backbones (under a minute) and ends with the line
``adept/pt train-step ratio: <number>``; the full run uses minilm-l6 and smollm2-135m (a few minutes).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import torch

from adept.analysis import ab_timings, latency

PT_LENGTH = 100  # the paper's PT prompt; DePT / ADePT keep 60 and solve r at the same budget
SPLIT_LENGTH = 60


# ----- inputs -----------------------------------------------------------------------------------------


def training_batch(backbone, batch_size: int = 8, max_length: int = 128, task_name: str = "rotten-tomatoes",
                   offset: int = 0) -> dict[str, torch.Tensor]:
    """A real training batch (``Encoder.collate`` of the task's first training examples), right padded."""
    from adept.encoding import Encoder
    from adept.tasks import load_task

    task = load_task(task_name)
    enc = Encoder(task, backbone.tokenizer, backbone.kind, max_length)
    return enc.collate(task.splits["train"][offset:offset + batch_size], "right")


def _methods(backbone, max_length: int, num_labels: int | None) -> dict:
    """PT / DePT / ADePT at one budget (PT's 100 prompt tokens), with non-zero offsets."""
    from adept.methods import build_method

    budget = PT_LENGTH * backbone.d_model
    out = {}
    for method in ("pt", "dept", "adept"):
        m = build_method(method, backbone, None if method == "pt" else SPLIT_LENGTH, None, max_length,
                         budget=budget, num_labels=num_labels)
        _nonzero_offsets(m)
        out[method] = m
    return out


def _nonzero_offsets(model, seed: int = 0, scale: float = 0.05) -> None:
    """B starts at zero: give the offsets real values so nothing can be skipped as a no-op."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameter_groups()["offsets"]:
            p.copy_(torch.randn(p.shape, generator=g) * scale)


def train_step_fn(model, batch: dict[str, torch.Tensor], lr: float = 1e-3) -> Callable[[], float]:
    """One optimizer step exactly as the training loop does it (loss, backward, clip 1.0, AdamW)."""
    params = [p for group in model.parameter_groups().values() for p in group]
    opt = torch.optim.AdamW(params, lr=lr)

    def step() -> float:
        model.train()
        loss = model.loss(batch["input_ids"], batch["attention_mask"], batch["labels"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    return step


def peft_prompt_model(hf_model, num_virtual_tokens: int):
    """PEFT's ``PromptTuning`` around a causal LM (random init; the backbone stays frozen)."""
    from peft import PromptTuningConfig, TaskType, get_peft_model

    return get_peft_model(hf_model, PromptTuningConfig(task_type=TaskType.CAUSAL_LM,
                                                       num_virtual_tokens=num_virtual_tokens))


def peft_step_fn(peft_model, batch: dict[str, torch.Tensor], lr: float = 1e-3) -> Callable[[], float]:
    """One optimizer step of PEFT's PromptTuning (causal LM): logits over all ``l + n`` positions, then
    the loss on the same label tokens as ours (PEFT prepends -100 for the virtual tokens)."""
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)

    def step() -> float:
        peft_model.train()
        out = peft_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return out.loss.item()

    return step


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


# ----- figures ------------------------------------------------------------------------------------------


def _repeat(fn: Callable[[], object], k: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(k):
            fn()
    return run


def bench_train_step(backbone_name: str, *, repeats: int = 3, batch_size: int = 8, max_length: int = 128,
                     steps_per_round: int = 1) -> dict:
    """Train-step time of PT, DePT and ADePT at an equal budget on one batch, A/B interleaved.

    Returns ``{"backbone", "n", "l": {method: l}, "median_s": {method: s}, "ratio": {"dept/pt", "adept/pt"},
    "target": {"dept/pt", "adept/pt"}, "repeats"}`` with ``target = (l_method + n) / (l_pt + n)``.
    """
    from adept.backbones import load_backbone

    bb = load_backbone(backbone_name)
    batch = training_batch(bb, batch_size, max_length)
    models = _methods(bb, max_length, 2 if bb.kind == "encoder" else None)
    times = ab_timings({m: _repeat(train_step_fn(models[m], batch), steps_per_round) for m in models}, repeats)
    times = {m: [t / steps_per_round for t in ts] for m, ts in times.items()}
    med = {m: _med(ts) for m, ts in times.items()}
    n = int(batch["input_ids"].shape[1])
    ls = {m: models[m].num_virtual_tokens for m in models}
    return {
        "backbone": backbone_name, "n": n, "batch_size": batch_size, "l": ls,
        "rank": {m: models[m].rank for m in models}, "median_s": med, "rounds_s": times, "repeats": repeats,
        "ratio": {"dept/pt": med["dept"] / med["pt"], "adept/pt": med["adept"] / med["pt"]},
        "target": {"dept/pt": (ls["dept"] + n) / (ls["pt"] + n), "adept/pt": (ls["adept"] + n) / (ls["pt"] + n)},
    }


def bench_peft(backbone_name: str, *, repeats: int = 3, batch_size: int = 8, max_length: int = 128,
               num_virtual_tokens: int = PT_LENGTH, steps_per_round: int = 1) -> dict:
    """Our PT vs PEFT's PromptTuning on the same causal backbone, batch and prompt length, A/B interleaved.
    Returns ``{"backbone", "n", "l", "median_s": {"ours", "peft"}, "ratio": ours / peft, "repeats"}``."""
    from adept.backbones import load_backbone
    from adept.methods import build_method

    ours_bb = load_backbone(backbone_name)
    if ours_bb.kind != "causal":
        raise ValueError(f"The PEFT comparison needs a causal backbone, {backbone_name!r} is {ours_bb.kind}.")
    peft_bb = load_backbone(backbone_name)  # a separate copy: PEFT wraps the model it is given
    batch = training_batch(ours_bb, batch_size, max_length)
    ours = build_method("pt", ours_bb, num_virtual_tokens, None, max_length)
    peft = peft_step_fn(peft_prompt_model(peft_bb.model, num_virtual_tokens), batch)
    times = ab_timings({"ours": _repeat(train_step_fn(ours, batch), steps_per_round),
                        "peft": _repeat(peft, steps_per_round)}, repeats)
    times = {k: [t / steps_per_round for t in ts] for k, ts in times.items()}
    med = {k: _med(v) for k, v in times.items()}
    return {"backbone": backbone_name, "n": int(batch["input_ids"].shape[1]), "l": num_virtual_tokens,
            "median_s": med, "rounds_s": times, "ratio": med["ours"] / med["peft"], "repeats": repeats}


def bench_inference(backbone_name: str, *, repeats: int = 5, examples: int = 8, max_length: int = 128) -> dict:
    """Per-example latency (batch 1) of ADePT folded, the bare backbone with the same soft prompt, and ADePT
    unfolded. Returns ``{"backbone", "median_ms": {...}, "ratio": {"folded/bare", "unfolded/folded"},
    "max_abs_diff": folded vs unfolded scores}``."""
    from adept.backbones import load_backbone
    from adept.encoding import Encoder
    from adept.methods import PromptTunedModel
    from adept.tasks import load_task

    bb = load_backbone(backbone_name)
    num_labels = 2 if bb.kind == "encoder" else None
    adept = _methods(bb, max_length, num_labels)["adept"].eval()
    folded = adept.fold()
    bare = PromptTunedModel(bb, "pt", adept.num_virtual_tokens, 0, max_length, num_labels=num_labels)
    with torch.no_grad():
        bare.prompt.copy_(adept.prompt)
        if bare.head is not None:
            bare.head.load_state_dict(adept.head.state_dict())
    task = load_task("rotten-tomatoes")
    enc = Encoder(task, bb.tokenizer, bb.kind, max_length)
    lists = [enc.source(ex) for ex in task.splits["validation"][:examples]]
    label_ids = enc.label_ids or None
    res = latency({"folded": folded, "bare": bare, "unfolded": adept}, lists, label_ids=label_ids, repeats=repeats)
    with torch.no_grad():
        x = torch.tensor([lists[0]])
        from adept.analysis import _infer

        diff = float((_infer(adept, x, torch.ones_like(x), label_ids)
                      - _infer(folded, x, torch.ones_like(x), label_ids)).abs().max())
    med = {k: v["median_ms"] for k, v in res["models"].items()}
    return {"backbone": backbone_name, "examples": examples, "repeats": repeats, "median_ms": med,
            "ratio": {"folded/bare": med["folded"] / med["bare"], "unfolded/folded": med["unfolded"] / med["folded"]},
            "max_abs_diff": diff, "l": adept.num_virtual_tokens}


def populate_store(uri: str, n_runs: int = 1000, experiment: str = "bench-runs", seed: int = 0) -> str:
    """Fill an MLflow sqlite store with ``n_runs`` finished runs shaped like ours (every RunConfig field as a
    param, ~15 latest metrics, the ``adept.*`` tags). Tables are created by ``MlflowClient``; the rows are
    written in one transaction through MLflow's own SQLAlchemy models (``MlflowClient.log_batch`` costs
    ~0.1 s per run on sqlite here, 100 s for 1,000). Returns the experiment id."""
    import random

    import sqlalchemy
    from mlflow import MlflowClient
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

    from adept.config import RunConfig

    client = MlflowClient(tracking_uri=uri)
    db = tracking_sqlite_path(uri)
    art = (db.parent if db else Path(tempfile.mkdtemp(prefix="adept-bench-art-"))) / "artifacts"
    exp_id = client.create_experiment(experiment, artifact_location=art.as_uri())
    rng = random.Random(seed)
    base = {k: v for k, v in RunConfig().to_dict().items() if k != "extra"}
    now = int(time.time() * 1000)
    runs, params, metrics, latest, tags = [], [], [], [], []
    for i in range(n_runs):
        rid = uuid.uuid4().hex
        method = ("pt", "dept", "adept")[i % 3]
        seed_i = i % 5
        start = now - (n_runs - i) * 60_000
        name = f"{method}-rotten-tomatoes-s{seed_i}-{i}"
        runs.append({"run_uuid": rid, "name": name, "source_type": "LOCAL", "source_name": "", "entry_point_name": "",
                     "user_id": "bench", "status": "FINISHED", "start_time": start, "end_time": start + 50_000,
                     "deleted_time": None, "source_version": "", "lifecycle_stage": "active",
                     "artifact_uri": f"{art.as_uri()}/{rid}/artifacts", "experiment_id": int(exp_id)})
        p = {**base, "method": method, "seed": seed_i, "lr_prompt": rng.choice([0.03, 0.3]),
             "solved.num_virtual_tokens": 100 if method == "pt" else 60, "solved.rank": 0 if method == "pt" else 19,
             "trainable_params": 57600, "d_model": 576, "version.torch": torch.__version__, "git_commit": "bench"}
        params += [{"key": k, "value": str(v), "run_uuid": rid} for k, v in p.items()]
        m = {"train/loss": rng.random(), "val/accuracy": 50 + 40 * rng.random(), "val/f1": 50 + 40 * rng.random(),
             "test/accuracy": 50 + 40 * rng.random(), "test/f1": 50 + 40 * rng.random(), "best/step": 300.0,
             "time/step_s": 3 * rng.random(), "time/tokens_per_s": 500 * rng.random(), "time/total_s": 900.0,
             "time/train_s": 800.0, "time/mean_step_s": 2.9, "lr/prompt": 0.0, "lr/offsets": 0.0,
             "zero_shot/accuracy": 67.5, "best/val_accuracy": 80.0}
        for k, v in m.items():
            row = {"key": k, "value": v, "timestamp": start + 50_000, "step": 300, "is_nan": False, "run_uuid": rid}
            metrics.append(row)
            latest.append(dict(row))
        t = {"mlflow.runName": name, "adept.method": method, "adept.backbone": "smollm2-135m",
             "adept.task": "rotten-tomatoes", "adept.seed": str(seed_i), "adept.sweep": f"sweep-{i // 30}",
             "adept.progress": "300/300", "adept.pid": "1", "adept.host": "bench", "mlflow.user": "bench",
             "adept.command": f"python -m adept train --method {method} --seed {seed_i}"}
        tags += [{"key": k, "value": v, "run_uuid": rid} for k, v in t.items()]
    engine = sqlalchemy.create_engine(uri)
    with engine.begin() as conn:
        for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlMetric, metrics), (SqlLatestMetric, latest),
                            (SqlTag, tags)):
            conn.execute(model.__table__.insert(), rows)
    engine.dispose()
    return exp_id


def tracking_sqlite_path(uri: str) -> Path | None:
    from adept.tracking import _sqlite_path

    return _sqlite_path(uri)


def bench_runs_page(n_runs: int = 1000, repeats: int = 3, workdir: str | Path | None = None) -> dict:
    """``adept.tracking.runs_dataframe`` vs ``mlflow.search_runs`` on a temporary store with ``n_runs`` runs,
    A/B interleaved. The store lives in ``workdir`` (kept; its ``uri`` is returned) or in a temporary folder
    removed at the end. Returns ``{"runs", "median_s": {"runs_dataframe", "search_runs"}, "ratio", "write_s",
    "uri"}``."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="adept-bench-store-") as tmp:
            return bench_runs_page(n_runs, repeats, tmp)
    import mlflow

    from adept import tracking

    uri = f"sqlite:///{Path(workdir).resolve() / 'mlflow.db'}"
    t0 = time.perf_counter()
    exp_id = populate_store(uri, n_runs)
    write_s = time.perf_counter() - t0
    previous = mlflow.get_tracking_uri() if "MLFLOW_TRACKING_URI" in os.environ else None
    mlflow.set_tracking_uri(uri)
    try:
        counts = {}

        def ours():
            counts["ours"] = len(tracking.runs_dataframe(uri=uri))

        def theirs():
            counts["mlflow"] = len(mlflow.search_runs(experiment_ids=[exp_id], max_results=100_000))

        times = ab_timings({"runs_dataframe": ours, "search_runs": theirs}, repeats, warmup=0)
    finally:
        mlflow.set_tracking_uri(previous) if previous else mlflow.set_tracking_uri(None)
    if counts.get("ours") != n_runs or counts.get("mlflow") != n_runs:
        raise RuntimeError(f"Store should hold {n_runs} runs; runs_dataframe saw {counts.get('ours')}, "
                           f"search_runs {counts.get('mlflow')}.")
    med = {k: _med(v) for k, v in times.items()}
    return {"runs": n_runs, "median_s": med, "rounds_s": times, "ratio": med["runs_dataframe"] / med["search_runs"],
            "write_s": write_s, "repeats": repeats, "uri": uri}


def bench_memory(overrides: dict | None = None, timeout: float = 300, uri: str | None = None) -> dict:
    """Peak RSS of a short default training run (``RunConfig()`` + ``overrides``) in a child process with a
    temporary MLflow store (or the sqlite store ``uri``, whose tables already exist: saves MLflow's
    few-second schema migration). Returns ``{"config": {...}, "peak_rss_mib", "baseline_rss_mib" (after imports),
    "seconds"}``."""
    cfg = {"max_steps": 3, "eval_every": 3, "warmup_steps": 0, "eval_examples": 8, "test_examples": 8,
           "zero_shot": False, "experiment": "bench-memory", **(overrides or {})}
    code = "import sys, adept.bench as b; b._memory_child(sys.argv[1])"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adept-bench-mem-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri or f"sqlite:///{tmp}/mlflow.db", "ADEPT_HOME": tmp,
               "TRANSFORMERS_VERBOSITY": "error"}
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg)], capture_output=True, text=True,
                              env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed: {proc.stderr[-2000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    return {"config": cfg, **json.loads(line), "seconds": time.perf_counter() - t0}


def _rss_mib() -> float:
    """Peak resident set size of this process so far, MiB: ``VmHWM`` of ``/proc/self/status`` where it exists.

    ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is the fallback only: on Linux it carries the *parent's*
    peak across fork + exec (a child of a 1 GiB process reports >= 1 GiB before doing anything).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _memory_child(config_json: str) -> dict:
    import mlflow  # noqa: F401 - imported before the baseline, like a real run process

    from adept.config import RunConfig
    from adept.training import train

    baseline = _rss_mib()
    cfg = RunConfig.from_dict(json.loads(config_json))
    res = train(cfg, progress=False)
    out = {"baseline_rss_mib": baseline, "peak_rss_mib": _rss_mib(), "backbone": cfg.backbone, "method": cfg.method,
           "batch_size": cfg.batch_size, "max_length": cfg.max_length, "steps": res["steps"]}
    print(json.dumps(out), flush=True)
    return out


# ----- the report -----------------------------------------------------------------------------------------


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"python {platform.python_version()}, load avg {load:.2f}")


def train_step_lines(r: dict) -> list[str]:
    n, ls, med = r["n"], r["l"], r["median_s"]
    detail = (f"n={n}, batch {r['batch_size']}, l pt/dept/adept = {ls['pt']}/{ls['dept']}/{ls['adept']}, "
              f"r dept/adept = {r['rank']['dept']}/{r['rank']['adept']}; medians of {r['repeats']} A/B rounds: "
              f"pt {med['pt']:.3f} s, dept {med['dept']:.3f} s, adept {med['adept']:.3f} s")
    return [
        f"[{r['backbone']}] dept/pt train-step ratio: {r['ratio']['dept/pt']:.3f}  "
        f"(target <= ({ls['dept']}+{n})/({ls['pt']}+{n}) = {r['target']['dept/pt']:.3f}; {detail})",
        f"[{r['backbone']}] adept/pt train-step ratio: {r['ratio']['adept/pt']:.3f}  "
        f"(target <= ({ls['adept']}+{n})/({ls['pt']}+{n}) = {r['target']['adept/pt']:.3f})",
    ]


def run_bench(quick: bool = False, out: Callable[[str], None] = print, runs: int = 1000,
              repeats: int | None = None, threads: int | None = 1) -> dict:
    """Measure every figure and print one line each; the last line is ``adept/pt train-step ratio: <x>``
    for the default backbone (tiny-llama with ``quick``, smollm2-135m otherwise). ``runs``: runs in the
    temporary store of the Runs-page figure; ``repeats`` overrides every figure's A/B rounds (1 step each).
    ``threads``: torch threads while timing (default 1: the figures are ratios, and on a machine shared with
    other jobs a multi-threaded step is dominated by threads waiting for a descheduled sibling, which one
    thread is not; None or 0 keeps torch's default). Returns all results (``seconds``: wall time per figure).
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_bench(quick, out, runs, repeats)
    finally:
        torch.set_num_threads(previous)


def _run_bench(quick: bool, out: Callable[[str], None], runs: int, repeats: int | None) -> dict:
    t_all = time.perf_counter()
    torch.manual_seed(0)
    if quick:
        plan = {"train": ["tiny-llama"], "peft": "tiny-llama", "inference": ["tiny-llama"], "main": "tiny-llama",
                "repeats": 9, "peft_repeats": 5, "inf_repeats": 5, "inner": 3, "peft_inner": 1,
                "memory": {"backbone": "tiny-llama"}}
    else:
        plan = {"train": ["minilm-l6", "smollm2-135m"], "peft": "smollm2-135m",
                "inference": ["minilm-l6", "smollm2-135m"], "main": "smollm2-135m", "repeats": 3,
                "peft_repeats": 2, "inf_repeats": 3, "inner": 1, "peft_inner": 1, "memory": {},
                "inf_examples": {"smollm2-135m": 4}}
    if repeats:
        plan.update(repeats=repeats, peft_repeats=repeats, inf_repeats=repeats, inner=1, peft_inner=1)
    out(f"# adept bench{' --quick' if quick else ''}: {machine_line()}")
    results: dict = {"quick": quick, "machine": machine_line(), "train": {}, "inference": {}, "seconds": {}}

    def timed(key: str, fn: Callable[[], dict]) -> dict:
        t0 = time.perf_counter()
        r = fn()
        results["seconds"][key] = time.perf_counter() - t0
        return r

    for name in plan["train"]:
        r = results["train"][name] = timed(f"train/{name}", lambda n=name: bench_train_step(
            n, repeats=plan["repeats"], steps_per_round=plan["inner"]))
        for line in train_step_lines(r):
            out(line)
    r = results["peft"] = timed("peft", lambda: bench_peft(plan["peft"], repeats=plan["peft_repeats"],
                                                           steps_per_round=plan["peft_inner"]))
    out(f"[{r['backbone']}] ours-pt/peft-pt train-step ratio: {r['ratio']:.3f}  (target <= 1.0; l={r['l']}, "
        f"n={r['n']}, batch 8; medians of {r['repeats']} A/B rounds: ours {r['median_s']['ours']:.3f} s, "
        f"peft {r['median_s']['peft']:.3f} s)")
    for name in plan["inference"]:
        r = results["inference"][name] = timed(f"inference/{name}",
                                               lambda n=name: bench_inference(
            n, repeats=plan["inf_repeats"], examples=plan.get("inf_examples", {}).get(n, 8)))
        med = r["median_ms"]
        out(f"[{name}] adept-folded/bare inference ratio: {r['ratio']['folded/bare']:.3f}  (target 1.00 within "
            f"noise; batch 1, l={r['l']}, {r['examples']} inputs, medians of {r['repeats']} A/B rounds: folded "
            f"{med['folded']:.2f} ms, bare {med['bare']:.2f} ms; max |folded - unfolded| = {r['max_abs_diff']:.1e})")
        out(f"[{name}] adept-unfolded/adept-folded inference ratio: {r['ratio']['unfolded/folded']:.3f}  "
            f"(runtime FFN overhead {100 * (r['ratio']['unfolded/folded'] - 1):+.1f}%: unfolded "
            f"{med['unfolded']:.2f} ms)")
    from adept.bench_generation import bench_generation, generation_lines

    r = results["generation"] = timed("generation", lambda: bench_generation(
        plan["main"], repeats=repeats or (5 if quick else 3), new_tokens=16 if quick else 8))
    for line in generation_lines(r):
        out(line)
    from adept.bench_speed import speed_figures  # bf16/fp32 step ratio, estimate/actual wall time

    results["speed"] = speed_figures(plan, out, timed, repeats)
    work = tempfile.TemporaryDirectory(prefix="adept-bench-")
    r = results["runs_page"] = timed("runs_page", lambda: bench_runs_page(runs, repeats=3, workdir=work.name))
    out(f"runs_dataframe/search_runs time ratio: {r['ratio']:.3f}  ({r['runs']} runs; runs_dataframe "
        f"{r['median_s']['runs_dataframe']:.3f} s, mlflow.search_runs {r['median_s']['search_runs']:.3f} s, "
        f"medians of {r['repeats']} A/B rounds; store written in {r['write_s']:.1f} s)")
    try:
        r = results["memory"] = timed("memory", lambda: bench_memory(plan["memory"], uri=results["runs_page"]["uri"]))
    finally:
        work.cleanup()
    c = r["config"]
    out(f"peak RSS of a default training run: {r['peak_rss_mib']:.0f} MiB  ({r['backbone']}, {r['method']}, "
        f"batch {r['batch_size']}, max_length {r['max_length']}, {c['max_steps']} steps + evals of "
        f"{c['eval_examples']} examples; {r['baseline_rss_mib']:.0f} MiB after imports)")
    main = results["train"][plan["main"]]
    results["seconds"]["total"] = time.perf_counter() - t_all
    parts = ", ".join(f"{k} {v:.0f}" for k, v in results["seconds"].items())
    out(f"# seconds: {parts}; adept/pt below is [{plan['main']}], target <= {main['target']['adept/pt']:.3f}")
    out(f"adept/pt train-step ratio: {main['ratio']['adept/pt']:.3f}")
    return results


def add_bench_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help="tiny backbones, under a minute")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing (0 = torch default)")
    parser.add_argument("--json", help="also write every measurement to this JSON file")


def cli_bench(args) -> int:
    """``python -m adept bench [--quick] [--threads N] [--json FILE]``."""
    results = run_bench(quick=getattr(args, "quick", False), out=lambda s: print(s, flush=True),
                        threads=getattr(args, "threads", 1))
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def register_cli(subparsers) -> None:
    """Add ``bench`` to ``python -m adept``'s subparsers (one call from adept/__main__.py)."""
    p = subparsers.add_parser("bench", help="speed / memory figures, A/B interleaved medians")
    add_bench_arguments(p)
    p.set_defaults(func=cli_bench)
