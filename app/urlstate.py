"""Page state in the URL (``st.query_params``), so a view survives a reload and can be shared as a link.

A page calls :func:`seed` before drawing a widget (the first run of a session takes the widget's value from
the URL, when it names valid options) and :func:`publish` after (the URL follows what the widget shows).
Lists are repeated parameters (``?method=pt&method=adept``); defaults are left out of the URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

_SEEDED = "_urlstate.seeded"


def _seeded() -> set:
    return st.session_state.setdefault(_SEEDED, set())


def seed(key: str, param: str, kind: str = "str", options: Iterable | None = None) -> None:
    """Once per session and key: ``st.session_state[key]`` from URL parameter ``param``.

    ``kind``: ``str``, ``list`` (a multiselect), ``float``, ``int`` or ``bool``. With ``options`` only values
    among them are taken (a stale link never breaks the widget)."""
    done = _seeded()
    if key in done:
        return
    done.add(key)
    if param not in st.query_params:
        return
    allowed = None if options is None else {str(o): o for o in options}
    try:
        if kind == "list":
            raw = st.query_params.get_all(param)
            value: Any = [allowed[v] if allowed is not None else v for v in raw if allowed is None or v in allowed]
        else:
            raw = st.query_params.get(param)
            if kind == "float":
                value = float(raw)
            elif kind == "int":
                value = int(raw)
            elif kind == "bool":
                value = str(raw).lower() in ("1", "true", "yes", "on")
            else:
                if allowed is not None and raw not in allowed:
                    return
                value = allowed[raw] if allowed is not None else raw
    except (TypeError, ValueError):
        return
    st.session_state[key] = value


def publish(param: str, value: Any, default: Any = None) -> None:
    """Put ``value`` in the URL as ``param`` (removed when it equals ``default`` or is empty)."""
    empty = value is None or value == "" or (isinstance(value, (list, tuple)) and not value)
    if empty or value == default:
        if param in st.query_params:
            del st.query_params[param]
        return
    if isinstance(value, bool):
        text: Any = "1" if value else "0"
    elif isinstance(value, (list, tuple)):
        text = [str(v) for v in value]
    else:
        text = str(value)
    current = st.query_params.get_all(param) if isinstance(text, list) else st.query_params.get(param)
    if current != text:
        st.query_params[param] = text
