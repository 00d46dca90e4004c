"""The selected run's panel on the Runs page: actions (stop, re-run, resume when it has a checkpoint,
delete / restore, MLflow link), its facts, tags and note, the reproduce command, the full searchable log,
and its loss and validation curves. Drawn in a fragment that re-reads the store every 2 s while the run is
running or queued, so the panel shows what the table shows."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, common
from app.runs import command, facts, log, manage


def do(action, *args, what: str, rerun: bool = True) -> None:
    """Run an action that changes the store; its message is shown after the page redraws."""
    ok, message = common.attempt(action, *args, what=what)
    common.clear_caches()
    facts.has_checkpoint.clear()
    if ok:
        st.session_state["runs.message"] = message if isinstance(message, str) else f"{what}: done ({message})."
        if rerun:
            st.rerun()


def _opt(v) -> str | None:
    """A row's text cell, None when missing (NaN in a frame where other runs have the column)."""
    return v if isinstance(v, str) and v else None


def _text(v) -> str:
    return "—" if v is None or (not isinstance(v, str) and pd.isna(v)) or v == "" else str(v)


def _buttons(run_id: str, row: pd.Series, status: str) -> None:
    launcher = common.module("launcher")
    resumable = status in ("KILLED", "FAILED") and facts.has_checkpoint(run_id, common.tracking_uri())
    b = st.columns(6)
    if b[0].button("Stop", key="runs.stop", disabled=status not in common.ACTIVE_STATUSES, width="stretch",
                   help="A running run saves a checkpoint and ends KILLED; a queued one is cancelled."):
        do(launcher.stop_run, run_id, what="Stop")
    if b[1].button("Re-run", key="runs.rerun", width="stretch", help="Queue a new run with the same config."):
        do(launcher.rerun, run_id, what="Re-run")
    if status in ("KILLED", "FAILED"):
        if b[2].button("Resume", key="runs.resume", width="stretch", disabled=not resumable,
                       help="Continue from its checkpoint." if resumable else
                       "This run never saved a checkpoint (it stopped before its first evaluation): Re-run it."):
            do(launcher.resume, run_id, what="Resume")
    if b[3].button("Delete", key="runs.delete", width="stretch", icon=":material/delete:",
                   disabled=status in common.ACTIVE_STATUSES,
                   help="MLflow's soft delete: the run leaves every page and can be restored from “Deleted runs”."
                   if status not in common.ACTIVE_STATUSES else "Stop the run first."):
        do(manage.delete_runs, [run_id], {run_id: status}, what="Delete")
    b[4].link_button("Open in MLflow UI", common.mlflow_run_url(str(row["experiment_id"]), run_id),
                     icon=":material/open_in_new:", width="stretch")
    if b[5].button("Refresh", key="runs.refresh", width="stretch", icon=":material/refresh:"):
        common.clear_caches()
        st.rerun()


def _facts(run_id: str, row: pd.Series, status: str, label: str) -> str | None:
    st.markdown(f"**{label}** · `{run_id}`")
    facts_ = {
        "status": status,
        "method": charts.method_label(row.get("method", "")),
        "backbone": _text(row.get("backbone")),
        "task": _text(row.get("task")),
        "seed": _text(row.get("seed")),
        "step": _text(row.get("progress")),
        "prompt length l, rank r": f"{_text(row.get('params.solved.num_virtual_tokens'))}, "
        f"{_text(row.get('params.solved.rank'))}",
        "trainable params": common.fmt_int(row.get("params.trainable_params")),
        "trained for": common.fmt_duration(facts.duration_s(row)),
    }
    if facts.where(row):
        facts_["where"] = facts.where(row)
    metric = common.primary_metric(row)
    for prefix in ("test", "best/val", "zero_shot"):
        key = f"metrics.{prefix}/{metric}" if prefix != "best/val" else f"metrics.best/val_{metric}"
        v = row.get(key)
        if metric and v is not None and pd.notna(v):
            facts_[f"{prefix.replace('best/val', 'best validation')} {metric}"] = f"{v:.2f}"
    lines = [f"| {k} | {v} |" for k, v in facts_.items()]
    st.markdown("\n".join([lines[0], "|---|---|", *lines[1:]]))  # the status is the header row
    if row.get("failure"):
        (st.warning if status == "KILLED" else st.error)(f"{status}: {row['failure']}")
    return metric


