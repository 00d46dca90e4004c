"""Before and after the Launch buttons: the wall-time estimate of the runs, queueing them with
``adept.launcher.enqueue`` (one OS process each, grouped as a sweep), and the message that they were queued."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from app import common
from app.launch.configs import Form, check, config_for
from app.launch.fields import label
from app.launch.sources import check_registry_task, offline_tasks


def plural(n: int) -> str:
    return "s" * (n != 1)


def estimate(form: Form, pairs: list[tuple[str, int]], same_budget: bool) -> tuple[float, float] | None:
    """``(seconds per run, seconds in all)`` of the ``(method, seed)`` runs; None when a config is invalid."""
    config = common.module("config")
    try:
        secs = [config.estimate_seconds(config_for(form, m, s, same_budget=same_budget)) for m, s in pairs]
    except Exception:  # noqa: BLE001 - no estimate for a config that does not validate
        return None
    return (sum(secs) / len(secs), sum(secs)) if secs else None


def show_estimate(form: Form, selected: list[tuple[str, int]]) -> None:
    """The estimated wall time of the selected runs at the queue's concurrency, after the runs waiting."""
    est = estimate(form, selected, False)
    if not est:
        return
    conc = common.concurrency()
    queued_before = len(common.module("launcher").queued_run_ids())
    per, total = est
    st.metric("Estimated wall time", f"≈ {common.fmt_duration(total / conc)}")
    st.markdown(
        f"≈ {common.fmt_duration(per)} per run, {len(selected)} run{plural(len(selected))} "
        f"queued, ≈ {common.fmt_duration(total / conc)} in all at concurrency {conc}"
        + (f" (after {queued_before} run{plural(queued_before)} already waiting)" if queued_before else "")
    )
    st.caption(estimate_source(form, selected[0]))


def estimate_source(form: Form, pair: tuple[str, int]) -> str:
    """Where the estimate's figures come from (this machine's finished runs, or built-in ones) and what it counts."""
    config = common.module("config")
    try:
        est = common.module("timing").estimate(config.RunConfig.from_dict(config_for(form, *pair)))
    except Exception:  # noqa: BLE001 - a config that does not validate has no estimate
        return ""
    return (f"Figures {est['source']}, backbone in {est['dtype']}. Counts training, every evaluation, the test pass, "
            "the zero-shot pass and loading, from the moment a run starts training (queue wait apart).")


def launch(form: Form, pairs: list[tuple[str, int]], compare_all: bool, errors: dict[str, str],
           warnings: list[str] | None = None, confirmed: bool = False) -> None:
    """Queue one run per ``(method, seed)`` (``compare_all``: at one budget, method choice ignored) unless
    something is wrong or ``warnings`` (sizes that look like typos) are not ``confirmed``; all the runs or
    none (``adept.launcher.enqueue_all``). Keeps what was queued in ``st.session_state["launch_result"]``."""
    source = form.source
    all_cfgs = [config_for(form, m, s, same_budget=compare_all) for m, s in pairs]
    problems = dict(errors) if not compare_all else {k: v for k, v in errors.items() if k != "method"}
    if not problems:
        problems = check(all_cfgs)
    if not problems and not source.is_file and source.task not in offline_tasks():
        err = check_registry_task(source.task, source.data_dir)
        if err:
            problems["task"] = err
    if not problems and warnings and not confirmed:
        problems["sizes"] = "tick “Launch these sizes anyway” under the warning, or change them"
    if problems:
        st.session_state.pop("launch_result", None)
        st.error("Nothing launched. Fix: " + "; ".join(f"**{label(k)}** — {v}" for k, v in problems.items()))
        return
    task_short = Path(source.data_file).stem if source.data_file else source.task
    sweep = form.sweep or (
        f"{'compare' if compare_all else 'launch'}-{task_short}-{time.strftime('%Y%m%d-%H%M%S')}"
        if len(all_cfgs) > 1
        else ""
    )
    for cfg in all_cfgs:
        cfg["sweep"] = sweep
    launcher = common.module("launcher")
    try:
        executor, address = common.executor_setting()
        ids = launcher.enqueue_all(all_cfgs, start_worker=True, executor=executor)
        if executor == "ray":  # a detached driver submits them to Ray and waits (a page refresh loses nothing)
            common.module("launcher.ray_executor").start_driver(ids, address=address)
    except ValueError as exc:  # the library's last checks (data file, device, positions): nothing was queued
        found = getattr(exc, "errors", None) or {"general": str(exc)}
        st.session_state.pop("launch_result", None)
        st.error("Nothing launched. Fix: " + "; ".join(f"**{label(k)}** — {v}" for k, v in found.items()))
        return
    except Exception as exc:  # noqa: BLE001 - the store failed: say so, keep the page up
        st.session_state.pop("launch_result", None)
        st.error(f"Nothing launched: queueing failed — {type(exc).__name__}: {exc}")
        return
    finally:
        common.clear_caches()
    st.session_state["launch_result"] = {
        "ids": ids,
        "sweep": sweep,
        "names": [f"{c['method']}-s{c['seed']}" for c in all_cfgs],
    }


def show_result() -> None:
    """What the last launch queued, with links to watch and compare it."""
    result = st.session_state.get("launch_result")
    if not result:
        return
    st.success(
        f"Queued {len(result['ids'])} run{plural(len(result['ids']))}"
        + (f" as sweep `{result['sweep']}`" if result["sweep"] else "")
        + ": "
        + ", ".join(result["names"])
        + "."
    )
    st.page_link("views/runs.py", label="Watch them on the Runs page", icon=":material/arrow_forward:")
    if result["sweep"]:
        st.page_link(
            "views/compare.py",
            label="Compare the sweep",
            icon=":material/compare_arrows:",
            query_params={"sweep": result["sweep"]},
        )
