"""Where a series' fitting cost goes: each local family of the ensemble, timed in this process at the three kinds
of fit `forecast run` makes of a series.

1. The first backtest origin: the family searches its form or orders (ETS stepwise by AICc, STL + ARIMA by
   pmdarima's stepwise search, Theta from scratch).
2. The later origins (3 of the default 4): the form and orders kept, refitted from the previous estimates.
3. The final fit on every month, and its forecast.

Then Theta's interval variance alone (statsmodels' estimate, an ARIMA(0,1,1) with drift fitted by SARIMAX, most of
a Theta fit), at the same origins and on all months: as the family fits it, and with a concentrated scale (one
parameter fewer to search), with how far the variances differ.

Each fit is followed by the forecast the backtest scores (3 months, mean and bounds), as in
forecast/engine/backtest.py. The series are the bundled met-major data's areas of one crime type (default Burglary;
`all`: every crime type), those of 36 months or more; one thread, CPU time of this process per series.

Run: python benchmarks/bench_families.py [CRIME]
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from forecast.engine.backtest import BacktestSettings, fit_family, fit_forecast, is_template, rolling_origins
from forecast.io import datasets
from timing import Clock, conditions, in_reference

FAMILIES = ("ets", "stl-arima", "theta", "snaive")


def series_of(crime: str) -> list:
    panel = datasets.load("met-major")
    chosen = [y for (c, _), y in panel.iter_series() if crime == "all" or c.lower().startswith(crime.lower())]
    return [y for y in chosen if len(y) >= 36]


def family_cost(name: str, series: list, settings: BacktestSettings) -> tuple[float, float, float]:
    """CPU seconds of the first origins' fits, the later origins' and the final fits of ``name`` over ``series``."""
    first = later = final = 0.0
    for y in series:
        template = None
        for i, n in enumerate(rolling_origins(len(y), settings)):
            with Clock() as clock:
                model, _ = fit_forecast(name, y.iloc[:n], settings.horizon, template)
            if i == 0:
                first += clock.cpu
            else:
                later += clock.cpu
            if is_template(model):
                template = model
        with Clock() as clock:
            fit_family(name, y, template).predict(settings.horizon)
        final += clock.cpu
    return first, later, final


def variance_cost(series: list, settings: BacktestSettings, concentrated: bool) -> tuple[float, np.ndarray]:
    """CPU seconds of Theta's variance fits from scratch at every origin and on all months, and the variances."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    variances = []
    with Clock() as clock:
        for y in series:
            values = y.to_numpy(dtype=float)
            for n in [*rolling_origins(len(values), settings), len(values)]:
                fit = SARIMAX(values[:n], order=(0, 1, 1), trend="c", concentrate_scale=concentrated).fit(
                    disp=False, cov_type="none")
                variances.append(fit.scale if concentrated else fit.params[-1])
    return clock.cpu, np.asarray(variances)


def main() -> None:
    from threadpoolctl import threadpool_limits

    crime = sys.argv[1] if len(sys.argv) > 1 else "burglary"
    print(conditions())
    series = series_of(crime)
    if not series:
        sys.exit(f"no met-major crime type starting {crime!r} has a series of 36 months or more")
    settings = BacktestSettings()
    print(f"{len(series)} met-major series ({crime}), {settings.origins} origins x {settings.horizon} months; "
          f"CPU milliseconds a series, one thread")
    print(f"{'family':<10} {'first origin':>13} {'later origins':>14} {'final fit':>10} {'total':>8}")
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_forecast("theta", series[0], settings.horizon)  # imports and first-call caches, not timed
        grand, started = 0.0, time.perf_counter()
        for name in FAMILIES:
            first, later, final = family_cost(name, series, settings)
            total = first + later + final
            grand += total
            print(f"{name:<10} " + " ".join(f"{t / len(series) * 1000:>{w}.1f}"
                                             for t, w in ((first, 13), (later, 14), (final, 10), (total, 8))))
        print(f"all four: {grand / len(series) * 1000:.1f} ms of CPU a series; CPU {grand:.1f} s in all "
              f"({in_reference(grand)}), wall {time.perf_counter() - started:.1f} s")
        (own, variance), (fewer, concentrated) = (variance_cost(series, settings, c) for c in (False, True))
        fits = len(variance)
        change = np.abs(concentrated / variance - 1)
        print(f"theta's interval variance, {fits} fits from scratch: {own / fits * 1000:.2f} ms a fit as fitted, "
              f"{fewer / fits * 1000:.2f} ms with a concentrated scale (variance moved by {np.median(change):.1e} "
              f"in the median, {change.max():.1e} at most)")


if __name__ == "__main__":
    main()