def _tags_and_note(run_id: str, row: pd.Series) -> None:
    tags = manage.user_tags(row)
    with st.container(border=True):
        st.markdown("**Tags** " + (" ".join(f"`{k}={v}`" if v else f"`{k}`" for k, v in sorted(tags.items()))
                                   if tags else "— none yet"))
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        key = c1.text_input("Tag", key=f"runs.tag_key.{run_id}", placeholder="e.g. baseline")
        value = c2.text_input("Value (optional)", key=f"runs.tag_value.{run_id}")
        if c3.button("Add tag", key="runs.tag_add", width="stretch"):
            do(manage.set_tag, [run_id], key, value, what="Tag")
        if tags:
            c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
            drop = c1.selectbox("Remove a tag", sorted(tags), key=f"runs.tag_drop.{run_id}")
            if c2.button("Remove", key="runs.tag_remove", width="stretch"):
                do(manage.remove_tag, [run_id], drop, what="Remove tag")
        note_key = f"runs.note.{run_id}"
        st.session_state.setdefault(note_key, manage.note_of(row))
        note = st.text_area("Note (MLflow's run description)", key=note_key, height=80,
                            placeholder="What this run is for, what you saw…")
        if st.button("Save note", key="runs.note_save"):
            do(manage.set_note, run_id, note, what="Note")


def _log(run_id: str, row: pd.Series) -> None:
    with st.expander("Log of the training process"):
        text, source = log.read_log(run_id, _opt(row.get("tags.adept.log")))
        if not text:
            st.caption(source)
            return
        lines = log.clean(text)
        query = st.text_input("Search the log", key=f"runs.log_search.{run_id}", placeholder="e.g. error, step 50")
        hits = log.search(lines, query)
        st.caption(f"{len(lines)} lines from {source}" + (f"; {len(hits)} contain “{query}”" if query else ""))
        body = "\n".join(f"{i:>5}  {s}" for i, s in hits) if query else "\n".join(lines)
        st.code(body or "(no line matches)", language=None, height=360, wrap_lines=True)


def _curves(run_id: str, row: pd.Series, metric: str | None, label: str) -> None:
    hist = common.history([run_id], None)
    if metric is None and not hist.empty:  # no summary yet: the first validation metric logged
        val = sorted(k for k in set(hist["key"]) if k.startswith("val/"))
        metric = val[0].removeprefix("val/") if val else None
    methods, names = {run_id: row.get("method", "")}, {run_id: label}
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.loss_curves(hist, labels=names, methods=methods, height=300), key="runs.loss")
    if metric:
        c2.plotly_chart(charts.eval_curves(hist, f"val/{metric}", labels=names, methods=methods, height=300),
                        key="runs.eval")
    else:
        c2.info("No validation point yet: the chart appears after the first evaluation.")


def show(run_id: str, label: str, active: bool) -> None:
    """The panel of ``run_id``; ``active``: re-read every 2 s (the run is running or queued)."""

    @st.fragment(run_every=2 if active else None)
    def panel() -> None:
        fresh = common.runs().set_index("run_id")
        if run_id not in fresh.index:
            st.info("This run is no longer in the store (deleted?).")
            return
        row = fresh.loc[run_id]
        status = str(row["status"])
        _buttons(run_id, row, status)
        left, right = st.columns([3, 2], gap="large")
        with right:
            metric = _facts(run_id, row, status, label)
            line = command.reproduce(run_id, _opt(row.get("tags.adept.command")))
            if line:
                st.caption("The command that reproduces this run, from any folder (copy button on the right):")
                st.code(line, language="bash", wrap_lines=True)
            _log(run_id, row)
        with left:
            _curves(run_id, row, metric, label)
            _tags_and_note(run_id, row)
        if active and status not in common.ACTIVE_STATUSES:
            st.rerun()  # it just ended: redraw the page (table, selection) once

    panel()
