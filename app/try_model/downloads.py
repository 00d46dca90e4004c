"""Download buttons for a run: our adapter, the PEFT export and the folded model, each built by
:func:`adept.export.export_archive` when asked (a zip in a temporary folder), then offered for download."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import common

FORMATS = {
    "adept": ("adapter", "Our format: adapter.safetensors + adept_adapter.json; reload with "
                         "PromptTunedModel.from_pretrained(DIR, backbone)."),
    "peft": ("PEFT export", "A PEFT PromptTuning adapter (the base model folded first for DePT / ADePT, where "
                            "that is possible); loads with peft.PeftModel."),
    "folded": ("folded model", "The backbone with the offsets baked into its embedding (ADePT) or position "
                               "table (DePT): a plain prompt-tuned model, same outputs."),
}


def section(run_id: str, label: str) -> None:
    st.markdown(f"**{label}**")
    cols = st.columns(len(FORMATS))
    for col, (fmt, (name, help_text)) in zip(cols, FORMATS.items()):
        key = f"try.export.{fmt}.{run_id}"
        with col:
            ready = st.session_state.get(key)
            if ready and Path(ready).exists():
                st.download_button(f"Download {name}", Path(ready).read_bytes(), Path(ready).name,
                                   "application/zip", key=f"{key}.dl", icon=":material/download:",
                                   width="stretch", on_click="ignore")
                st.caption(f"{Path(ready).stat().st_size / 1e6:.1f} MB zip")
            elif st.button(f"Build {name}", key=f"{key}.build", help=help_text, width="stretch"):
                with st.spinner(f"Building the {name}…"):
                    ok, path = common.attempt(common.module("export").export_archive, run_id, fmt,
                                              what=f"The {name} of {label}")
                if ok:
                    st.session_state[key] = str(path)
                    st.rerun()
