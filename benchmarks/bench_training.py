"""How the global model's trainings are shared out among the worker processes (forecast/engine/backtest.py).

A `run` on the Met major panel trains the global model at 5 cut-offs (4 backtest origins and the last month), each
about 2.5 s of CPU. Trained as whole models on 2 processes they take three rounds, the last on one process while
the other waits; `training_jobs` trains whole models while there is one for every process, then the rest a
quantile at a time (the 3 quantile models of a cut-off are independent). Here Robbery's run's 5 cut-offs are
trained both ways, alternately, on a warm pool of 2 processes, with nothing kept between passes (neither in the
process nor on disk); the forecasts of both are compared value for value.

Run: python benchmarks/bench_training.py [PASSES]   (default 3 passes of each, the best of them printed)
"""

import os
import sys
import tempfile

import numpy as np

from forecast.engine import backtest
from forecast.engine.backtest import BacktestSettings, TrainedModels, panel_forecasts
from forecast.io import datasets
from forecast.jobs.run import with_models
from forecast.models import DEFAULT_MODEL, DEFAULT_RUN
from timing import AllClock, conditions


def whole_models(cutoffs, n_jobs):
    """The schedule before: one job a cut-off."""
    return [(c, None) for c in cutoffs]


def train(schedule, panel, series, settings) -> tuple[AllClock, dict]:
    backtest.TRAINED = TrainedModels()
    backtest.training_jobs, saved = schedule, backtest.training_jobs
    try:
        with tempfile.TemporaryDirectory() as kept, AllClock() as clock:
            os.environ["FORECAST_MODEL_CACHE"] = kept
            fit = panel_forecasts(panel, series, settings, horizon=3, n_jobs=2)
    finally:
        backtest.training_jobs = saved
    return clock, {k: f.final.quantiles_ for k, f in fit.series.items()}


def main() -> None:
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(conditions())
    panel = datasets.load("met-major")
    series = dict(panel.select(crime="Robbery").iter_series())
    settings = with_models(BacktestSettings(models=DEFAULT_RUN), DEFAULT_MODEL)
    schedules = {"one job a cut-off (before)": whole_models, "quantiles of the last cut-off split": backtest.training_jobs}
    train(backtest.training_jobs, panel, series, settings)  # the pool started and its imports made
    clocks = {name: [] for name in schedules}
    forecasts = {}
    for _ in range(passes):
        for name, schedule in schedules.items():
            clock, forecasts[name] = train(schedule, panel, series, settings)
            clocks[name].append(clock)
    first, second = forecasts.values()
    same = first.keys() == second.keys() and all(
        np.array_equal(first[k][q], second[k][q]) for k in first for q in first[k])
    print(f"Met major, Robbery's run: the global model at 5 cut-offs of {len(list(panel.iter_series()))} series, "
          f"on 2 processes; best of {passes} passes (by wall)")
    for name, found in clocks.items():
        print(f"  {name}: {min(found, key=lambda c: c.wall)}")
    print(f"  forecasts the same, value for value: {same}")


if __name__ == "__main__":
    main()
