"""Series per second of the per-series work on the local process pool and on a local Dask cluster of 1 and 2
workers, on a large synthetic panel (benchmarks/synthetic_panel.py).

Run: python benchmarks/bench_cluster.py [N ...] [--models M,M] [--model M]
     default: 2000 series; models snaive,theta with theta forecast

The work per series is what `forecast run` sends to the workers: the rolling-origin backtest (4 origins x 3
months), the model choice and the final fit and forecast (backtest.forecast_series). By default the families are
the seasonal naive and Theta, cheap enough that 2,000 series take minutes on one core; `--models
snaive,ets,theta,stl-arima,ensemble --model ensemble` times the families of `forecast run` (without the global
model, which is trained once per panel on the driver's side of the work). Each configuration first forecasts 20
other series so that its worker processes have started and imported the libraries; the time is that of the N
series. CPU is this process's plus every worker process's (psutil), so the cost per series is comparable across
configurations (on Dask, each worker reports its own; the scheduler runs in this process).
"""

from __future__ import annotations

import sys
import time

import psutil
from synthetic_panel import series_of, synthetic_panel
from timing import conditions, in_reference

from forecast.engine.backtest import BacktestSettings, forecast_series, run_parallel
from forecast.engine.cluster import connected, fitting_on

WARM_UP = 20


def _own_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def descendants_cpu(where: str | None) -> float:
    """User + system CPU seconds of this process and of its workers: the live child processes of the local pool
    (psutil), or each Dask worker's own count, asked of the worker itself."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    if where is not None:
        from dask.distributed import get_client

        return total + sum(get_client().run(_own_cpu).values())
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def timed(series: dict, warm: dict, settings: BacktestSettings, model: str, where: str | None,
          n_jobs: int) -> tuple[float, float]:
    """Wall and CPU seconds to forecast ``series`` (after warming the workers up on ``warm``)."""
    with fitting_on(where):
        run_parallel(forecast_series, warm.items(), settings, model, n_jobs=n_jobs)
        cpu, start = descendants_cpu(where), time.perf_counter()
        done = run_parallel(forecast_series, series.items(), settings, model, n_jobs=n_jobs)
        wall, cpu = time.perf_counter() - start, descendants_cpu(where) - cpu
    assert len(done) == len(series) and all(f.forecast is not None for f in done)
    return wall, cpu


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Series per second: local pool, Dask 1 and 2 workers.")
    parser.add_argument("sizes", nargs="*", type=int, default=[2000], help="numbers of series")
    parser.add_argument("--models", default="snaive,theta", help="families of the backtest")
    parser.add_argument("--model", default="theta", help="the family forecast")
    args = parser.parse_args()
    settings = BacktestSettings(models=tuple(args.models.split(",")))
    model, models, sizes = args.model, settings.models, args.sizes
    print(conditions())
    print(f"per series: forecast_series, backtest of {','.join(models)} at 4 origins, final fit of {model}")
    for n in sizes:
        started = time.perf_counter()
        frame = synthetic_panel(n + WARM_UP, seed=n)
        items = list(series_of(frame).items())
        warm, series = dict(items[:WARM_UP]), dict(items[WARM_UP:])
        print(f"{n} synthetic series made in {time.perf_counter() - started:.1f} s")
        rates = {}
        for label, workers in (("local process pool (2 processes)", None), ("Dask, 1 worker", 1),
                               ("Dask, 2 workers", 2)):
            with connected(workers=workers) as where:
                wall, cpu = timed(series, warm, settings, model, where, n_jobs=2)
            rates[label] = n / wall
            print(f"  {label}: {n / wall:.1f} series/s, wall {wall:.1f} s, CPU {cpu:.1f} s "
                  f"({cpu / n * 1000:.0f} ms CPU a series; {in_reference(cpu)})")
        print(f"  2 Dask workers / 1: {rates['Dask, 2 workers'] / rates['Dask, 1 worker']:.2f}x")


if __name__ == "__main__":
    main()
