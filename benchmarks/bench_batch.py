"""The sparse series' batch path (forecast/engine/batch.py) against the path a series at a time it replaced, on N
synthetic neighbourhood series (bench_sparse_scale's panel: the means and dispersions of real City of London LSOA
series, 60 months), with the panel's global model blended in as `run` blends it (trained once, not timed).

1. In one process: the sparse plan's backtest, choice and forecast of every series, `forecast_series` a series at
   a time against `batch.forecast_sparse` (the best of 3 passes each).
2. Through the process pool as `run` sends them, with each series' 2,000 sample paths and decomposition: a job a
   series (`run_parallel(fit_series)`, as before the batch path) against jobs of many (`run_batches(
   fit_sparse_series)`): the CPU of this process and its workers, alternately twice each.

Both paths give the same numbers (tests/test_batch.py); the script checks that the forecasts agree.

Run: python benchmarks/bench_batch.py [N]   (default 2000)
"""

import sys

import numpy as np
from bench_sparse_scale import synthetic_panel
from timing import AllClock, best_of, conditions, in_reference


def main() -> None:
    from forecast.engine import batch
    from forecast.engine.backtest import BacktestSettings, forecast_series, panel_forecasts, run_batches, run_parallel
    from forecast.jobs.run import QUARTER_PATHS, fit_series, fit_sparse_series
    from forecast.models import BASELINE, SPARSE_MODEL

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(conditions())
    panel = synthetic_panel(n)
    items = list(panel.iter_series())
    plan = BacktestSettings(models=(BASELINE, SPARSE_MODEL))
    given = panel_forecasts(panel, dict(items), BacktestSettings(), 3, 2).series
    print(f"{n} series of 60 months, the sparse plan ({', '.join(plan.models)}), the global model's forecasts "
          f"blended in ({len(given)} series)")

    def alone():
        return [forecast_series(key, y, plan, SPARSE_MODEL, 3, given.get(key)) for key, y in items]

    def batched():
        return batch.forecast_sparse(items, plan, 3, given)

    a, b = alone(), batched()
    assert all(np.array_equal(x.forecast.to_numpy(), y.forecast.to_numpy()) for x, y in zip(a, b))
    print("\n1. in one process (best of 3):")
    for label, work in (("a series at a time", alone), ("batched", batched)):
        clock = best_of(work, 3)
        print(f"  {label:<20} {clock.cpu / n * 1000:6.2f} ms CPU a series ({clock})")

    print("\n2. through the process pool (2 workers), with 2,000 paths and the decomposition a series:")
    plans = {key: (plan, SPARSE_MODEL) for key, _ in items}
    run_parallel(fit_series, items[:8], 3, QUARTER_PATHS, 0, n_jobs=2, plan=plans)       # start the workers
    for _ in range(2):
        for label, work in (
                ("a job a series", lambda: run_parallel(fit_series, items, 3, QUARTER_PATHS, 0, n_jobs=2,
                                                         plan=plans, given=given)),
                ("jobs of many", lambda: run_batches(fit_sparse_series, items, 3, QUARTER_PATHS, 0, plan,
                                                     n_jobs=2, given=given))):
            with AllClock() as clock:
                work()
            print(f"  {label:<20} {clock.cpu / n * 1000:6.2f} ms CPU a series, {clock.wall / n * 1000:5.2f} ms wall "
                  f"(CPU {clock.cpu:.1f} s, {in_reference(clock.cpu)}; wall {clock.wall:.1f} s)")


if __name__ == "__main__":
    main()
