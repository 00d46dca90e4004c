"""Launch: a form that queues PT / DePT / ADePT runs, with the equal-budget solution and a time estimate
shown live before anything is launched. Runs go to ``adept.launcher``'s queue (one OS process each)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import streamlit as st

from app import charts, common

training = common.module("training")
budget_mod = common.module("budget")
backbones = common.module("backbones")
tasks_mod = common.module("tasks")

METHODS = ("pt", "dept", "adept")
UPLOAD = "your own file (csv / jsonl / parquet)"
OTHER_BACKBONE = "other: hub id or local folder"
K = "launch."  # widget-key prefix
MODE_BUDGET, MODE_LR = "Parameter budget (solve l, r)", "Set l and r myself"

# Form fields -> default, before a preset is applied. Text fields hold learning rates and seeds as typed.
BASE = {
    "methods": list(METHODS),
    "backbone": "minilm-l6",
    "backbone_other": "",
    "task": "rotten-tomatoes",
    "data_path": "",
    "data_dir": "",
    "text_column": "text",
    "text_pair_column": "",
    "label_column": "label",
    "mode": MODE_BUDGET,
    "budget": 38400,
    "l_pt": 100,
    "num_virtual_tokens": 60,
    "rank": 8,
    "max_length": 64,
    "lr_prompt": "0.3",
    "lr_offsets": "1e-4",
    "lr_head": "1e-3",
    "max_steps": 150,
    "batch_size": 8,
    "seeds": "0",
    "warmup_steps": 15,
    "eval_every": 25,
    "eval_examples": 200,
    "test_examples": 0,
    "early_stopping_patience": 0,
    "init": "text",
    "zero_shot": True,
    "experiment": "adept-lab",
    "sweep": "",
}


def preset_values(name: str) -> dict:
    """Form values of preset ``name`` (``adept.training.PRESETS``) on top of :data:`BASE`."""
    preset = dict(getattr(training, "PRESETS", {}).get(name, {}))
    vals = dict(BASE)
    for key in (
        "backbone",
        "task",
        "budget",
        "num_virtual_tokens",
        "max_length",
        "batch_size",
        "max_steps",
        "warmup_steps",
        "eval_every",
        "eval_examples",
        "early_stopping_patience",
        "init",
        "zero_shot",
    ):
        if preset.get(key) is not None:
            vals[key] = preset[key]
    for key in ("lr_prompt", "lr_offsets", "lr_head"):
        if key in preset:
            vals[key] = f"{preset[key]:g}"
    vals["test_examples"] = preset.get("test_examples") or 0
    d = backbones.BACKBONE_INFO.get(vals["backbone"], {}).get("d_model")
    if d:
        vals["l_pt"] = int(vals["budget"]) // d
    return vals


def apply_preset() -> None:
    vals = preset_values(st.session_state[K + "preset"])
    st.session_state["launch_vals"] = vals
    for field, value in vals.items():
        st.session_state[K + field] = value


def use_paper_budget(d: int) -> None:
    st.session_state[K + "budget"] = 100 * d
    st.session_state[K + "l_pt"] = 100


# Widget values live in st.session_state["launch_vals"] as well, so they survive a visit to another page
# (Streamlit forgets the state of widgets that were not drawn in a run).
VALS: dict = st.session_state.setdefault("launch_vals", preset_values("quick"))
for _field, _value in VALS.items():
    st.session_state.setdefault(K + _field, _value)


@st.cache_data(show_spinner=False)
def d_model_of(name: str) -> int | None:
    return backbones.backbone_d_model(name)


@st.cache_data(show_spinner="Checking the data file…", max_entries=32)
def check_data_file(
    path: str, mtime: float, text_column: str, text_pair_column: str, label_column: str
) -> tuple[str | None, str | None]:
    """``(description, None)`` when ``adept.tasks.load_task`` accepts the file, else ``(None, error)``."""
    try:
        task = tasks_mod.load_task(
            path,
            text_column=text_column or "text",
            text_pair_column=text_pair_column or None,
            label_column=label_column or "label",
        )
    except ValueError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken file must not break the page
        return None, f"could not read the file: {type(exc).__name__}: {exc}"
    return task.description, None


@st.cache_data(show_spinner="Checking the task's data…", max_entries=32)
def check_registry_task(name: str, data_dir: str) -> str | None:
    """None when the registry task loads (offline data or ``data_dir`` files), else the error message."""
    try:
        tasks_mod.load_task(name, data_dir=data_dir or None)
    except ValueError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return f"could not load task {name!r}: {type(exc).__name__}: {exc}"
    return None


def save_upload(upload) -> Path:
    """Store an upload as ``<ADEPT_HOME>/uploads/<sha>-<name>`` (the run processes read it from there)."""
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload.name).name) or "data"
    folder = common.module("tracking").adept_home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}-{safe}"
    if not path.exists():
        path.write_bytes(data)
    return path


def parse_float(text: str, name: str, errors: dict) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        errors[name] = f"{text!r} is not a number — type e.g. 0.3 or 1e-4"
        return None
    return value


def parse_seeds(text: str, errors: dict) -> list[int]:
    parts = [p for p in re.split(r"[,\s]+", str(text).strip()) if p]
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        errors["seed"] = f"{text!r} — list whole numbers separated by commas, e.g. 0, 1, 2"
        return []
    if not seeds:
        errors["seed"] = "no seed — give at least one, e.g. 0"
    elif any(s < 0 for s in seeds):
        errors["seed"] = "seeds must be >= 0"
    elif len(set(seeds)) != len(seeds):
        errors["seed"] = "a seed is listed twice — each seed once"
    return list(dict.fromkeys(seeds))


# ======================================================================================================
# The page

st.title("Launch runs")
st.caption(
    "Pick what to train; the equal-budget solution and the time estimate update as you type. "
    "Each run is its own process in a queue, so closing this tab never stops it."
)

form, side = st.columns([3, 2], gap="large")
slot: dict[str, object] = {}  # field -> placeholder under its widget, filled with that field's error

with form:
    presets = list(getattr(training, "PRESETS", {}) or {"quick": {}})
    notes = getattr(training, "PRESET_NOTES", {})
    st.session_state.setdefault(K + "preset", "quick" if "quick" in presets else presets[0])
    st.selectbox(
        "Preset (fills the form)",
        presets,
        key=K + "preset",
        on_change=apply_preset,
        help="quick: MiniLM-L6, about a minute a run on CPU. faithful: SmolLM2-135M, the paper's recipe "
        "scaled down.",
    )
    chosen_preset = st.session_state[K + "preset"]
    edited = [f for f, v in preset_values(chosen_preset).items() if st.session_state.get(K + f, v) != v]
    if edited:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(
            f"Edited from the {chosen_preset} preset: {', '.join(f.replace('_', ' ') for f in edited[:4])}"
            f"{', …' if len(edited) > 4 else ''}."
        )
        c2.button(
            "Reset",
            key=K + "reset",
            on_click=apply_preset,
            width="stretch",
            help=f"Fill the form with the {chosen_preset} preset again.",
        )
    elif notes.get(chosen_preset):
        st.caption(notes[chosen_preset])

    st.subheader("What to train", divider="gray")
    methods = st.multiselect(
        "Methods",
        list(METHODS),
        key=K + "methods",
        format_func=charts.method_label,
        help="Used by the Launch button; “Compare all three” always runs PT, DePT and ADePT.",
    )
    slot["method"] = st.empty()

    b1, b2 = st.columns(2)
    with b1:
        bb_options = list(backbones.BACKBONE_INFO) + [OTHER_BACKBONE]
        if st.session_state[K + "backbone"] not in bb_options:
            st.session_state[K + "backbone"] = bb_options[0]
        bb_choice = st.selectbox("Backbone", bb_options, key=K + "backbone")
        if bb_choice == OTHER_BACKBONE:
            backbone = st.text_input(
                "Hub id or local model folder",
                key=K + "backbone_other",
                placeholder="e.g. /models/my-t5 or google-t5/t5-small",
            ).strip()
        else:
            backbone = bb_choice
            st.caption(backbones.BACKBONE_INFO[bb_choice].get("description", ""))
        slot["backbone"] = st.empty()
    with b2:
        task_names = list(tasks_mod.list_tasks())
        task_options = task_names + [UPLOAD]
        if st.session_state[K + "task"] not in task_options:
            st.session_state[K + "task"] = task_options[0]
        task_choice = st.selectbox("Task", task_options, key=K + "task")
        descriptions = tasks_mod.task_descriptions() if hasattr(tasks_mod, "task_descriptions") else {}
        if task_choice != UPLOAD and descriptions.get(task_choice):
            st.caption(descriptions[task_choice])
        slot["task"] = st.empty()

    data_file: str | None = None
    task_note = None
    if task_choice == UPLOAD:
        upload = st.file_uploader(
            "Data file",
            type=["csv", "jsonl", "parquet"],
            key=K + "upload",
            help="One row per example: a text column and a label column; an optional "
            "'split' column (train / validation / test), else an 80/10/10 split.",
        )
        path_typed = st.text_input(
            "…or the path of a file on this machine", key=K + "data_path", placeholder="/data/reviews.csv"
        ).strip()
        c1, c2, c3 = st.columns(3)
        text_col = c1.text_input("Text column", key=K + "text_column")
        pair_col = c2.text_input("Second text column (optional)", key=K + "text_pair_column")
        label_col = c3.text_input("Label column", key=K + "label_column")
        if upload is not None:
            data_file = str(save_upload(upload))
        elif path_typed:
            data_file = str(Path(path_typed).expanduser().resolve())
        slot["data_file"] = st.empty()
    elif task_choice not in getattr(tasks_mod, "OFFLINE_TASKS", ()):
        st.text_input(
            "Folder with the task's files (train / validation csv, jsonl or parquet)",
            key=K + "data_dir",
            help="Paper tasks need local files offline; online they come from the Hugging Face hub.",
        )
        slot["data_dir"] = st.empty()

    st.subheader("Budget", divider="gray")
    mode = st.radio(
        "How to size the methods",
        [MODE_BUDGET, MODE_LR],
        key=K + "mode",
        horizontal=True,
        label_visibility="collapsed",
    )
    c1, c2, c3 = st.columns(3)
    d = d_model_of(backbone) if backbone else None
    if mode == MODE_BUDGET:
        with c1:
            budget = int(
                st.number_input(
                    "Trainable parameters (budget)",
                    min_value=1,
                    step=1000,
                    key=K + "budget",
                    help="Soft prompt + offsets. The paper: PT's 100 tokens, i.e. 100 × d.",
                )
            )
            slot["budget"] = st.empty()
        with c2:
            l_m = int(
                st.number_input(
                    "DePT / ADePT prompt length l",
                    min_value=0,
                    step=1,
                    key=K + "num_virtual_tokens",
                    help="The rest of the budget goes to the offsets' rank r. Paper: 60.",
                )
            )
            slot["num_virtual_tokens"] = st.empty()
        l_pt, rank = None, None
        if d:
            st.caption(
                f"Paper's protocol for this backbone: budget = 100 × d = {100 * d:,} (PT with 100 tokens)."
            )
            if int(budget) != 100 * d:
                st.button("Use 100 × d", on_click=use_paper_budget, args=(d,), key=K + "paper_budget")
    else:
        with c1:
            l_pt = int(st.number_input("PT prompt length", min_value=1, step=1, key=K + "l_pt"))
        with c2:
            l_m = int(
                st.number_input(
                    "DePT / ADePT prompt length l", min_value=0, step=1, key=K + "num_virtual_tokens"
                )
            )
            slot["num_virtual_tokens"] = st.empty()
        with c1:
            rank = int(st.number_input("DePT / ADePT rank r", min_value=1, step=1, key=K + "rank"))
            slot["rank"] = st.empty()
        budget = l_pt * d if d else None
    with c3:
        max_length = int(
            st.number_input(
                "Max input tokens s",
                min_value=8,
                max_value=4096,
                step=8,
                key=K + "max_length",
                help="Inputs are truncated to s tokens; DePT's position table has s rows.",
            )
        )
        slot["max_length"] = st.empty()

    st.subheader("Training", divider="gray")
    c1, c2, c3 = st.columns(3)
    with c1:
        lr_prompt_text = st.text_input("Learning rate, soft prompt", key=K + "lr_prompt", help="Paper: 3e-1.")
        slot["lr_prompt"] = st.empty()
    with c2:
        lr_offsets_text = st.text_input("Learning rate, offsets", key=K + "lr_offsets", help="Paper: 1e-4.")
        slot["lr_offsets"] = st.empty()
    with c3:
        seeds_text = st.text_input(
            "Seeds", key=K + "seeds", help="Comma-separated; one run per method and seed."
        )
        slot["seed"] = st.empty()
    c1, c2, c3 = st.columns(3)
    with c1:
        max_steps = int(st.number_input("Steps", min_value=1, step=10, key=K + "max_steps"))
        slot["max_steps"] = st.empty()
    with c2:
        batch_size = int(st.number_input("Batch size", min_value=1, step=1, key=K + "batch_size"))
        slot["batch_size"] = st.empty()
    with c3:
        eval_every = int(st.number_input("Evaluate every (steps)", min_value=1, step=5, key=K + "eval_every"))
        slot["eval_every"] = st.empty()

    with st.expander("More settings"):
        c1, c2, c3 = st.columns(3)
        with c1:
            warmup = int(st.number_input("Warmup steps", min_value=0, step=5, key=K + "warmup_steps"))
            slot["warmup_steps"] = st.empty()
            lr_head_text = st.text_input(
                "Learning rate, classification head",
                key=K + "lr_head",
                help="Only encoder backbones (MiniLM, BERT) have a head.",
            )
            slot["lr_head"] = st.empty()
        with c2:
            eval_examples = int(
                st.number_input(
                    "Validation examples per evaluation", min_value=1, step=50, key=K + "eval_examples"
                )
            )
            slot["eval_examples"] = st.empty()
            test_examples = int(
                st.number_input("Test examples (0 = all)", min_value=0, step=100, key=K + "test_examples")
            )
            slot["test_examples"] = st.empty()
        with c3:
            patience = int(
                st.number_input(
                    "Early stopping patience (evaluations, 0 = off)",
                    min_value=0,
                    step=1,
                    key=K + "early_stopping_patience",
                )
            )
            slot["early_stopping_patience"] = st.empty()
            init = st.selectbox("Prompt initialisation", ["text", "random"], key=K + "init")
            slot["init"] = st.empty()
        c1, c2, c3 = st.columns(3)
        experiment = c1.text_input("MLflow experiment", key=K + "experiment").strip() or "adept-lab"
        sweep_name = c2.text_input("Sweep name (groups the runs; empty = automatic)", key=K + "sweep").strip()
        zero_shot = c3.checkbox("Score the untrained prompt (zero-shot) first", key=K + "zero_shot")

# Keep the values for the next visit.
for _field in VALS:
    if K + _field in st.session_state:
        VALS[_field] = st.session_state[K + _field]

# ------------------------------------------------------------------------------------------------------
# Build the configs and check them (errors go next to their fields)

errors: dict[str, str] = {}
lr_prompt = parse_float(lr_prompt_text, "lr_prompt", errors)
lr_offsets = parse_float(lr_offsets_text, "lr_offsets", errors)
lr_head = parse_float(lr_head_text, "lr_head", errors)
seeds = parse_seeds(seeds_text, errors)
if not backbone:
    errors["backbone"] = "empty — type a hub id or a local model folder"
elif d is None:
    errors["backbone"] = (
        f"cannot tell the width of {backbone!r} — use a registry name, a local model folder, "
        "or a hub id while online"
    )
if task_choice == UPLOAD:
    if not data_file:
        errors["data_file"] = "upload a file or type its path"
    elif not Path(data_file).is_file():
        errors["data_file"] = f"{data_file} does not exist — check the path"
    else:
        task_note, err = check_data_file(
            data_file, Path(data_file).stat().st_mtime, text_col, pair_col, label_col
        )
        if err:
            errors["data_file"] = err


def config_for(method: str, seed: int, *, same_budget: bool = False, sweep: str = "") -> dict:
    """The RunConfig dict of one run from the form (``same_budget``: l, r solved from one budget)."""
    cfg = {
        "method": method,
        "backbone": backbone,
        "max_length": max_length,
        "lr_prompt": lr_prompt,
        "lr_offsets": lr_offsets,
        "lr_head": lr_head,
        "batch_size": batch_size,
        "max_steps": max_steps,
        "warmup_steps": warmup,
        "eval_every": eval_every,
        "eval_examples": eval_examples,
        "test_examples": test_examples or None,
        "early_stopping_patience": patience,
        "init": init,
        "zero_shot": bool(zero_shot),
        "seed": seed,
        "experiment": experiment,
        "sweep": sweep,
    }
    if task_choice == UPLOAD:
        cfg.update(
            task="",
            data_file=data_file,
            text_column=text_col or "text",
            text_pair_column=pair_col or None,
            label_column=label_col or "label",
        )
    else:
        cfg.update(task=task_choice, data_dir=VALS.get("data_dir") or None)
    if mode == MODE_BUDGET or same_budget:
        cfg.update(budget=budget, num_virtual_tokens=None if method == "pt" else l_m, rank=None)
    elif method == "pt":
        cfg.update(budget=None, num_virtual_tokens=l_pt, rank=None)
    else:
        cfg.update(budget=None, num_virtual_tokens=l_m, rank=rank)
    return cfg


def check(configs: list[dict]) -> dict[str, str]:
    """``{field: message}`` of every config (messages of different methods joined), plus the form's own."""
    found: dict[str, list[str]] = {}
    for cfg in configs:
        try:
            rc = training.RunConfig.from_dict(cfg)
            problems = rc.field_errors()
        except (TypeError, ValueError) as exc:
            problems = {"general": str(exc)}
        for field, msg in problems.items():
            if msg not in found.setdefault(field, []):
                found[field].append(msg)
    return {f: " · ".join(m) for f, m in found.items()}


