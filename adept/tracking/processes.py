"""Which process trains a run, and whether it is still alive.

A run records the process that trains it (tags ``adept.pid``, ``adept.pid_start``, ``adept.host``); the
launcher uses these to stop a run and to repair runs whose process died without reporting.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path


def hostname() -> str:
    """This machine's name, stored as tag ``adept.host`` (only runs of this host are reconciled here)."""
    return socket.gethostname()


def _stat_fields(stat: str) -> list[str]:
    """The fields of a ``/proc/<pid>/stat`` line from field 3 (state) on. The command name (field 2) may
    contain spaces and parentheses, so split after the last ')'."""
    return stat[stat.rfind(")") + 2:].split()


def process_start_ticks(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = _stat_fields(stat)
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int, start_ticks: str | None = None) -> bool:
    """Whether process ``pid`` exists, is not a zombie, and (if given) started at ``start_ticks``.

    ``os.kill(pid, 0)`` alone says yes for a zombie (exited, not yet reaped) and for an unrelated
    process that got the same pid later; ``/proc`` tells both apart where it exists.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not sys.platform.startswith("linux")  # on Linux: it exited between the two checks
    except OSError:
        return True
    fields = _stat_fields(stat)
    if fields and fields[0] in ("Z", "X"):
        return False
    if start_ticks and len(fields) > 19 and fields[19] != str(start_ticks):
        return False
    return True
