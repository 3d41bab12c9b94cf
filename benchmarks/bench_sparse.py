"""Sparse real series, two panels, backtested like the main panel (4 origins x 3 months, step 3):

- met-minor: every Met minor-category borough series averaging under 5 crimes a month (185 series; the last 96
  months; series of 36 months or more are scored);
- city-lsoa: the City of London street files counted per LSOA (the bundled city-of-london-lsoa), every series
  averaging under 5 crimes a month with crime in at least 12 of its 60 months (the neighbourhood series anyone
  would plan for; the other 300-odd have a crime or two in five years).

Each model (default: the seasonal naive, the smooth families, the ensemble that ``run`` uses for ordinary
series, the intermittent families, and ``sparse``, the default for these series) is scored by MASE, RMSSE, the
scaled pinball loss of its four interval bounds (SPL) and 80%/95% coverage, beside a forecast of zero crime
(scored here on the same months, scales and bounds of 0). MASE is an absolute error, least for the median, and on
a series with crime in fewer than half its months the median is 0: read it beside RMSSE, least for the mean.

Run: python benchmarks/bench_sparse.py [PANEL ...]   (default: met-minor city-lsoa)
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.io import datasets
from forecast.engine.backtest import QUANTILES, mase_scale, rmsse_scale, scores
from timing import conditions, run_forecast

MAX_MEAN = 5.0
MODELS = os.environ.get("MODELS", "snaive,ets,theta,global,ensemble,croston,tsb,adida,sparse")
PANELS = {
    # name: (bundled data, months kept, fewest months with crime, backtest options)
    "met-minor": ("met-minor", 96, 0, ["--last", "96", "--min-months", "36"]),
    "city-lsoa": ("city-of-london-lsoa", 60, 12, []),
}


def sparse_panel(name: str, path: Path) -> pd.DataFrame:
    bundled, _, fewest, _ = PANELS[name]
    frame = datasets.load(bundled).frame
    by = frame.groupby(["crime_type", "area"])["count"]
    means, active = by.transform("mean"), by.transform(lambda s: int((s > 0).sum()))
    frame = frame[(means > 0) & (means < MAX_MEAN) & (active >= fewest)]
    frame = frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]]
    frame.to_csv(path, index=False)
    return frame


def recomputed(frame: pd.DataFrame, predictions: pd.DataFrame, months: int, min_months: int,
               model: str | None = None) -> pd.Series:
    """Mean scores over the (series, origin) pairs of the backtest, recomputed here: of ``model``'s predictions, or
    (None) of a forecast of no crime on the same months, scales and bounds of 0. Each series is cut to the
    backtest's window (``--last``: the panel's last ``months`` calendar months, not each series' last rows), so
    that the scales are the models' own; the seasonal naive recomputed this way matches the backtest's table."""
    last = pd.Period(frame["month"].max(), "M")
    series = {k: pd.Series(g["count"].to_numpy(dtype=float), pd.PeriodIndex(g["month"], freq="M")).sort_index()
              for k, g in frame.groupby(["crime_type", "area"])}
    one = predictions[predictions["model"] == (model or predictions["model"].iloc[0])]
    rows = []
    for (crime, area, origin), f in one.groupby(["crime_type", "area", "origin"]):
        y = series[(crime, area)]
        y = y[y.index > last - months] if months else y
        if len(y) < min_months:
            continue
        train = y[y.index <= pd.Period(origin, "M")].to_numpy()
        f = f.sort_values("step")
        actual = f["actual"].to_numpy(dtype=float)
        bounds = {c: (f[c].to_numpy(dtype=float) if model else np.zeros(len(actual))) for c in ("mean", *QUANTILES)}
        rows.append(scores(actual, bounds, mase_scale(train), rmsse_scale(train)))
    return pd.DataFrame(rows).mean()


def main() -> None:
    names = sys.argv[1:] or list(PANELS)
    print(conditions())
    for name in names:
        _, months, _, options = PANELS[name]
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / f"{name}-sparse.csv"
            frame = sparse_panel(name, data)
            n = frame.groupby(["crime_type", "area"]).ngroups
            crimes = ",".join(sorted(frame["crime_type"].unique()))
            out = f"out/bench_sparse_{name}.csv"
            result = run_forecast("backtest", "--data", str(data), "--crime", crimes, *options, "--models", MODELS,
                                  "--origins", "4", "--horizon", "3", "--step", "3", "-o", out, "--no-track")
        print(f"\n== {name}: {n} series under {MAX_MEAN:g} crimes a month ==")
        print(result.stdout)
        print(result.line(f"forecast backtest of {n} sparse series, {MODELS}"))
        if result.returncode:
            print(result.stderr)
            sys.exit(result.returncode)
        predictions = pd.read_csv(out)
        for label, model in (("seasonal naive, recomputed here (to check the pairs and scales)", "snaive"),
                             ("zero forecast on the same months", None)):
            r = recomputed(frame, predictions, months, 36 if options else 0, model)
            print(f"{label}: MASE {r['mase']:.3f}  RMSSE {r['rmsse']:.3f}  SPL {r['spl']:.3f}  "
                  f"80% cover {r['coverage_80']:.1%}  95% cover {r['coverage_95']:.1%}")


if __name__ == "__main__":
    main()
