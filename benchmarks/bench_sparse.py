"""Sparse real series: every Met minor-category borough series averaging under 5 crimes a month (185 series),
backtested like the main panel (last 96 months, 4 origins x 3 months, step 3, series of 36 months or more), with
the smooth families beside the intermittent ones (croston, tsb, adida), against the seasonal naive baseline and a
forecast of zero.

Prints `forecast backtest`'s table (MASE, sMAPE, 80%/95% coverage per model), then the mean absolute error in
crimes a month of every model and of the zero forecast on the same months, and wall and CPU time.

Run: python benchmarks/bench_sparse.py [MODELS]   (default: snaive,ets,theta,croston,tsb,adida)
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

from forecast import datasets
from timing import conditions, run_forecast

MAX_MEAN = 5.0


def sparse_panel(path: Path) -> int:
    frame = datasets.load("met-minor").frame
    means = frame.groupby(["crime_type", "area"])["count"].transform("mean")
    frame = frame[(means > 0) & (means < MAX_MEAN)]
    frame.assign(month=frame["month"].astype(str))[["month", "area", "crime_type", "count"]].to_csv(path, index=False)
    return frame.groupby(["crime_type", "area"]).ngroups


def main() -> None:
    models = sys.argv[1] if len(sys.argv) > 1 else "snaive,ets,theta,croston,tsb,adida"
    print(conditions())
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "met-minor-sparse.csv"
        n = sparse_panel(data)
        crimes = ",".join(sorted(pd.read_csv(data)["crime_type"].unique()))
        result = run_forecast("backtest", "--data", str(data), "--crime", crimes, "--last", "96", "--models", models,
                              "--origins", "4", "--horizon", "3", "--step", "3", "--min-months", "36",
                              "-o", "out/bench_sparse.csv", "--no-track")
    print(result.stdout)
    print(result.line(f"forecast backtest of {n} sparse series, {models}"))
    if result.returncode:
        print(result.stderr)
        sys.exit(result.returncode)
    scored = pd.read_csv("out/bench_sparse.csv")
    print("mean absolute error, crimes a month, on the same months:")
    for model, rows in scored.groupby("model"):
        print(f"  {model:<10} {(rows['actual'] - rows['mean']).abs().mean():.3f}")
    one = scored[scored["model"] == scored["model"].iloc[0]]
    print(f"  {'zero':<10} {one['actual'].abs().mean():.3f}")


if __name__ == "__main__":
    main()
