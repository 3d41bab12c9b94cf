"""The global model (forecast/models/gbm.py): does one model trained across the panel improve the forecasts?

1. Met major panel, last 96 months, 4 origins x 3 months, step 3, means over the 288 series of 36+ months (the
   windows of bench_backtest.py): `forecast backtest` with the local families, the global model and the
   ensemble, timed (CPU beside wall). Printed beside them, from the same predictions: the ensemble as it was
   before the global model joined it (the median of its local members alone), the ensemble of ETS, Theta and
   STL + ARIMA (the default members until December 2026), and other ways of combining.
2. What the global model trains on: the whole panel (every crime type) against each crime type alone.
3. Unrelated series (different data sets, crime types, places and lengths; 3, 6 and 12 of them): the ensemble
   and auto with and without the global model (the local families' scores do not change).

Run: python benchmarks/bench_global.py [--from benchmarks/out/bench_global.csv]  (--from reuses step 1's CSV)
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io import datasets
from forecast.engine.backtest import BacktestSettings, backtest_panel, mase, mase_scale, panel_forecasts
from forecast.models.base import LEVELS
from forecast.models.ensemble import Ensemble, blend, combine
from forecast.files import read_csv
from timing import Clock, conditions, run_forecast

PREDICTIONS = Path("benchmarks/out/bench_global.csv")
LOCAL = list(Ensemble.default_members)
#: the ensemble's members until December 2026
THREE = ["ets", "theta", "stl-arima"]
COLUMNS = ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
INDEX = ["crime_type", "area", "origin", "month"]


def backtest() -> pd.DataFrame:
    result = run_forecast("backtest", "--data", "met-major", "--last", "96", "--models",
                          "snaive,ets,theta,stl-arima,global,ensemble", "--origins", "4", "--horizon", "3", "--step",
                          "3", "--min-months", "36", "-o", str(PREDICTIONS), "--no-track")
    if result.returncode:
        sys.exit(result.stderr)
    print(result.stdout)
    print(result.line("forecast backtest, local families + global + ensemble"))
    return read_csv(PREDICTIONS, dtype={"crime_type": str, "area": str})


def scores(frames: dict[str, pd.DataFrame], series: dict) -> pd.DataFrame:
    """Mean MASE over series and origins, and interval coverage, of each named prediction frame (indexed by
    INDEX, with an ``actual`` column)."""
    rows = []
    for name, f in frames.items():
        per_origin = []
        for (crime, area, origin), g in f.groupby(level=[0, 1, 2]):
            y = series[(crime, area)].to_numpy(dtype=float)
            n_train = int((series[(crime, area)].index <= pd.Period(origin, "M")).sum())
            per_origin.append(mase(g["actual"], g["mean"], mase_scale(y[:n_train])))
        inside = {level: ((f["actual"] >= f[f"lo_{level}"]) & (f["actual"] <= f[f"hi_{level}"])).mean()
                  for level in LEVELS}
        rows.append((name, np.nanmean(per_origin), inside[80], inside[95]))
    return pd.DataFrame(rows, columns=["forecast", "mase", "coverage_80", "coverage_95"]).set_index("forecast")


def wide(predictions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {m: g.set_index(INDEX)[[*COLUMNS, "actual"]].sort_index() for m, g in predictions.groupby("model")}


def with_actual(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(actual=like["actual"])


def combinations(by_model: dict[str, pd.DataFrame], panel_model: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The local median alone, blended with the global forecasts (the ensemble), the median of the local members
    and global together, and the same for the three members of the ensemble until December 2026."""
    local = by_model[LOCAL[0]]
    median = combine([by_model[m][COLUMNS] for m in LOCAL])
    out = {"local median (the ensemble before)": with_actual(median, local),
           "mean of local median and global (the ensemble)": with_actual(blend(median, panel_model[COLUMNS]), local),
           "median of the local members and global": with_actual(
               combine([*(by_model[m][COLUMNS] for m in LOCAL), panel_model[COLUMNS]]), local)}
    if all(m in by_model for m in THREE) and THREE != LOCAL:
        median3 = combine([by_model[m][COLUMNS] for m in THREE])
        out |= {"local median of ets, theta, stl-arima": with_actual(median3, local),
                "mean of that median and global (the ensemble until December 2026)": with_actual(
                    blend(median3, panel_model[COLUMNS]), local),
                "median of the three local and global": with_actual(
                    combine([*(by_model[m][COLUMNS] for m in THREE), panel_model[COLUMNS]]), local)}
    return out


