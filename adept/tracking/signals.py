"""Stopping a training process cleanly: SIGTERM becomes :class:`RunKilled`, never inside an MLflow write.

The launcher's Stop button sends SIGTERM. The training process turns it into an exception in its main
thread, saves a checkpoint and ends its run KILLED. A signal that arrives while the main thread is inside
an MLflow write (a raise there could tear a sqlite transaction and lose buffered points) is held until
the write is done (:func:`_uninterrupted`).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class RunKilled(Exception):
    """The run was asked to stop (SIGTERM from the launcher's Stop button); it ends KILLED.

    ``checkpoint_step``: the step of the checkpoint saved on the way out (None when none was saved).
    """

    checkpoint_step: int | None = None


_KILL_MESSAGE = "stopped by SIGTERM (Stop button or `kill`)"
# SIGTERM bookkeeping: "raised" once the first signal arrived; "depth" > 0 while the main thread is inside
# an MLflow write, in which case the signal is "pending" and raised when the write is done.
_kill = {"raised": False, "pending": False, "depth": 0}


def install_sigterm_handler() -> None:
    """Make SIGTERM raise :class:`RunKilled` in the main thread (call it from the main thread).

    The first SIGTERM raises (deferred to the end of an MLflow write that is in progress); later ones
    are ignored so that saving the checkpoint is not interrupted (SIGKILL still ends the process;
    :func:`adept.launcher.reconcile` then repairs the run).
    """
    _kill.update(raised=False, pending=False)

    def _handler(signum, frame):  # noqa: ARG001
        if _kill["raised"]:
            return
        _kill["raised"] = True
        if _kill["depth"] > 0 and threading.current_thread() is threading.main_thread():
            _kill["pending"] = True
            return
        raise RunKilled(_KILL_MESSAGE)

    signal.signal(signal.SIGTERM, _handler)


@contextmanager
def _uninterrupted(raise_pending: bool = True):
    """Hold a SIGTERM's RunKilled until the MLflow write inside this block is done."""
    main = threading.current_thread() is threading.main_thread()
    if main:
        _kill["depth"] += 1
    try:
        yield
    finally:
        if main:
            _kill["depth"] -= 1
    if main and _kill["depth"] == 0 and _kill["pending"]:
        _kill["pending"] = False
        if raise_pending:
            raise RunKilled(_KILL_MESSAGE)
