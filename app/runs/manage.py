"""Delete, restore, tag and annotate runs in MLflow (what MLflow's own UI does, from the dashboard).

Deleting is MLflow's soft delete (``lifecycle_stage = deleted``): the run, its metrics and artifacts stay in
the store and :func:`restore_runs` brings them back; ``mlflow gc`` is what removes them for good. A note is
MLflow's ``mlflow.note.content`` tag, so MLflow's UI shows it as the run's description.
"""

from __future__ import annotations

import pandas as pd

NOTE_TAG = "mlflow.note.content"
SYSTEM_PREFIXES = ("adept.", "mlflow.")
ACTIVE = ("RUNNING", "SCHEDULED")


def _client():
    from adept import tracking

    return tracking.get_client()


def delete_runs(run_ids: list[str], statuses: dict[str, str] | None = None) -> str:
    """Soft-delete ``run_ids``; refuses runs that are running or queued (stop them first)."""
    if not run_ids:
        raise ValueError("No run picked: tick the runs to delete first.")
    busy = [r for r in run_ids if (statuses or {}).get(r) in ACTIVE]
    if busy:
        raise ValueError(
            f"{len(busy)} of the picked runs are running or queued ({', '.join(r[:8] for r in busy)}): "
            "stop them first, then delete."
        )
    client = _client()
    for rid in run_ids:
        client.delete_run(rid)
    return f"Deleted {len(run_ids)} run{'s' if len(run_ids) != 1 else ''} (restore them from “Deleted runs”)."


def restore_runs(run_ids: list[str]) -> str:
    if not run_ids:
        raise ValueError("No deleted run picked: choose the runs to restore first.")
    client = _client()
    for rid in run_ids:
        client.restore_run(rid)
    return f"Restored {len(run_ids)} run{'s' if len(run_ids) != 1 else ''}."


def deleted_runs() -> pd.DataFrame:
    """The soft-deleted runs of every active experiment: run_id, run_name, status, method, start_time."""
    from mlflow.entities import ViewType

    from adept import tracking
    from adept.tracking.reading import _experiment_ids

    client = _client()
    ids = list(_experiment_ids(client, None))
    rows = []
    if ids:
        token = None
        while True:
            page = client.search_runs(ids, run_view_type=ViewType.DELETED_ONLY, max_results=1000, page_token=token)
            rows += [
                {
                    "run_id": r.info.run_id,
                    "run_name": r.info.run_name or "",
                    "status": r.info.status,
                    "method": r.data.tags.get(tracking.TAG_METHOD, ""),
                    "start_time": pd.to_datetime(r.info.start_time, unit="ms", utc=True),
                }
                for r in page
            ]
            token = page.token
            if not token:
                break
    return pd.DataFrame(rows, columns=["run_id", "run_name", "status", "method", "start_time"])


def check_tag_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValueError("The tag name is empty: type a name such as `baseline` or `keep`.")
    if key.startswith(SYSTEM_PREFIXES):
        raise ValueError(f"Tag names starting with {' or '.join(SYSTEM_PREFIXES)} belong to ADePT Lab and MLflow: "
                         "pick another name.")
    if len(key) > 250 or any(c in key for c in "\n\r\t"):
        raise ValueError("A tag name is one line of at most 250 characters.")
    return key


def set_tag(run_ids: list[str], key: str, value: str = "") -> str:
    """Set tag ``key`` (``value`` may be empty: a label) on every run of ``run_ids``."""
    key = check_tag_key(key)
    if not run_ids:
        raise ValueError("No run picked: choose the runs to tag first.")
    client = _client()
    for rid in run_ids:
        client.set_tag(rid, key, value or "")
    shown = f"{key}={value}" if value else key
    return f"Tagged {len(run_ids)} run{'s' if len(run_ids) != 1 else ''} with {shown}."


def remove_tag(run_ids: list[str], key: str) -> str:
    key = check_tag_key(key)
    client = _client()
    n = 0
    for rid in run_ids:
        if key in client.get_run(rid).data.tags:
            client.delete_tag(rid, key)
            n += 1
    return f"Removed tag {key} from {n} run{'s' if n != 1 else ''}."


def set_note(run_id: str, text: str) -> str:
    _client().set_tag(run_id, NOTE_TAG, text or "")
    return "Note saved." if text else "Note cleared."


def user_tags(row: pd.Series | dict) -> dict[str, str]:
    """The tags a person set (not ``adept.*`` / ``mlflow.*``), from a runs_dataframe row."""
    out = {}
    for k, v in (row.items() if hasattr(row, "items") else []):
        if not str(k).startswith("tags.") or v is None or (isinstance(v, float) and pd.isna(v)):
            continue
        name = str(k).removeprefix("tags.")
        if not name.startswith(SYSTEM_PREFIXES):
            out[name] = str(v)
    return out


def tags_text(row) -> str:
    """``"baseline, lr=0.3"``: a row's user tags as one cell."""
    return ", ".join(k if not v else f"{k}={v}" for k, v in sorted(user_tags(row).items()))


def note_of(row) -> str:
    v = row.get(f"tags.{NOTE_TAG}") if hasattr(row, "get") else None
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
