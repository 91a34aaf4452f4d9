"""Small numerical fits on one BLAS thread: OpenBLAS's worker threads spin-wait on every tiny call of an
optimiser, which on a busy machine costs more than the fit (measured for the forecasts' ETS fits:
35–100 ms with them, 9–12 ms without)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _blas_thread_setters() -> tuple:
    """``openblas_set_num_threads_local`` of the OpenBLAS copies numpy and scipy ship (none found: ())."""
    libs = []
    for pkg in ("numpy", "scipy"):
        folder = Path(__import__(pkg).__file__).parent.parent / f"{pkg}.libs"
        for path in folder.glob("*openblas*.so*"):
            try:
                fn = ctypes.CDLL(str(path)).openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
            libs.append(fn)
    return tuple(libs)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """OpenBLAS (numpy's and scipy's copies) on one thread for this thread while the small fits run:
    on a busy machine its worker threads spin-wait on every tiny call of the optimiser (measured: an
    ETS fit 35–100 ms with them, 9–12 ms without). ``openblas_set_num_threads_local`` is per thread;
    without it (another BLAS) nothing changes."""
    libs = _blas_thread_setters()
    before = [fn(1) for fn in libs]
    try:
        yield
    finally:
        for fn, n in zip(libs, before, strict=True):
            fn(n)
