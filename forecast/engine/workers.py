"""The local worker processes, started while a large input is read.

joblib keeps one pool of worker processes for every parallel step of a command (loky's reusable executor). Most
of a worker's start is its imports: pandas, scipy and the SPC rules, about 1 s of CPU each. Started while the
main process reads a large file, on the core the reading leaves idle, the workers are ready when the first
series are: `forecast spc` on 3 million rows started analysing about 1 s sooner.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator

#: inputs at least this large take about a second to read, long enough to start the workers meanwhile; a smaller
#: panel may never be sent to processes (`forecast spc` analyses fewer than 2,000 series in its own)
WARM_BYTES = 32 << 20


def _ready() -> int:
    """The worker's imports: the SPC rules every command's workers run, and the libraries they need."""
    importlib.import_module("forecast.control.xmr")
    return os.getpid()


def _start(n_jobs: int) -> None:
    from joblib import Parallel, delayed

    try:
        Parallel(n_jobs=n_jobs)(delayed(_ready)() for _ in range(n_jobs))
    except (OSError, RuntimeError):
        # no processes to be had here (a sandbox, a broken pool): the command's own parallel step meets the same
        # and says so, or runs in this process
        pass


@contextlib.contextmanager
def started_while(paths: Iterable[Path], n_jobs: int | None = None) -> Iterator[None]:
    """Inside, ``n_jobs`` local worker processes (default one per core; 1: none) start in the background when the
    inputs ``paths`` are large and no Dask cluster takes the work; on leaving, they are ready."""
    from forecast.engine.cluster import on_cluster

    n_jobs = n_jobs or os.cpu_count() or 1
    size = sum(p.stat().st_size for p in map(Path, paths) if p.is_file())
    if size < WARM_BYTES or n_jobs < 2 or on_cluster():
        yield
        return
    thread = threading.Thread(target=_start, args=(n_jobs,), name="forecast-workers", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
