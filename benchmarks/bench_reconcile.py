"""Reconciled forecasts on the Met major panel: does making the boroughs add up to the force total cost accuracy?

For each of the 9 major crime types, the force total and its 33 areas are backtested with the ensemble (last 96
months, 8 origins x 3 months, step 3); the last 4 origins are scored, as in bench_backtest.py. At each scored
origin the base forecasts are reconciled with each method of forecast/reconcile.py; mint's covariance is that of
the errors at the earlier origins only (nested), so no method sees the future. Printed: mean MASE at the force
total and at the area level (series of 36+ months), and the coverage of 80% / 95% intervals: Gaussian, with the
spread that `forecast run`'s reconciled sample paths have when each series' own paths are independent (the base
intervals' spread mapped by the method).

Run: python benchmarks/bench_reconcile.py [--from out/bench_reconcile_backtest.csv]
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from forecast import datasets
from forecast.backtest import mase, mase_scale
from forecast.data import ALL_AREAS, ALL_CRIME
from forecast.output import read_csv, write_csv
from forecast.reconcile import METHODS, Z, reconcile, reconciled_spread, shrunk_covariance
from timing import Clock, conditions, run_forecast

PREDICTIONS = Path("out/bench_reconcile_backtest.csv")
SCORED = 4


def backtest(panel) -> pd.DataFrame:
    data = write_csv(panel.frame[panel.frame["crime_type"] != ALL_CRIME], Path("out/met-major-with-totals.csv"))
    result = run_forecast("backtest", "--data", str(data), "--last", "96", "--models", "ets,theta,stl-arima,ensemble",
                          "--origins", "8", "--horizon", "3", "--step", "3", "--min-months", "36", "-o",
                          str(PREDICTIONS), "--no-track")
    if result.returncode:
        sys.exit(result.stderr)
    print(result.line("backtest of the ensemble and its members, 8 origins, force totals and areas"))
    return read_csv(PREDICTIONS, dtype={"crime_type": str, "area": str})


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    if "--from" in sys.argv:
        predictions = read_csv(sys.argv[sys.argv.index("--from") + 1], dtype={"crime_type": str, "area": str})
    else:
        predictions = backtest(panel)
    rows = []
    with Clock() as clock:
        ens = predictions[predictions["model"] == "ensemble"]
        origins = sorted(ens["origin"].unique())
        for crime, frame in ens.groupby("crime_type"):
            areas = [ALL_AREAS] + sorted(a for a in frame["area"].unique() if a != ALL_AREAS)
            values = {a: panel.series(crime, a) for a in areas}
            by = {(o, a): g.sort_values("step") for (o, a), g in frame.groupby(["origin", "area"])}
            for o in origins:  # a part too short to backtest (the airports, from 2017) is forecast flat at its mean
                for a in areas:
                    if (o, a) not in by:
                        y = values[a]
                        train = y[:pd.Period(o, "M")]
                        months = pd.period_range(pd.Period(o, "M") + 1, periods=3, freq="M")
                        level = float(train.mean()) if len(train) else 0.0
                        spread = float(train.std()) if len(train) > 1 else 1.0
                        by[(o, a)] = pd.DataFrame({"step": [1, 2, 3], "mean": level,
                                                   "actual": y.reindex(months).fillna(0).to_numpy(),
                                                   "lo_80": level - Z[80] * spread, "hi_80": level + Z[80] * spread})
            for k, origin in enumerate(origins):
                if k < len(origins) - SCORED:
                    continue
                base = np.vstack([by[(origin, a)]["mean"].to_numpy() for a in areas])
                actual = np.vstack([by[(origin, a)]["actual"].to_numpy() for a in areas])
                sd = np.vstack([(by[(origin, a)]["hi_80"] - by[(origin, a)]["lo_80"]).to_numpy() / (2 * Z[80])
                                for a in areas])
                errors = np.vstack([np.hstack([(by[(o, a)]["actual"] - by[(o, a)]["mean"]).to_numpy() for a in areas])
                                    .reshape(1, -1) for o in origins[:k]]).reshape(k, len(areas), 3)
                samples = errors.transpose(0, 2, 1).reshape(-1, len(areas))  # one row per earlier origin and step
                W = shrunk_covariance(samples)
                variances = (sd ** 2).mean(axis=1)
                for method in METHODS:
                    # the spread of the run's reconciled paths, whose series' own paths are independent
                    mean = reconcile(base, method, variances=variances, covariance=W)
                    spread = reconciled_spread(base, sd, method, variances=variances, covariance=W)
                    for i, area in enumerate(areas):
                        train = values[area][:pd.Period(origin, "M")].to_numpy(dtype=float)
                        if len(train) < 36:
                            continue
                        row = {"crime_type": crime, "area": area, "origin": origin, "method": method,
                               "level": "force total" if area == ALL_AREAS else "area",
                               "mase": mase(actual[i], mean[i], mase_scale(train))}
                        for level, z in Z.items():
                            row[f"coverage_{level}"] = float(np.mean(np.abs(actual[i] - mean[i]) <= z * spread[i]))
                        rows.append(row)
    table = pd.DataFrame(rows).groupby(["method", "level"])[["mase", "coverage_80", "coverage_95"]].mean()
    print(f"reconciliation of {len(rows) // len(METHODS)} series-origins: {clock}")
    print(f"\nMet major, 9 crime types x (force total + areas), last {SCORED} origins x 3 months:")
    print(f"{'method':10} {'level':12} {'MASE':>6} {'80% cover':>10} {'95% cover':>10}")
    for (method, level), r in table.reindex(METHODS, level=0).iterrows():
        print(f"{method:10} {level:12} {r['mase']:6.3f} {r['coverage_80']:10.1%} {r['coverage_95']:10.1%}")


if __name__ == "__main__":
    main()
