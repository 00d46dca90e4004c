"""The Launch form's fields: widget keys, defaults, presets (``adept.config.PRESETS``), and their values
kept in ``st.session_state["launch_vals"]`` so they survive a visit to another page (Streamlit forgets the
state of widgets that were not drawn in a run)."""

from __future__ import annotations

import streamlit as st

from app import common

METHODS = ("pt", "dept", "adept")
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


def presets() -> dict:
    return getattr(common.module("config"), "PRESETS", {})


def preset_values(name: str) -> dict:
    """Form values of preset ``name`` (``adept.config.PRESETS``) on top of :data:`BASE`."""
    preset = dict(presets().get(name, {}))
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
    d = common.module("backbones").BACKBONE_INFO.get(vals["backbone"], {}).get("d_model")
    if d:
        vals["l_pt"] = int(vals["budget"]) // d
    return vals


def apply_preset() -> None:
    vals = preset_values(st.session_state[K + "preset"])
    st.session_state["launch_vals"] = vals
    for field, value in vals.items():
        st.session_state[K + field] = value


def remembered() -> dict:
    """The form's values of this session (the quick preset on a first visit), put back into the widgets."""
    vals: dict = st.session_state.setdefault("launch_vals", preset_values("quick"))
    for field, value in vals.items():
        st.session_state.setdefault(K + field, value)
    return vals


def remember(vals: dict) -> None:
    """Keep the widgets' values for the next visit."""
    for field in vals:
        if K + field in st.session_state:
            vals[field] = st.session_state[K + field]


def number_field(label: str, field: str, slot: dict | None, **kwargs) -> int:
    """``int(st.number_input(...))`` keyed ``launch.<field>``; with ``slot``, the placeholder for the field's
    error goes under it as ``slot[field]``."""
    value = int(st.number_input(label, key=K + field, **kwargs))
    if slot is not None:
        slot[field] = st.empty()
    return value


def text_field(label: str, field: str, slot: dict, error_field: str | None = None, **kwargs) -> str:
    """``st.text_input(...)`` keyed ``launch.<field>``, the placeholder for its error under it as
    ``slot[error_field or field]`` (the config's name where it differs from the form's)."""
    value = st.text_input(label, key=K + field, **kwargs)
    slot[error_field or field] = st.empty()
    return value


def preset_picker() -> None:
    """The preset selectbox, and either the preset's note or which fields were edited with a Reset button."""
    names = list(presets() or {"quick": {}})
    notes = getattr(common.module("config"), "PRESET_NOTES", {})
    st.session_state.setdefault(K + "preset", "quick" if "quick" in names else names[0])
    st.selectbox(
        "Preset (fills the form)",
        names,
        key=K + "preset",
        on_change=apply_preset,
        help="quick: MiniLM-L6, about a minute a run on CPU. faithful: SmolLM2-135M, the paper's recipe "
        "scaled down.",
    )
    chosen = st.session_state[K + "preset"]
    edited = [f for f, v in preset_values(chosen).items() if st.session_state.get(K + f, v) != v]
    if edited:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(
            f"Edited from the {chosen} preset: {', '.join(f.replace('_', ' ') for f in edited[:4])}"
            f"{', …' if len(edited) > 4 else ''}."
        )
        c2.button(
            "Reset",
            key=K + "reset",
            on_click=apply_preset,
            width="stretch",
            help=f"Fill the form with the {chosen} preset again.",
        )
    elif notes.get(chosen):
        st.caption(notes[chosen])
