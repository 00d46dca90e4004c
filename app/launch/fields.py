"""The Launch form's fields: widget keys, defaults, presets (``adept.config.PRESETS``), and their values
kept in ``st.session_state["launch_vals"]`` so they survive a visit to another page (Streamlit forgets the
state of widgets that were not drawn in a run).

Whole numbers are typed into text boxes and parsed here (:func:`number_field`), never into
``st.number_input`` with bounds: in a browser that widget keeps showing an out-of-range entry while it
silently keeps (and launches with) its previous value. Here the number shown is the number used, and an
entry that is not a valid number is an error under its field that blocks launching."""

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
    "seeds": "0, 1, 2",  # three seeds: one seed cannot tell a method from noise
    "warmup_steps": 15,
    "eval_every": 25,
    "eval_examples": 200,
    "test_examples": 0,
    "early_stopping_patience": 0,
    "init": "text",
    "zero_shot": True,
    "dtype": "auto",
    "experiment": "adept-lab",
    "sweep": "",
}


# Whole-number fields (drawn by number_field, kept as the text typed).
NUMBER_FIELDS = ("budget", "l_pt", "num_virtual_tokens", "rank", "max_length", "max_steps", "batch_size",
                 "warmup_steps", "eval_every", "eval_examples", "test_examples", "early_stopping_patience")
# RunConfig field (or form field) -> the form's label, for messages that name a field.
LABELS = {
    "method": "Methods", "backbone": "Backbone", "task": "Task", "data_file": "Data file",
    "data_dir": "Folder with the task's files", "text_column": "Text column",
    "text_pair_column": "Second text column", "label_column": "Label column",
    "budget": "Trainable parameters (budget)", "num_virtual_tokens": "DePT / ADePT prompt length l",
    "l_pt": "PT prompt length", "rank": "DePT / ADePT rank r", "max_length": "Max input tokens s",
    "lr_prompt": "Learning rate, soft prompt", "lr_offsets": "Learning rate, offsets",
    "lr_head": "Learning rate, classification head", "seed": "Seeds", "max_steps": "Steps",
    "batch_size": "Batch size", "eval_every": "Evaluate every (steps)", "warmup_steps": "Warmup steps",
    "eval_examples": "Validation examples per evaluation", "test_examples": "Test examples (0 = all)",
    "early_stopping_patience": "Early stopping patience", "init": "Prompt initialisation",
    "dtype": "Backbone precision", "experiment": "MLflow experiment", "sweep": "Sweep name", "sizes": "Sizes",
    "general": "Settings",
}
MAX_TYPED_DIGITS = 30  # past this, a typed number is not worth parsing


def label(field: str) -> str:
    """The form's label of ``field`` (a RunConfig field name otherwise, with spaces)."""
    return LABELS.get(field, field.replace("_", " "))


def widget_value(field: str, value):
    """What the widget of ``field`` holds for ``value``: number fields hold text."""
    return str(value) if field in NUMBER_FIELDS and value is not None else value


def parse_whole(text: str, lo: int | None, hi: int | None) -> tuple[int | None, str | None]:
    """``(value, None)`` for a whole number in ``[lo, hi]`` typed as ``text`` (``1e4`` and ``10,000`` too),
    else ``(None, message)``."""
    raw = str(text).strip().replace(",", "").replace("_", "")
    if not raw:
        return None, "empty — type a whole number"
    if len(raw) > MAX_TYPED_DIGITS:
        return None, f"{len(raw)} characters — type a whole number" + (f" up to {hi:,}" if hi is not None else "")
    try:
        value = int(raw)
    except ValueError:
        try:
            number = float(raw)
        except ValueError:
            return None, f"{text!r} is not a number — type a whole number, e.g. 100"
        if number != number or number in (float("inf"), float("-inf")) or not number.is_integer():
            return None, f"{text!r} is not a whole number — type one, e.g. 100"
        value = int(number)
    if lo is not None and value < lo:
        return None, f"{value:,} is below {lo:,} — type a whole number of at least {lo:,}"
    if hi is not None and value > hi:
        return None, f"{value:,} is over {hi:,} — type at most {hi:,}"
    return value, None


def library_bounds(field: str) -> tuple[int | None, int | None]:
    """``(lowest, highest)`` that ``adept.config_checks`` accepts for RunConfig field ``field``."""
    checks = common.module("config_checks")
    lo, hi, _ = {**checks.OPTIONAL_INT_BOUNDS, **checks.INT_BOUNDS}.get(field, (None, None, ""))
    return lo, hi


def input_errors() -> dict[str, str]:
    """``{field: message}`` of the number fields drawn in this run of the page that hold no valid number."""
    return st.session_state.setdefault("launch_input_errors", {})


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
        "dtype",
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
        st.session_state[K + field] = widget_value(field, value)


def remembered() -> dict:
    """The form's values of this session (the quick preset on a first visit), put back into the widgets."""
    vals: dict = st.session_state.setdefault("launch_vals", preset_values("quick"))
    for field, value in vals.items():
        st.session_state.setdefault(K + field, widget_value(field, value))
    st.session_state["launch_input_errors"] = {}  # filled again by the number fields of this run
    return vals


def remember(vals: dict) -> None:
    """Keep the widgets' values for the next visit."""
    for field in vals:
        if K + field in st.session_state:
            vals[field] = st.session_state[K + field]


def number_field(label: str, field: str, slot: dict, *, min_value: int | None = None,
                 max_value: int | None = None, help: str | None = None) -> int | None:
    """A whole-number field keyed ``launch.<field>``: a text box parsed by :func:`parse_whole` and checked
    against ``[min_value, max_value]`` (default: what the library accepts for the field) here (see the
    module docstring for why not ``st.number_input``). Returns the number, or None when the entry is not
    valid (its message is in :func:`input_errors`); the placeholder for the field's error goes under it as
    ``slot[field]``."""
    lo, hi = library_bounds(field)
    text = st.text_input(label, key=K + field, help=help)
    value, problem = parse_whole(text, lo if min_value is None else min_value, hi if max_value is None else max_value)
    if problem:
        input_errors()[field] = problem
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
        help=" ".join(f"{name}: {note}" for name, note in notes.items()) or None,
    )
    chosen = st.session_state[K + "preset"]
    edited = [f for f, v in preset_values(chosen).items()
              if st.session_state.get(K + f, widget_value(f, v)) != widget_value(f, v)]
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