def global_frames(fit, keys, actual: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key in keys:
        for origin, model in fit.series[key].origins.items():
            f = model.predict(3).reset_index(names="month").assign(crime_type=key[0], area=key[1], origin=origin)
            rows.append(f.assign(month=f["month"].astype(str)))
    return pd.concat(rows).set_index(INDEX)[COLUMNS].sort_index().assign(actual=actual["actual"])


def scope(predictions: pd.DataFrame, series: dict, scored: set) -> None:
    """The global model trained on the whole panel against one trained on each crime type alone."""
    settings = BacktestSettings(origins=4, horizon=3, step=3, models=("global",))
    by_model = wide(predictions[predictions.set_index(["crime_type", "area"]).index.isin(scored)])
    actual = by_model[LOCAL[0]]
    keys = sorted(scored)
    with Clock() as whole_clock:
        whole = global_frames(panel_forecasts(series, {k: series[k] for k in keys}, settings), keys, actual)
    with Clock() as types_clock:
        parts = []
        for crime in sorted({k[0] for k in series}):
            mine = {k: s for k, s in series.items() if k[0] == crime}
            wanted = [k for k in keys if k[0] == crime]
            parts.append(global_frames(panel_forecasts(mine, {k: series[k] for k in wanted}, settings), wanted, actual))
    each = pd.concat(parts).sort_index()
    table = scores({"global, trained on the whole panel": whole, "global, trained on each crime type alone": each,
                    **{f"ensemble with the {name}": frame for name, frame in
                       (("whole-panel model", combinations(by_model, whole)["mean of local median and global (the ensemble)"]),
                        ("per-type models", combinations(by_model, each)["mean of local median and global (the ensemble)"]))}},
                   series)
    print(table.round(3).to_string())
    print(f"training and forecasting, whole panel: {whole_clock}; each crime type: {types_clock} (main process, "
          f"the cut-offs in parallel worker processes)")


def unrelated() -> dict:
    """A dozen series of different kinds: crime types, places, sizes, lengths and end months."""
    picks = [("met-major", "Robbery", "Westminster"), ("met-major", "Drugs", "Sutton"),
             ("met-minor", "Theft/Taking of Pedal Cycles", "Hackney"), ("met-minor", "Murder", "Lambeth"),
             ("met-minor", "Harassment", "Bromley"), ("met-minor", "Theft From Shops", "Croydon"),
             ("city-of-london", "Shoplifting", "City of London"), ("city-of-london", "Vehicle crime", "Tower Hamlets"),
             ("city-of-london", "Anti-social behaviour", "City of London"),
             ("city-of-london", "Violence and sexual offences", "Westminster"),
             ("city-of-london", "Theft from the person", "Westminster"), ("west-midlands", "All crime", "All areas")]
    out = {}
    for data, crime, area in picks:
        y = datasets.load(data).series(crime, area)
        out[(f"{crime} ({data})", area)] = y
    return out


def small_panel() -> None:
    """The ensemble and auto with and without the global model on 3, 6 and 12 unrelated series."""
    import forecast.engine.backtest as bt

    every = unrelated()
    settings = BacktestSettings(origins=4, horizon=3, step=3, models=("snaive", *LOCAL, "global", "ensemble"))
    lengths = sorted(len(s) for s in every.values())
    print(f"{len(every)} series of {lengths[0]} to {lengths[-1]} months; the first n of them, mean MASE:")
    rows = {}
    minimum = bt.MIN_GLOBAL_SERIES
    try:
        for n in (3, 6, 12):
            series = dict(list(every.items())[:n])
            bt.MIN_GLOBAL_SERIES = 10 ** 6
            with Clock() as clock:
                without = backtest_panel(series.items(), settings).summary().set_index("model")["mase"]
            bt.MIN_GLOBAL_SERIES = 1
            with_global = backtest_panel(series.items(), settings).summary().set_index("model")["mase"]
            for model in ("snaive", "global", "ensemble", "auto"):
                rows[(model, "without")] = rows.get((model, "without"), {}) | {n: without.get(model, np.nan)}
                rows[(model, "with")] = rows.get((model, "with"), {}) | {n: with_global.get(model, np.nan)}
            print(f"  {n} series: backtest without the global model {clock}")
    finally:
        bt.MIN_GLOBAL_SERIES = minimum
    table = pd.DataFrame(rows).T.rename(columns=lambda n: f"{n} series")
    table.index = [f"{model} ({'with' if kind == 'with' else 'without'} the global model)" for model, kind in table.index]
    print(table.dropna(how="all").round(3).to_string())
    print(f"forecast trains the global model on panels of {minimum} series or more")


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").last_months(96)
    series = dict(panel.iter_series())
    if "--from" in sys.argv:
        predictions = read_csv(Path(sys.argv[sys.argv.index("--from") + 1]), dtype={"crime_type": str, "area": str})
    else:
        predictions = backtest()
    scored = {k for k, s in series.items() if len(s) >= 36} & set(zip(predictions["crime_type"], predictions["area"]))
    mine = predictions[predictions.set_index(["crime_type", "area"]).index.isin(scored)]
    by_model = wide(mine)
    print(f"\n1. Met major, {len(scored)} series of 36+ months, mean MASE over series and origins "
          f"(snaive = last year's months):")
    table = scores({**{m: by_model[m] for m in ("snaive", *THREE, "global", "ensemble", "auto") if m in by_model},
                    **combinations(by_model, by_model["global"])}, series)
    print(table.round(3).to_string())
    print("\n2. What the global model learns from:")
    scope(predictions, series, scored)
    print("\n3. A dozen unrelated series:")
    small_panel()


if __name__ == "__main__":
    main()
