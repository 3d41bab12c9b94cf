"""Which local members the ensemble needs: the ensemble as it is (the median of ETS, Theta and STL + ARIMA, blended
with the global model) against the same without each member, and Theta alone with the global model, all
composed from the same predictions as forecast.models.ensemble composes them.

The local families are about 0.29 of the 0.48 CPU-s a series of `run --crime all` on met-major (issue 43's target
is 0.4): ETS 108.1, STL + ARIMA 147.3 and Theta 31.9 ms a series (3e0a852, `bench_families.py all`). No exact
saving reaches the target; a cheaper ensemble would, if it forecast as well. Read on 12 quarterly origins: the
last 4 are the windows of the README's accuracy table (bench_backtest.py), the 8 before them windows no choice
here was made on. With two local members their median is their mean.

Met major, last 96 months, 12 origins x 3 months, step 3 (`forecast backtest`, timed, CPU beside wall; the
families search their form at the first origin and keep it, so the last 4 origins' forecasts differ a little
from those of a 4-origin backtest). Means over the 288 series of 36+ months and their origins of MASE, the scaled
pinball loss of the four interval bounds (SPL: it rewards intervals both narrow and where they should be) and
sMAPE, and how often the 80% and 95% intervals held, scored by the backtest's own functions. The first row,
recomputed from its members, must equal the ensemble as run (checked).

Run: python benchmarks/bench_members.py [--from benchmarks/out/bench_members.csv]  (--from reuses the backtest)
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench_global import COLUMNS, wide, with_actual
from forecast.engine.backtest import coverage, mase, mase_scale, scaled_pinball, smape
from forecast.files import read_csv
from forecast.io import datasets
from forecast.models.ensemble import blend, combine
from timing import conditions, run_forecast

PREDICTIONS = Path("benchmarks/out/bench_members.csv")
ORIGINS = 12
#: the compositions scored, by their local members (each blended with the global model, as the ensemble is)
VARIANTS = {"ensemble: ets, theta, stl-arima + global (as run)": ("ets", "theta", "stl-arima"),
            "without stl-arima: ets, theta + global": ("ets", "theta"),
            "without ets: theta, stl-arima + global": ("theta", "stl-arima"),
            "without theta: ets, stl-arima + global": ("ets", "stl-arima"),
            "theta + global": ("theta",)}


def backtest() -> pd.DataFrame:
    result = run_forecast("backtest", "--data", "met-major", "--last", "96", "--models",
                          "snaive,ets,theta,stl-arima,global,ensemble", "--origins", str(ORIGINS), "--horizon", "3",
                          "--step", "3", "--min-months", "36", "-o", str(PREDICTIONS), "--no-track")
    if result.returncode:
        sys.exit(result.stderr)
    print(result.stdout)
    print(result.line(f"forecast backtest, {ORIGINS} origins"))
    return read_csv(PREDICTIONS, dtype={"crime_type": str, "area": str})


def composed(by_model: dict[str, pd.DataFrame], members: tuple[str, ...]) -> pd.DataFrame:
    """The ensemble's forecast from these members' predictions, as forecast.models.ensemble combines them."""
    local = combine([by_model[m][COLUMNS] for m in members])
    return with_actual(blend(local, by_model["global"][COLUMNS]), by_model[members[0]])


def table(frames: dict[str, pd.DataFrame], series: dict, origins: list[str]) -> pd.DataFrame:
    """Per forecast: the means over series and origins of MASE, the scaled pinball loss of the four bounds (SPL)
    and sMAPE, and how often the intervals held, scored by the backtest's own functions."""
    rows = []
    for name, frame in frames.items():
        mine = frame[frame.index.get_level_values("origin").isin(origins)]
        per = []
        for (crime, area, origin), g in mine.groupby(level=[0, 1, 2]):
            y = series[(crime, area)]
            scale = mase_scale(y[y.index <= pd.Period(origin, "M")].to_numpy(dtype=float))
            per.append((mase(g["actual"], g["mean"], scale), scaled_pinball(g["actual"], g, scale),
                        smape(g["actual"], g["mean"])))
        means = np.nanmean(np.array(per), axis=0)
        rows.append((name, *means, coverage(mine["actual"], mine["lo_80"], mine["hi_80"]),
                     coverage(mine["actual"], mine["lo_95"], mine["hi_95"])))
    return pd.DataFrame(rows, columns=["forecast", "MASE", "SPL", "sMAPE %", "80% held", "95% held"]).set_index(
        "forecast")


def main() -> None:
    print(conditions())
    series = dict(datasets.load("met-major").last_months(96).iter_series())
    if "--from" in sys.argv:
        predictions = read_csv(Path(sys.argv[sys.argv.index("--from") + 1]), dtype={"crime_type": str, "area": str})
    else:
        predictions = backtest()
    scored = {k for k, s in series.items() if len(s) >= 36} & set(zip(predictions["crime_type"], predictions["area"]))
    by_model = wide(predictions[predictions.set_index(["crime_type", "area"]).index.isin(scored)])
    frames = {name: composed(by_model, members) for name, members in VARIANTS.items()}
    as_run = by_model["ensemble"][COLUMNS]
    recomputed = frames[next(iter(VARIANTS))][COLUMNS]
    assert np.allclose(recomputed.to_numpy(), as_run.to_numpy(), equal_nan=True), "the recomputed ensemble differs"
    frames.update({m: by_model[m] for m in ("snaive", "ets", "theta", "stl-arima", "global")})
    origins = sorted(set(predictions["origin"]))
    print(f"\nMet major, {len(scored)} series of 36+ months; means over series and origins (snaive = last "
          "year's months):")
    parts = [(f"all {len(origins)} origins ({origins[0]} to {origins[-1]})", origins)]
    if len(origins) > 4:
        parts += [(f"the last 4 ({origins[-4]} to {origins[-1]}), the accuracy table's windows", origins[-4:]),
                  (f"the {len(origins) - 4} before them ({origins[0]} to {origins[-5]})", origins[:-4])]
    for label, chosen in parts:
        print(f"\n{label}:")
        print(table(frames, series, chosen).round(4).to_string())


if __name__ == "__main__":
    main()
