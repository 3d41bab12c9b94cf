"""Cost of neighbourhood-level runs on N synthetic sparse series shaped like the real City of London LSOA ones,
for the national estimate in docs/SCALE.md, in the two parts a national run has:

1. the global model, trained once on the whole panel at each of the 5 cut-offs (4 backtest origins and the last
   month) and forecasting every series (`panel_forecasts`);
2. each series' own work, as `run` does it for a series with too few crimes for XmR signals: count SPC, the
   seasonal decomposition, the sparse model's backtest against the seasonal naive, its final fit with the global
   model's forecast blended in, and 2,000 sample paths for the quarter total, in parallel processes.

(`run --crime all` trains it once per cut-off too: past MAX_GLOBAL_ROWS its sample is fixed by the series' names,
whichever crime type is forecast, so the later crime types find the models the first trained.)

Each synthetic series takes the mean and dispersion (variance over mean) of a real LSOA series drawn at random
from the bundled city-of-london-lsoa (every series with a crime in its 60 months, so most are near-empty, as
national LSOA series are) and draws 60 monthly counts: negative binomial with that mean and dispersion, Poisson
where the dispersion is 1 or less. The series are 14 crime types x N/14 areas of one force.

Run: python benchmarks/bench_sparse_scale.py [N]   (default 20000)
"""

import os
import sys
import warnings

import numpy as np
import pandas as pd

from forecast.io import datasets
from forecast.data import Panel
from timing import AllClock, conditions

MONTHS = 60
CRIME_TYPES = 14


def synthetic_panel(n: int, seed: int = 0) -> Panel:
    real = datasets.load("city-of-london-lsoa").frame
    stats = real.groupby(["crime_type", "area"])["count"].agg(["mean", "var"])
    stats = stats[stats["mean"] > 0]
    rng = np.random.default_rng(seed)
    picked = stats.iloc[rng.integers(len(stats), size=n)]
    mean = picked["mean"].to_numpy()
    dispersion = np.maximum(picked["var"].to_numpy() / mean, 1.0)
    counts = np.empty((n, MONTHS))
    poisson = dispersion <= 1.0 + 1e-9
    counts[poisson] = rng.poisson(mean[poisson, None], (poisson.sum(), MONTHS))
    size = mean[~poisson] / (dispersion[~poisson] - 1)
    counts[~poisson] = rng.negative_binomial(size[:, None], (size / (size + mean[~poisson]))[:, None],
                                             ((~poisson).sum(), MONTHS))
    months = pd.period_range("2017-01", periods=MONTHS, freq="M")
    per_type = -(-n // CRIME_TYPES)
    frame = pd.DataFrame({
        "month": np.tile(months, n),
        "area": np.repeat([f"LSOA {i % per_type:05d}" for i in range(n)], MONTHS),
        "crime_type": np.repeat([f"Crime {i // per_type:02d}" for i in range(n)], MONTHS),
        "count": counts.ravel(),
    })
    return Panel(frame, "synthetic-lsoa", f"synthetic: {n} series like city-of-london-lsoa")


def local_work(key, y, horizon, plan, given=None):
    """One series' own work in `run` (see the module docstring): its SPC, then what `run`'s workers do with it
    (`fit_series`); returns the forecast, its notes naming the SPC chart."""
    from forecast.control import xmr as spc
    from forecast.jobs.run import QUARTER_PATHS, fit_series

    result = spc.analyse(y, *key)
    f = fit_series(key, y, horizon, QUARTER_PATHS, 0, plan, given).forecast
    f.notes.append(f"chart {result.chart.kind if result.chart else 'xmr'}")
    return f


def main() -> None:
    from forecast.engine.backtest import BacktestSettings, panel_forecasts, run_parallel

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print(conditions())
    panel = synthetic_panel(n)
    series = dict(panel.iter_series())
    zero = sum(int((y == 0).all()) for y in series.values())
    print(f"{len(series)} synthetic sparse series of {MONTHS} months, {len(panel.crime_types)} crime types; "
          f"{zero} with no crime at all")
    settings = BacktestSettings(models=("snaive", "sparse"))
    with AllClock() as trained, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = panel_forecasts(series, series, settings, horizon=3)
    print(f"1. the global model, 5 cut-offs, forecasting every series: {trained}"
          f"{'; ' + fit.note if fit.note else ''}")
    plans = {k: (settings, "sparse") for k in series}
    count = iter(range(1, len(series) + 1))

    def progress(_):
        k = next(count)
        if k % 2000 == 0:
            print(f"  {k} of {len(series)} series ...", flush=True)

    with AllClock() as local:
        done = run_parallel(local_work, series.items(), 3, plan=plans, given=fit.series, progress=progress)
    charts = pd.Series([note for f in done for note in f.notes if note.startswith("chart ")]).value_counts()
    print(f"2. each series' own work, {len(done)} series: {local}; charts: {charts.to_dict()}")
    per_local, per_global = local.cpu / len(done), trained.cpu / len(done)
    print(f"CPU a series: {per_local * 1000:.1f} ms own work + {per_global * 1000:.1f} ms of the global model = "
          f"{(per_local + per_global) * 1000:.1f} ms; wall {(local.wall + trained.wall) / len(done) * 1000:.1f} ms "
          f"a series on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
