"""Reconciled forecasts on the Met major panel: does making the forecasts add up cost accuracy?

Every series of the 9 major crime types in the 33 areas, with each crime type's force total, each area's All crime
and the force's All crime, is backtested with the ensemble (last 96 months, 8 origins x 3 months, step 3); the
last 4 origins are scored, as in bench_backtest.py. At each scored origin the base forecasts are reconciled:

1. areas within each crime type's force total, with each method of forecast/reconcile.py (MinT's covariance from
   the errors at the earlier origins only, so no method sees the future);
2. crime types within each area's All crime, and both structures at once (the grouped structure), with the
   methods `forecast backtest` offers (forecast/reconcile.py, `plan` and `reconcile_predictions`).

Printed: mean MASE per level (series of 36+ months) and the coverage of 80% / 95% intervals: normal, with the
spread that `forecast run`'s reconciled sample paths have when each series' own paths are independent. A series
too short to backtest at an origin (the airports, from 2017) is forecast flat at its mean there.

Run: python benchmarks/bench_reconcile.py [--from out/bench_reconcile_backtest.csv]
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io import datasets
from forecast.engine.backtest import mase, mase_scale
from forecast.data import ALL_AREAS, ALL_CRIME
from forecast.files import read_csv
from forecast.models.base import LEVELS, z_value
from forecast.models.paths import implied_sd
from forecast.engine.reconcile import METHODS, plan, reconcile, reconcile_predictions, reconciled_spread, shrunk_covariance
from timing import Clock, conditions, run_forecast

PREDICTIONS = Path("out/bench_reconcile_backtest.csv")
SCORED = 4


def backtest() -> pd.DataFrame:
    result = run_forecast("backtest", "--data", "met-major", "--force-totals", "--all-crime", "--reconcile", "none",
                          "--last", "96", "--models", "ets,theta,ensemble", "--origins", "8", "--horizon",
                          "3", "--step", "3", "--min-months", "36", "-o", str(PREDICTIONS), "--no-track")
    if result.returncode:
        sys.exit(result.stderr)
    print(result.line("backtest of the ensemble and its members, 8 origins, every series with its totals"))
    return read_csv(PREDICTIONS, dtype={"crime_type": str, "area": str})


def filled(ens: pd.DataFrame, series: dict, origins: list[str]) -> pd.DataFrame:
    """The ensemble's predictions with a flat forecast at its mean for a series too short to backtest at an
    origin (its spread: the history's standard deviation)."""
    have = set(zip(ens["crime_type"], ens["area"], ens["origin"]))
    rows = [ens]
    for (crime, area), y in series.items():
        for o in origins:
            if (crime, area, o) in have:
                continue
            train = y[:pd.Period(o, "M")]
            months = pd.period_range(pd.Period(o, "M") + 1, periods=3, freq="M")
            level = float(train.mean()) if len(train) else 0.0
            spread = float(train.std()) if len(train) > 1 else 1.0
            rows.append(pd.DataFrame({"crime_type": crime, "area": area, "model": "ensemble", "origin": o,
                                      "month": months.astype(str), "step": [1, 2, 3],
                                      "actual": y.reindex(months).fillna(0).to_numpy(), "mean": level,
                                      **{f"{side}_{lv}": level + sign * z_value(lv) * spread for lv in LEVELS
                                         for side, sign in (("lo", -1), ("hi", 1))}}))
    return pd.concat(rows, ignore_index=True)


def level_of(crime: str, area: str) -> str:
    if crime == ALL_CRIME:
        return "force All crime" if area == ALL_AREAS else "All crime per area"
    return "force total per type" if area == ALL_AREAS else "area x type"


def scores(frame: pd.DataFrame, series: dict, method: str, structure: str, origins: list[str]) -> list[dict]:
    rows = []
    for (crime, area, origin), g in frame[frame["origin"].isin(origins)].groupby(["crime_type", "area", "origin"]):
        train = series[(crime, area)][:pd.Period(origin, "M")].to_numpy(dtype=float)
        if len(train) < 36:
            continue
        actual, mean = g["actual"].to_numpy(), g["mean"].to_numpy()
        row = {"structure": structure, "method": method, "level": level_of(crime, area),
               "mase": mase(actual, mean, mase_scale(train))}
        for lv in LEVELS:
            row[f"coverage_{lv}"] = float(np.mean((actual >= g[f"lo_{lv}"]) & (actual <= g[f"hi_{lv}"])))
        rows.append(row)
    return rows


def areas_within_totals(ens: pd.DataFrame, series: dict, origins: list[str]) -> pd.DataFrame:
    """Every method of forecast/reconcile.py on areas within each crime type's force total, origin by origin."""
    out = []
    for crime, frame in ens[ens["crime_type"] != ALL_CRIME].groupby("crime_type"):
        areas = [ALL_AREAS] + sorted(a for a in frame["area"].unique() if a != ALL_AREAS)
        by = {(o, a): g.sort_values("step") for (o, a), g in frame.groupby(["origin", "area"])}
        for k, origin in enumerate(origins):
            if k < len(origins) - SCORED:
                continue
            base = np.vstack([by[(origin, a)]["mean"].to_numpy() for a in areas])
            sd = np.vstack([implied_sd(by[(origin, a)]) for a in areas])
            errors = np.stack([np.stack([(by[(o, a)]["actual"] - by[(o, a)]["mean"]).to_numpy() for a in areas])
                               for o in origins[:k]])  # earlier origins x series x step
            W = shrunk_covariance(errors.transpose(0, 2, 1).reshape(-1, len(areas)))
            variances = (sd ** 2).mean(axis=1)
            for method in METHODS:
                mean = reconcile(base, method, variances=variances, covariance=W)
                spread = reconciled_spread(base, sd, method, variances=variances, covariance=W)
                for i, area in enumerate(areas):
                    g = by[(origin, area)].copy()
                    g["mean"] = mean[i]
                    for lv in LEVELS:
                        half = z_value(lv) * spread[i]
                        g[f"lo_{lv}"], g[f"hi_{lv}"] = mean[i] - half, mean[i] + half
                    out += scores(g, series, method, "areas in force totals", [origin])
    return pd.DataFrame(out)


def types_and_grouped(ens: pd.DataFrame, series: dict, origins: list[str]) -> pd.DataFrame:
    """Crime types within each area's All crime, and the grouped structure, as `forecast backtest` reconciles."""
    scored = origins[-SCORED:]
    ens = ens[ens["origin"].isin(scored)]
    per_area = {k: y for k, y in series.items() if k[1] != ALL_AREAS}
    out = scores(ens, series, "none", "crime types in All crime", scored)
    out += scores(ens, series, "none", "grouped", scored)
    for method in ("bottom-up", "top-down", "wls"):
        frame, _, left = reconcile_predictions(ens, plan(per_area, method))
        assert left == 0
        out += scores(frame, series, method, "crime types in All crime", scored)
    for method in ("bottom-up", "top-down"):
        frame, _, left = reconcile_predictions(ens, plan(series, method))
        assert left == 0
        out += scores(frame, series, method, "grouped", scored)
    return pd.DataFrame(out)


def show(table: pd.DataFrame, levels: list[str]) -> None:
    means = table.groupby(["method", "level"])[["mase", "coverage_80", "coverage_95"]].mean()
    methods = [m for m in METHODS if m in means.index.get_level_values(0)]
    print(f"{'method':10} " + " ".join(f"{lv:>30}" for lv in levels))
    for m in methods:
        cells = []
        for lv in levels:
            if (m, lv) in means.index:
                r = means.loc[(m, lv)]
                cells.append(f"{r['mase']:.3f} ({r['coverage_80']:.0%}/{r['coverage_95']:.0%})")
            else:
                cells.append("-")
        print(f"{m:10} " + " ".join(f"{c:>30}" for c in cells))


def main() -> None:
    print(conditions())
    panel = datasets.load("met-major").with_totals()
    if "--from" in sys.argv:
        predictions = read_csv(sys.argv[sys.argv.index("--from") + 1], dtype={"crime_type": str, "area": str})
    else:
        predictions = backtest()
    series = dict(panel.iter_series())
    with Clock() as clock:
        origins = sorted(predictions["origin"].unique())
        ens = filled(predictions[predictions["model"] == "ensemble"], series, origins)
        first = areas_within_totals(ens, series, origins)
        second = types_and_grouped(ens, series, origins)
    print(f"reconciliation and scoring: {clock}")
    print(f"\nMean MASE (80%/95% intervals held), last {SCORED} origins x 3 months, series of 36+ months:")
    print("\n1. areas within each crime type's force total (9 crime types x 33 areas):")
    show(first, ["area x type", "force total per type"])
    print("\n2a. crime types within each area's All crime (33 areas x 9 crime types):")
    show(second[second["structure"] == "crime types in All crime"], ["area x type", "All crime per area"])
    print("\n2b. both at once (grouped), every level:")
    show(second[second["structure"] == "grouped"],
         ["area x type", "force total per type", "All crime per area", "force All crime"])


if __name__ == "__main__":
    main()
