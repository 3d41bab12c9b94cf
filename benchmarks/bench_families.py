"""Where a series' fitting cost goes: each local family of the ensemble, timed in this process at the three kinds
of fit `forecast run` makes of a series.

1. The first backtest origin: the family searches its form or orders (ETS stepwise by AICc, STL + ARIMA by
   pmdarima's stepwise search, Theta from scratch).
2. The later origins (3 of the default 4): the form and orders kept, refitted from the previous estimates.
3. The final fit on every month, and its forecast.

Then Theta's interval variance alone, at the same origins and on all months: the family's own (the mean square of
its one-step errors) against statsmodels' estimate (ThetaModelResults.sigma2, an ARIMA(0,1,1) with drift fitted
to the raw series by SARIMAX, which the family used before and which was most of a Theta fit), with how far the
two variances differ.

Each fit is followed by the forecast the backtest scores (3 months, mean and bounds), as in
forecast/engine/backtest.py. The series are the bundled met-major data's areas of one crime type (default Burglary;
`all`: every crime type), those of 36 months or more; one thread, CPU time of this process per series. With
`lsoa:N` they are instead the series `forecast run` forecasts with these families on bench_sparse_run's panel of N
synthetic neighbourhood series: the totals it adds, and the neighbourhoods with 5 or more crimes a month (its SPC
does not call them low-count).

Run: python benchmarks/bench_families.py [CRIME | lsoa:N]
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


def smooth_lsoa_series(n: int) -> list:
    """The series of bench_sparse_run's panel of ``n`` that `forecast run --crime all` forecasts with the ensemble
    rather than the sparse model: the same panel, its totals added, and the same SPC rule (forecast/jobs/run.py)."""
    from bench_sparse_scale import synthetic_panel

    from forecast.control import xmr

    panel = synthetic_panel(n).with_totals()
    return [y for (crime, area), y in panel.iter_series() if not xmr.is_low_count(xmr.analyse(y, crime, area))]


def series_of(crime: str) -> list:
    if crime.startswith("lsoa:"):
        n = crime.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            sys.exit(f"{crime!r}: lsoa:N needs a whole number of series, 1 or more")
        return [y for y in smooth_lsoa_series(int(n)) if len(y) >= 36]
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


def variance_cost(series: list, settings: BacktestSettings) -> tuple[float, float, np.ndarray, np.ndarray]:
    """CPU seconds of Theta's own interval variances and of statsmodels' at every origin and on all months, and the
    variances (own, statsmodels')."""
    own, theirs, own_cpu, their_cpu = [], [], 0.0, 0.0
    for y in series:
        for n in [*rolling_origins(len(y), settings), len(y)]:
            model = fit_family("theta", y.iloc[:n])
            with Clock() as clock:
                own.append(model.one_step_variance())
            own_cpu += clock.cpu
            with Clock() as clock:
                theirs.append(float(model.result_.sigma2))
            their_cpu += clock.cpu
    return own_cpu, their_cpu, np.asarray(own), np.asarray(theirs)


def main() -> None:
    from threadpoolctl import threadpool_limits

    crime = sys.argv[1] if len(sys.argv) > 1 else "burglary"
    print(conditions())
    series = series_of(crime)
    if not series:
        sys.exit(f"no {'such synthetic panel' if crime.startswith('lsoa:') else 'met-major crime type starting'} "
                 f"{crime!r} has a series of 36 months or more")
    settings = BacktestSettings()
    source = "synthetic neighbourhood panel's smooth" if crime.startswith("lsoa:") else "met-major"
    print(f"{len(series)} {source} series ({crime}), {settings.origins} origins x {settings.horizon} months; "
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
        own_cpu, their_cpu, own, theirs = variance_cost(series, settings)
        fits = len(own)
        ratio = own / theirs
        print(f"theta's interval variance, {fits} fits: its own one-step errors {own_cpu / fits * 1000:.2f} ms a fit, "
              f"statsmodels' ARIMA(0,1,1) {their_cpu / fits * 1000:.2f} ms; own / statsmodels' variance "
              f"{np.median(ratio):.2f} in the median ({np.quantile(ratio, 0.1):.2f} to {np.quantile(ratio, 0.9):.2f}, "
              f"10th to 90th percentile)")


if __name__ == "__main__":
    main()
