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
  (a Ctrl-C while a worker imports would otherwise print a traceback per worker).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


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


def spawn_pool(workers: int, **kwargs: object) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes (``kwargs``: its initializer and
    initargs); submit its first tasks inside :func:`starting_workers`."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), **kwargs)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


__all__ = ["caller_main_hidden", "cores", "sigint_ignored", "spawn_pool", "starting_workers"]
