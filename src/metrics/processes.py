"""Worker processes for CPU-bound steps of a load (the parallel demo's chunks, the complaint topics).

Workers are ``spawn``-ed (no fork of a process holding DuckDB's threads and connections). Two things
must hold while they start, both given by :func:`starting_workers`:

* the calling program's ``__main__`` is hidden: a ``spawn``-ed process otherwise runs the caller's main
  script again before its task (multiprocessing's preparation), which a script, a notebook or a
  Streamlit page calling the load did not guard with ``if __name__ == "__main__"`` (an AppTest leaves
  ``__main__`` on app.py: the workers ran the app). Workers need nothing from it: their function and
  data come from importable modules.
* SIGINT is ignored, so the workers inherit the ignored signal from their start, before their own
  imports: a Ctrl-C reaches the whole process group, and the loading process alone decides what to do
  (a Ctrl-C while a worker imports would otherwise print a traceback per worker). Each worker also
  ignores it again first thing (:func:`spawn_pool`'s initializer): a pool started off the main thread,
  where signals are not this code's to set, still has workers that leave Ctrl-C to the loading process.

Pools are for the main thread of a command: :func:`may_spawn` says no elsewhere (a Streamlit page's
script thread must not start a pool the size of the machine, nor swap ``__main__`` under other sessions).
On a failure or a Ctrl-C, :func:`stop` ends the workers at once instead of waiting for their tasks.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process for the block (in the main thread; elsewhere as it is). Processes
    started in the block inherit it; a second Ctrl-C does not cut short what the block does. A Ctrl-C in
    the block itself is lost."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to set
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def caller_main_hidden() -> Iterator[None]:
    """The calling program's ``__main__`` hidden from the processes started in the block (see the module
    docstring)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@contextlib.contextmanager
def starting_workers() -> Iterator[None]:
    """Both conditions of the module docstring, for the block in which a pool starts its workers (a
    ``ProcessPoolExecutor`` with the spawn context starts them at its first submits)."""
    with sigint_ignored(), caller_main_hidden():
        yield


def _ignore_sigint_then(initializer: Callable[..., object] | None, *initargs: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)


def spawn_pool(workers: int, initializer: Callable[..., object] | None = None,
               initargs: tuple = ()) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes, each ignoring SIGINT and then running
    ``initializer(*initargs)``; submit its first tasks inside :func:`starting_workers`. Off a command's
    main thread it raises ``RuntimeError`` (a caller that did not ask :func:`workers_allowed`)."""
    if not may_spawn():
        raise RuntimeError("metrics.processes: no worker pool off the main thread (ask workers_allowed first)")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ignore_sigint_then, initargs=(initializer, *initargs))


def may_spawn() -> bool:
    """Whether this thread may start a pool: only a command's main thread (see the module docstring)."""
    return threading.current_thread() is threading.main_thread()


def workers_allowed(requested: int) -> int:
    """How many worker processes a caller asking for ``requested`` may use here: ``requested`` on a
    command's main thread, else 1 (this process alone; see the module docstring)."""
    return requested if may_spawn() else 1


def stop(pool: ProcessPoolExecutor, pending: Iterable[Future], grace_s: float = 5.0) -> None:
    """Cancel the tasks not started and end ``pool``'s workers now: SIGTERM, then SIGKILL to those still
    running after ``grace_s`` seconds; returns when they have exited. Call it inside
    :func:`sigint_ignored`, so that a second Ctrl-C does not cut it short."""
    for future in pending:
        future.cancel()
    # the worker processes (ProcessPoolExecutor._processes: Python 3.14 adds terminate_workers() for this)
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        with contextlib.suppress(OSError, ValueError):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for process in workers:
        with contextlib.suppress(OSError, ValueError):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


__all__ = ["caller_main_hidden", "cores", "may_spawn", "sigint_ignored", "spawn_pool", "starting_workers", "stop",
           "workers_allowed"]
