"""Wall and CPU time of a command, as the benchmarks print them, beside a fixed reference workload.

The command runs as a fresh process (``python -m forecast ...``), as a planner would start it; its CPU
time is user + system time of that process and of every worker process it started and waited for,
read from ``getrusage(RUSAGE_CHILDREN)`` before and after.

A figure measured on one machine cannot be checked on another unless both say how fast they are. Every
benchmark prints, with its conditions, the CPU time of :func:`reference` (statsmodels ETS fits on a fixed series
and a numpy kernel, one thread) run in the same process, and every timed line gives its CPU time in units of it:
"CPU 40.0 s (21.3 x the reference)". A reader divides their own figure by their own reference to compare.
"""

from __future__ import annotations

import atexit
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Timed:
    wall: float
    cpu: float
    stdout: str
    stderr: str
    returncode: int

    def line(self, label: str) -> str:
        return (f"{label}: wall {self.wall:.1f} s, CPU {self.cpu:.1f} s (all processes, {os.cpu_count()} cores; "
                f"{in_reference(self.cpu)})")


#: a figure is a first run's: the global models an earlier command kept on disk (forecast/engine/model_store.py) are
#: not read, unless FORECAST_MODEL_CACHE was set before the benchmark started. Benchmarks that fit in their own
#: process get a store of their own here; each command run_forecast times gets a new, empty one
_MODEL_STORE = "FORECAST_MODEL_CACHE"
_KEPT_MODELS = os.environ.get(_MODEL_STORE)
if _KEPT_MODELS is None:
    os.environ[_MODEL_STORE] = tempfile.mkdtemp(prefix="bench-models-")
    atexit.register(shutil.rmtree, os.environ[_MODEL_STORE], ignore_errors=True)


def run_forecast(*args: str, cwd: str | None = None, module: bool = True, models: str | None = None) -> Timed:
    """Run ``python -m forecast ARGS`` (or, not ``module``, ``python ARGS``) and time it; run in ``cwd``, it records
    into ``cwd/mlruns`` rather than the user's store. It trains its global models afresh (see above), or, given
    ``models``, keeps them in and reads them from that folder."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{Path(cwd).resolve() / 'mlruns' / 'mlflow.db'}"} \
        if cwd else {**os.environ}
    store = None if _KEPT_MODELS is not None or models else tempfile.mkdtemp(prefix="bench-models-")
    if store or models:
        env[_MODEL_STORE] = models or store
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, *(["-m", "forecast"] if module else []), *args], cwd=cwd,
                              capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
    finally:
        if store:
            shutil.rmtree(store, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, done.stdout, done.stderr, done.returncode)


def conditions() -> str:
    """The machine and load a figure was measured under, and the time of the reference workload on it."""
    load = os.getloadavg()[0]
    ref = reference()
    return (f"{os.cpu_count()} cores, load average {load:.2f} at the start, Python {sys.version.split()[0]}\n"
            f"reference workload ({REFERENCE_ETS_FITS} statsmodels ETS fits of a fixed 120-month series and a numpy "
            f"kernel, one thread, best of 3): CPU {ref.cpu:.2f} s (ETS {ref.ets:.2f} s, numpy {ref.numpy:.2f} s), "
            f"wall {ref.wall:.2f} s")


#: fits in the reference workload: about a second of CPU on the 2-core machine the README's figures come from
REFERENCE_ETS_FITS = 12


@dataclass(frozen=True)
class Reference:
    cpu: float
    wall: float
    ets: float
    numpy: float


@functools.cache
def reference() -> Reference:
    """CPU and wall seconds of a fixed workload in this process: the kind of work the package does (ETS fits in
    statsmodels, the pattern of a forecast's fits) and a numpy kernel (matrix products and a sort), BLAS on one
    thread; the best of three runs, so that a busy moment does not count."""
    import warnings

    import numpy as np
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = 200 + 0.3 * t + 25 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 8, t.size)
    a = rng.standard_normal((300, 300))
    runs = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            for k in range(REFERENCE_ETS_FITS):
                ETSModel(y, error="add", trend="add" if k % 2 else None, seasonal="add", seasonal_periods=12
                         ).fit(disp=False)
            ets = time.process_time() - cpu
            b = a
            for _ in range(150):
                b = np.tanh(b @ a / 17.0)
            np.sort(rng.standard_normal(1_000_000))
            runs.append(Reference(time.process_time() - cpu, time.perf_counter() - wall, ets,
                                  time.process_time() - cpu - ets))
    return min(runs, key=lambda r: r.cpu)


def in_reference(cpu: float) -> str:
    """CPU seconds in units of the reference workload: '21.3 x the reference'."""
    return f"{cpu / reference().cpu:.1f} x the reference"


class Clock:
    """Wall and CPU time of this process over a ``with`` block (for work done in-process)."""

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu

    def __str__(self) -> str:
        return f"wall {self.wall:.2f} s, CPU {self.cpu:.2f} s ({in_reference(self.cpu)})"


def best_of(work, times: int) -> Clock:
    """The :class:`Clock` of the cheapest (in CPU) of ``times`` passes of ``work()``: a busy moment does not count.
    Warm caches first by a pass of your own, timed or not."""
    clocks = []
    for _ in range(times):
        with Clock() as clock:
            work()
        clocks.append(clock)
    return min(clocks, key=lambda c: c.cpu)


def cpu_with_workers() -> float:
    """CPU seconds of this process and of every live process under it (joblib's worker pool stays alive)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


class AllClock(Clock):
    """:class:`Clock` whose CPU time includes the worker processes the block ran work in (those still alive at
    its end: joblib keeps its pool between calls)."""

    def __enter__(self) -> "AllClock":
        self._wall, self._cpu = time.perf_counter(), cpu_with_workers()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, cpu_with_workers() - self._cpu

    def __str__(self) -> str:
        return (f"wall {self.wall:.2f} s, CPU {self.cpu:.2f} s (this process and its live workers; "
                f"{in_reference(self.cpu)})")


#: runs a command and prints its peak resident memory (of it or its largest worker) to stderr's last line
_PEAK = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr); "
         "sys.exit(done.returncode)")


def measured(*args: str, cwd: str | None = None) -> tuple[object, int]:
    """run_forecast, with the peak resident memory in MB of this command alone (the largest of it and its workers,
    read as ru_maxrss by a fresh parent process)."""
    result = run_forecast("-c", _PEAK, sys.executable, "-m", "forecast", *args, module=False, cwd=cwd)
    lines = result.stderr.strip().splitlines()
    peak = int(lines.pop()) if lines and lines[-1].isdigit() else -1
    return replace(result, stderr="\n".join(lines)), peak
