"""Settings read from the environment, checked: a bad value is one ``ValueError`` naming the variable."""

from __future__ import annotations

import os


def positive_int_env(name: str, default: int, what: str) -> int:
    """``$name`` as a whole number >= 1 (``default`` when unset or empty); ``what`` is its unit in the message."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={raw!r}: set it to a whole number of {what} (>= 1), or unset it.")
    return value