if not errors and lr_prompt is not None and d is not None:
    probe = [config_for(m, seeds[0] if seeds else 0) for m in (methods or METHODS)]
    for field, msg in check(probe).items():
        errors.setdefault(field, msg)
if not methods:
    errors.setdefault("method", "pick at least one method (or use “Compare all three”)")

general = []
for field, msg in errors.items():
    target = slot.get(field)
    if target is None and field == "data_file":
        target = slot.get("task")
    if target is None and field == "task" and "data_file" in slot:
        target = slot["data_file"]
    if target is not None:
        target.error(msg, icon=":material/error:")
    else:
        general.append(f"**{field}**: {msg}")

# ------------------------------------------------------------------------------------------------------
# Preview: equal-budget table, time estimate, launch buttons

with side:
    st.subheader("Before you launch", divider="gray")
    rows = None
    if d is not None:
        if mode == MODE_BUDGET:
            try:
                rows = budget_mod.equal_budget_table(d, max_length, budget, l_m)
            except ValueError as exc:
                st.error(f"No equal-budget solution: {exc}")
        else:
            rows = []
            for m in METHODS:
                l_, r_ = (l_pt, 0) if m == "pt" else (l_m, rank)
                p = budget_mod.param_count(m, d, max_length, l_, r_)
                rows.append({"method": m, "l": l_, "r": r_, "params": p, "unused": (budget or p) - p})
    if rows:
        where = f"d = {d:,} ({backbone}), s = {max_length}"
        at = f"a budget of {budget:,}" if mode == MODE_BUDGET else "your l and r"
        st.markdown(f"**Trainable parameters at {at}** · {where}")
        st.plotly_chart(
            charts.budget_table(rows, budget), key="budget_table", config={"displayModeBar": False}
        )
        if backbones.BACKBONE_INFO.get(backbone, {}).get("kind") == "encoder":
            st.caption(
                "An encoder backbone also trains a small classification head (d × classes + classes), "
                "the same for every method."
            )
        if mode == MODE_LR:
            st.caption(
                "With your own l and r the methods need not have equal budgets; "
                "“Compare all three” still solves r from PT's budget."
            )

    n_seeds = len(seeds)
    selected = [(m, s) for s in seeds for m in methods]
    every = [(m, s) for s in seeds for m in METHODS]
    ready = not errors and lr_prompt is not None and n_seeds > 0

    def estimate(pairs: list[tuple[str, int]], same_budget: bool) -> tuple[float, float] | None:
        try:
            secs = [training.estimate_seconds(config_for(m, s, same_budget=same_budget)) for m, s in pairs]
        except Exception:  # noqa: BLE001 - no estimate for a config that does not validate
            return None
        return (sum(secs) / len(secs), sum(secs)) if secs else None

    conc = common.concurrency()
    queued_before = len(common.module("launcher").queued_run_ids()) if ready else 0
    if ready and selected:
        est = estimate(selected, False)
        if est:
            per, total = est
            st.metric("Estimated wall time", f"≈ {common.fmt_duration(total / conc)}")
            st.markdown(
                f"≈ {common.fmt_duration(per)} per run, {len(selected)} run{'s' * (len(selected) != 1)} "
                f"queued, ≈ {common.fmt_duration(total / conc)} in all at concurrency {conc}"
                + (
                    f" (after {queued_before} run{'s' * (queued_before != 1)} already waiting)"
                    if queued_before
                    else ""
                )
            )
            st.caption(
                "A rough figure from measured step times on a 2-core CPU; the first run of a backbone "
                "also loads it."
            )
    if general:
        st.error("Fix these settings: " + "; ".join(general))

    # Never disabled: a click with invalid input says what to fix (and launches nothing).
    c1, c2 = st.columns(2)
    go_selected = c1.button(
        f"Launch {len(selected)} run{'s' * (len(selected) != 1)}" if selected else "Launch",
        type="primary",
        key=K + "go",
        width="stretch",
    )
    go_all = c2.button(
        f"Compare all three ({len(every)} runs)" if every else "Compare all three",
        key=K + "go_all",
        width="stretch",
        help="PT, DePT and ADePT at the same budget for every seed, grouped as one sweep.",
    )

    if go_selected or go_all:
        pairs, same = (every, True) if go_all else (selected, False)
        all_cfgs = [config_for(m, s, same_budget=same) for m, s in pairs]
        problems = dict(errors) if not go_all else {k: v for k, v in errors.items() if k != "method"}
        if not problems:
            problems = check(all_cfgs)
        if (
            not problems
            and task_choice != UPLOAD
            and task_choice not in getattr(tasks_mod, "OFFLINE_TASKS", ())
        ):
            err = check_registry_task(task_choice, VALS.get("data_dir") or "")
            if err:
                problems["task"] = err
        if problems:
            st.session_state.pop("launch_result", None)
            st.error("Nothing launched. Fix: " + "; ".join(f"**{k}** — {v}" for k, v in problems.items()))
        else:
            task_short = Path(data_file).stem if data_file else task_choice
            sweep = sweep_name or (
                f"{'compare' if go_all else 'launch'}-{task_short}-{time.strftime('%Y%m%d-%H%M%S')}"
                if len(all_cfgs) > 1
                else ""
            )
            launcher = common.module("launcher")
            ids: list[str] = []
            for cfg in all_cfgs:
                cfg["sweep"] = sweep
                ok, run_id = common.attempt(
                    launcher.enqueue, cfg, what=f"Queueing {cfg['method']} seed {cfg['seed']}"
                )
                if not ok:
                    break
                ids.append(run_id)
            common.clear_caches()
            if ids:
                st.session_state["launch_result"] = {
                    "ids": ids,
                    "sweep": sweep,
                    "names": [f"{c['method']}-s{c['seed']}" for c in all_cfgs],
                }

    result = st.session_state.get("launch_result")
    if result:
        st.success(
            f"Queued {len(result['ids'])} run{'s' * (len(result['ids']) != 1)}"
            + (f" as sweep `{result['sweep']}`" if result["sweep"] else "")
            + ": "
            + ", ".join(result["names"])
            + "."
        )
        st.page_link("pages/runs.py", label="Watch them on the Runs page", icon=":material/arrow_forward:")
        if result["sweep"]:
            st.page_link(
                "pages/compare.py",
                label="Compare the sweep",
                icon=":material/compare_arrows:",
                query_params={"sweep": result["sweep"]},
            )
