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


def zero_scores(frame: pd.DataFrame, predictions: pd.DataFrame, months: int, min_months: int) -> pd.Series:
    """A forecast of no crime scored like the models: on the months of one model's predictions."""
    series = {k: g.set_index("month")["count"].astype(float) for k, g in frame.groupby(["crime_type", "area"])}
    one = predictions[predictions["model"] == predictions["model"].iloc[0]]
    rows = []
    for (crime, area, origin), f in one.groupby(["crime_type", "area", "origin"]):
        y = series[(crime, area)].iloc[-months:]
        if len(y) < min_months:
            continue
        train = y[y.index <= origin].to_numpy()
        actual = f.sort_values("step")["actual"].to_numpy(dtype=float)
        zero = {c: np.zeros(len(actual)) for c in ("mean", *QUANTILES)}
        rows.append(scores(actual, zero, mase_scale(train), rmsse_scale(train)))
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
        zero = zero_scores(frame, pd.read_csv(out), months, 36 if options else 0)
        print(f"zero forecast on the same months: MASE {zero['mase']:.3f}  RMSSE {zero['rmsse']:.3f}  "
              f"SPL {zero['spl']:.3f}  80% cover {zero['coverage_80']:.1%}  95% cover {zero['coverage_95']:.1%}")


if __name__ == "__main__":
    main()
