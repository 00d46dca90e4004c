"""Launch: a form that queues PT / DePT / ADePT runs, with the equal-budget solution and a time estimate
shown live before anything is launched. Runs go to ``adept.launcher``'s queue (one OS process each).

The parts live in :mod:`app.launch`; this file lays them out."""

from __future__ import annotations

import streamlit as st

from app import charts
from app.launch import configs, fields, sizing, sources, submit
from app.launch.fields import METHODS, K, number_field, text_field

vals = fields.remembered()

st.title("Launch runs")
st.caption(
    "Pick what to train; the equal-budget solution and the time estimate update as you type. "
    "Each run is its own process in a queue, so closing this tab never stops it."
)

form_col, side = st.columns([3, 2], gap="large")
slot: dict[str, object] = {}  # field -> placeholder under its widget, filled with that field's error

with form_col:
    fields.preset_picker()

    st.subheader("What to train", divider="gray")
    methods = st.multiselect(
        "Methods",
        list(METHODS),
        key=K + "methods",
        format_func=charts.method_label,
        help="Pick all three to compare them at one budget (one sweep); fewer to launch just those.",
    )
    slot["method"] = st.empty()
    b1, b2 = st.columns(2)
    with b1:
        backbone = sources.backbone_widgets(slot)
    with b2:
        task = sources.task_widget(slot)
    source = sources.data_widgets(task, slot)

    st.subheader("Budget", divider="gray")
    size = sizing.sizing_widgets(backbone, slot)

    st.subheader("Training", divider="gray")
    texts, values = {}, {}
    c1, c2, c3 = st.columns(3)
    with c1:
        texts["lr_prompt"] = text_field("Learning rate, soft prompt", "lr_prompt", slot, help="Paper: 3e-1.")
    with c2:
        texts["lr_offsets"] = text_field("Learning rate, offsets", "lr_offsets", slot, help="Paper: 1e-4.")
    with c3:
        texts["seeds"] = text_field(
            "Seeds", "seeds", slot, "seed", help="Comma-separated; one run per method and seed."
        )
    c1, c2, c3 = st.columns(3)
    with c1:
        values["max_steps"] = number_field("Steps", "max_steps", slot)
    with c2:
        values["batch_size"] = number_field("Batch size", "batch_size", slot)
    with c3:
        values["eval_every"] = number_field("Evaluate every (steps)", "eval_every", slot)

    with st.expander("More settings"):
        c1, c2, c3 = st.columns(3)
        with c1:
            values["warmup_steps"] = number_field("Warmup steps", "warmup_steps", slot)
            texts["lr_head"] = text_field(
                "Learning rate, classification head",
                "lr_head",
                slot,
                help="Only encoder backbones (MiniLM, BERT) have a head.",
            )
        with c2:
            values["eval_examples"] = number_field(
                "Validation examples per evaluation", "eval_examples", slot
            )
            values["test_examples"] = number_field(
                "Test examples (0 = all)", "test_examples", slot
            )
        with c3:
            values["early_stopping_patience"] = number_field(
                "Early stopping patience (evaluations, 0 = off)", "early_stopping_patience", slot
            )
            values["init"] = st.selectbox("Prompt initialisation", ["text", "random"], key=K + "init")
            slot["init"] = st.empty()
        c1, c2, c3 = st.columns(3)
        values["experiment"] = c1.text_input("MLflow experiment", key=K + "experiment").strip() or "adept-lab"
        values["sweep"] = c2.text_input(
            "Sweep name (groups the runs; empty = automatic)", key=K + "sweep"
        ).strip()
        values["zero_shot"] = c3.checkbox("Score the untrained prompt (zero-shot) first", key=K + "zero_shot")
        values["dtype"] = c1.selectbox(
            "Backbone precision", ["auto", "float32", "bfloat16", "float16"], key=K + "dtype",
            help="auto: bfloat16 where this machine runs it faster (a GPU with bf16; a CPU with AMX or "
            "AVX512-BF16 confirmed by a timed probe), float32 otherwise. Trainable weights stay float32.")
        slot["dtype"] = st.empty()

fields.remember(vals)

# Build the configs and check them (errors go next to their fields)
form, errors = configs.read_form(methods, backbone, source, size, texts, values)
general = configs.place_errors(errors, slot)

with side:
    st.subheader("Before you launch", divider="gray")
    sizing.budget_preview(size, backbone)

    selected = [(m, s) for s in form.seeds for m in methods]
    every = [(m, s) for s in form.seeds for m in METHODS]
    if selected and not errors and form.seeds:
        submit.show_estimate(form, selected)
    if general:
        st.error("Fix these settings: " + "; ".join(general))
    # Valid but probably typos (10,000,000 steps, a 600-token prompt): launching needs a tick first.
    warnings = [] if errors else configs.size_warnings([configs.config_for(form, m, 0) for m in METHODS])
    confirmed = False
    if warnings:
        st.warning("These sizes look like typos: " + "; ".join(warnings) + ".", icon=":material/warning:")
        confirmed = st.checkbox("Launch these sizes anyway", key=K + "confirm_sizes")

    # One launch action, never disabled: a click with invalid input says what to fix (and launches nothing).
    # All three methods picked = the paper's comparison: one budget solved for all, grouped as one sweep.
    compare_all = set(methods) == set(METHODS)
    n = len(selected)
    label = f"Launch {n} run{submit.plural(n)}" if selected else "Launch"
    if st.button(label, type="primary", key=K + "go", width="stretch",
                 help="PT, DePT and ADePT at the same budget for every seed, grouped as one sweep."
                 if compare_all else "One run per picked method and seed."):
        submit.launch(form, every if compare_all else selected, compare_all, errors, warnings, confirmed)
    if compare_all and selected:
        st.caption(f"Compares all three methods at one budget: {n} runs, one sweep.")
    submit.show_result()
