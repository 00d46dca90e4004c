"""A run's full training log, for the Runs page: from the run's log artifact when it has one (works for a
run trained on any host), else the launcher's local log file; tqdm's carriage-return redraws collapsed to
their last state, so the text reads as lines; searchable."""

from __future__ import annotations

import re

LOG_ARTIFACT = "logs/run.log"
MAX_BYTES = 2_000_000  # a searchable box, not a download: the last 2 MB of a very long log


def read_log(run_id: str, local_path: str | None = None) -> tuple[str, str]:
    """``(text, where it came from)``; ``("", reason)`` when there is no log.

    The one place that knows where logs live: ``adept.tracking.read_run_log`` when the library offers it,
    else the artifact :data:`LOG_ARTIFACT`, else ``local_path`` (the ``adept.log`` tag)."""
    from adept import tracking

    reader = getattr(tracking, "read_run_log", None)
    if callable(reader):
        try:
            text = reader(run_id, max_bytes=MAX_BYTES)
            if text:
                cut = " (its last 2 MB)" if len(text.encode("utf-8", "replace")) >= MAX_BYTES else ""
                return str(text), f"the run's log{cut}"
        except Exception:  # noqa: BLE001 - fall back to the file the launcher wrote
            pass
    try:
        path = tracking.download_artifacts(run_id, LOG_ARTIFACT)
        return _read(path), f"artifact {LOG_ARTIFACT}"
    except (ValueError, OSError):
        pass
    if local_path:
        try:
            return _read(local_path), local_path
        except OSError as exc:
            return "", f"cannot read {local_path}: {exc}"
    return "", "this run has no log (it was trained in this process, or before logs were kept)"


def _read(path: str) -> str:
    """The file's text with its carriage returns kept (universal newlines would turn tqdm's redraws into
    one line each)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def clean(text: str) -> list[str]:
    """Lines as a terminal would show them: each ``\\r`` redraw keeps only its last state; ANSI colours
    removed."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p.strip()]
        lines.append(parts[-1] if parts else "")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def search(lines: list[str], query: str) -> list[tuple[int, str]]:
    """``(line number from 1, line)`` of lines containing ``query`` (case-insensitive); all when empty."""
    q = (query or "").strip().lower()
    return [(i, s) for i, s in enumerate(lines, start=1) if not q or q in s.lower()]
