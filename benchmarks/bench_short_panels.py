"""Short panels (what a planner at another force brings): does the global model still help the ensemble, and
from how many training rows?

Real Met major series, cut to short panels: 3 boroughs drawn at random, 18 to 60 months ending at a random month
of 2015-12..2018-12, with the force total of the three; either Robbery alone (4 series) or every crime type of
those boroughs (the global model then learns from all of them, as `forecast run` does). Each panel is
backtested (4 origins x 3 months, step 3) with the global model trained at every cut-off, whatever its size, and
scored two ways from the same predictions: the ensemble with the global model (the mean of the local median and
the global forecast) and without it (the local median of the ensemble's members: ETS and Theta since December
2026, ETS, Theta and STL + ARIMA before). Printed: the mean MASE of
each, the seasonal naive baseline, by the global model's training rows at the cut-off, then the ensemble's MASE
for each threshold of rows below which the global model would be left out (MIN_GLOBAL_ROWS).

Run: python benchmarks/bench_short_panels.py [panels per kind, default 8]
"""

import sys

import numpy as np
import pandas as pd

from forecast.engine import backtest
from forecast.io import datasets
from forecast.engine.backtest import BacktestSettings, backtest_panel, mase
from forecast.models import run_families
from forecast.models.ensemble import Ensemble
from timing import AllClock, conditions

MODELS = run_families()
LOCAL = list(Ensemble.default_members)
THRESHOLDS = (0, 40, 80, 120, 200, 400, 600, 1200, 4000)


def short_panels(n: int, rng: np.random.Generator):
    whole = datasets.load("met-major")
    areas = whole.areas
    ends = pd.period_range("2015-12", "2018-12", freq="M")
    for kind in ("robbery", "all types"):
        for _ in range(n):
            months = int(rng.choice([18, 21, 24, 36, 48, 60]))
            end = ends[rng.integers(len(ends))]
            chosen = list(rng.choice(areas, 3, replace=False))
            panel = whole.select(crime="robbery" if kind == "robbery" else None, area=chosen)
            frame = panel.frame[(panel.frame["month"] > end - months) & (panel.frame["month"] <= end)]
            from dataclasses import replace
            yield kind, months, replace(panel, frame=frame.reset_index(drop=True)).with_totals(all_crime=False)


def scored(result) -> pd.DataFrame:
    """Per series and origin: MASE of the ensemble with and without the global model, snaive, and the rows."""
    p = result.predictions
    metrics = result.metrics.set_index(["crime_type", "area", "origin", "model"])
    rows = []
    for (crime, area, origin), g in p.groupby(["crime_type", "area", "origin"]):
        wide = g.pivot(index="step", columns="model", values="mean")
        actual = g[g["model"] == "ensemble"].sort_values("step")["actual"].to_numpy()
        scale = metrics.loc[(crime, area, origin, "ensemble"), "scale"]
        model = result.global_fit.models.get(origin)
        rows.append({"kind": crime, "rows": model.n_rows_ if model is not None else 0,
                     "with_global": mase(actual, wide["ensemble"].to_numpy(), scale),
                     "without": mase(actual, wide[LOCAL].median(axis=1).to_numpy(), scale),
                     "snaive": mase(actual, wide["snaive"].to_numpy(), scale)})
    return pd.DataFrame(rows)


def main(n: int) -> None:
    print(conditions())
    backtest.MIN_GLOBAL_ROWS = 0  # train at every cut-off; the thresholds are applied afterwards
    settings = BacktestSettings(models=MODELS)
    frames = []
    with AllClock() as clock:
        for i, (kind, months, panel) in enumerate(short_panels(n, np.random.default_rng(7))):
            result = backtest_panel(panel.iter_series(), settings)
            frames.append(scored(result).assign(panel=i, kind=kind, months=months))
            print(f"panel {i} ({kind}, {months} months, {len(panel.keys())} series): done", flush=True)
    print(f"backtests: {clock}")
    all_rows = pd.concat(frames, ignore_index=True).dropna()
    bins = pd.cut(all_rows["rows"], [0, 80, 200, 400, 600, 1200, 4000, 10 ** 7], right=False)
    table = all_rows.groupby(bins, observed=True)[["with_global", "without", "snaive"]].agg(["mean", "count"])
    print("\nmean MASE by the global model's training rows at the cut-off (series x origins):")
    print(table.round(3).to_string())
    print("\nthe ensemble's mean MASE if the global model is left out below a threshold of rows:")
    for t in THRESHOLDS:
        chosen = np.where(all_rows["rows"] >= t, all_rows["with_global"], all_rows["without"])
        print(f"  MIN_GLOBAL_ROWS {t:>5}: {np.mean(chosen):.4f}")
    print(f"  (without the global model everywhere: {all_rows['without'].mean():.4f}; "
          f"seasonal naive: {all_rows['snaive'].mean():.4f}; {len(all_rows)} series x origins)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
