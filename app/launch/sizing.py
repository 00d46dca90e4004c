"""How big each method is: one parameter budget that PT, DePT and ADePT share (DePT / ADePT's prompt
length l fixed, their rank r solved), or l and r set by hand; and the live table of what that gives."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app import charts, common
from app.launch.fields import METHODS, MODE_BUDGET, MODE_LR, K, number_field


@dataclass
class Sizing:
    """The Budget section's values; ``d`` is the backbone's width (None when it cannot be told)."""

    mode: str
    d: int | None
    max_length: int | None  # None (like the sizes below) while its field holds no valid number
    budget: int | None
    l_m: int | None  # DePT / ADePT prompt length
    l_pt: int | None = None  # PT prompt length (l and r mode)
    rank: int | None = None  # DePT / ADePT rank (l and r mode)


@st.cache_data(show_spinner=False)
def d_model_of(name: str) -> int | None:
    return common.module("backbones").backbone_d_model(name)


def use_paper_budget(d: int) -> None:
    st.session_state[K + "budget"] = str(100 * d)
    st.session_state[K + "l_pt"] = "100"


def sizing_widgets(backbone: str, slot: dict) -> Sizing:
    """The mode radio, then budget and l (with a button for the paper's 100 × d), or PT's l, l and r; and the
    max input length s. Errors go into ``slot[field]`` under each widget."""
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
            budget = number_field(
                "Trainable parameters (budget)",
                "budget",
                slot,
                help="Soft prompt + offsets. The paper: PT's 100 tokens, i.e. 100 × d.",
            )
        with c2:
            l_m = number_field(
                "DePT / ADePT prompt length l",
                "num_virtual_tokens",
                slot,
                help="The rest of the budget goes to the offsets' rank r. Paper: 60.",
            )
        l_pt, rank = None, None
        if d:
            st.caption(
                f"Paper's protocol for this backbone: budget = 100 × d = {100 * d:,} (PT with 100 tokens)."
            )
            if budget != 100 * d:
                st.button("Use 100 × d", on_click=use_paper_budget, args=(d,), key=K + "paper_budget")
    else:
        with c1:
            l_pt = number_field("PT prompt length", "l_pt", slot, min_value=1, max_value=4096)
        with c2:
            l_m = number_field("DePT / ADePT prompt length l", "num_virtual_tokens", slot)
        with c1:
            rank = number_field("DePT / ADePT rank r", "rank", slot)
        budget = l_pt * d if d and l_pt is not None else None
    with c3:
        max_length = number_field(
            "Max input tokens s",
            "max_length",
            slot,
            min_value=8,
            max_value=4096,
            help="Inputs are truncated to s tokens; DePT's position table has s rows.",
        )
    return Sizing(mode, d, max_length, budget, l_m, l_pt, rank)


def budget_preview(size: Sizing, backbone: str) -> None:
    """The trainable parameters of PT, DePT and ADePT at these sizes, as a table (nothing without ``d``)."""
    if size.d is None:
        return
    needed = [size.max_length, size.l_m] + ([size.budget] if size.mode == MODE_BUDGET else [size.l_pt, size.rank])
    if any(v is None for v in needed):
        st.caption("Fix the sizes marked in the form to see what each method trains.")
        return
    budget_mod = common.module("budget")
    rows = None
    if size.mode == MODE_BUDGET:
        try:
            rows = budget_mod.equal_budget_table(size.d, size.max_length, size.budget, size.l_m)
        except ValueError as exc:
            st.error(f"No equal-budget solution: {exc}")
    else:
        rows = []
        for m in METHODS:
            l_, r_ = (size.l_pt, 0) if m == "pt" else (size.l_m, size.rank)
            p = budget_mod.param_count(m, size.d, size.max_length, l_, r_)
            rows.append({"method": m, "l": l_, "r": r_, "params": p, "unused": (size.budget or p) - p})
    if not rows:
        return
    where = f"d = {size.d:,} ({backbone}), s = {size.max_length}"
    at = f"a budget of {size.budget:,}" if size.mode == MODE_BUDGET else "your l and r"
    st.markdown(f"**Trainable parameters at {at}** · {where}")
    st.plotly_chart(charts.budget_table(rows, size.budget), key="budget_table", config={"displayModeBar": False})
    if common.module("backbones").BACKBONE_INFO.get(backbone, {}).get("kind") == "encoder":
        st.caption(
            "An encoder backbone also trains a small classification head (d × classes + classes), "
            "the same for every method."
        )
    if size.mode == MODE_LR:
        st.caption(
            "With your own l and r the methods need not have equal budgets; "
            "picking all three methods still solves r from PT's budget."
        )
