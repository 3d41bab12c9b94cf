"""Cost of neighbourhood-level runs: `run_forecast` (count SPC, the sparse model's backtest against the seasonal
naive, the global model, sample paths, top-down reconciliation) on N synthetic sparse series shaped like the real
City of London LSOA ones, and the national estimate from the measured CPU per series (docs/SCALE.md).

Each synthetic series takes the mean and dispersion (variance over mean) of a real LSOA series drawn at random
from the bundled city-of-london-lsoa (every series with a crime in its 60 months, so most are near-empty, as
national LSOA series are) and draws 60 monthly counts: negative binomial with that mean and dispersion, Poisson
where the dispersion is 1 or less. The series are 14 crime types x N/14 areas, one force, run a crime type at a
time as `forecast run --crime all` would, with the whole panel training the global model.

Run: python benchmarks/bench_sparse_scale.py [N]   (default 20000)
"""

import sys
import warnings

import numpy as np
import pandas as pd

from forecast import datasets
from forecast.data import Panel
from forecast.run import run_forecast
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print(conditions())
    panel = synthetic_panel(n).with_totals()
    series = sum(1 for _ in panel.iter_series())
    crimes = panel.crime_types
    print(f"{n} synthetic sparse series, {len(crimes)} crime types; with the force totals and All crime: {series}")
    done, low = 0, 0
    with AllClock() as clock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for crime in crimes:
            result = run_forecast(panel, crime, 3, n_paths=0, train=panel)
            done += len(result.keys)
            low += sum(f.chosen == "sparse" for f in result.forecasts.values())
    print(f"run_forecast of {done} series ({low} forecast with the sparse model): {clock}")
    print(f"per series: wall {clock.wall / done * 1000:.1f} ms, CPU {clock.cpu / done * 1000:.1f} ms")


if __name__ == "__main__":
    main()
