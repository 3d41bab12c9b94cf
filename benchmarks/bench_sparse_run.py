"""`forecast run --crime all` end to end on N synthetic neighbourhood (LSOA-like) series: the figure issue 43's
sparse target is set in (at most 10 ms of CPU a series).

The panel is bench_sparse_scale's: each series has the mean and dispersion of a real City of London LSOA series
drawn at random and 60 months of counts, 14 crime types x N/14 areas. It is written to a CSV and run as a planner
would run it, in a fresh process (`python -m forecast run --data FILE --crime all --no-track`), in a temporary
folder. `run` adds each crime type's force total and each area's All crime, so the run forecasts more series
than N; most are sparse (count models), the totals are not (the ensemble).

Prints wall and CPU (every process), CPU a series of the run, how many series each model forecast, how many charts
it drew and how many series call for attention, and the peak memory of the run's largest process. With `--workers
K` the same run sends its fits to a local Dask cluster of K worker processes (`forecast run --workers K`, the path a
cluster's scheduler takes with `--scheduler`); its workers are this run's child processes, so their CPU is counted.

Run: python benchmarks/bench_sparse_run.py [N] [--workers K] [--members NAMES]   (default 5000, the local process
     pool, the ensemble's default members)
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd
from bench_sparse_scale import synthetic_panel
from forecast.present.report import MAX_CHARTS, calls_for_attention
from timing import conditions, in_reference, measured


def main() -> None:
    args = sys.argv[1:]
    workers = args[args.index("--workers") + 1] if "--workers" in args else None
    members = args[args.index("--members"):args.index("--members") + 2] if "--members" in args else []
    numbers = [a for a in args if a.isdigit() and a != workers]
    n = int(numbers[0]) if numbers else 5000
    import forecast

    print(conditions())
    print(f"package: {Path(forecast.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        frame = synthetic_panel(n).frame.assign(month=lambda f: f["month"].astype(str))
        data = Path(tmp) / "lsoa.csv"
        frame.to_csv(data, index=False)
        result, peak = measured("run", "--crime", "all", "--data", str(data), "--no-track",
                                *(["--workers", workers] if workers else []), *members, cwd=tmp)
        if result.returncode:
            sys.exit(result.stderr[-2000:])
        summary = pd.read_csv(Path(tmp) / "out" / "lsoa" / "all" / "latest" / "summary.csv")
        charted = len(list((Path(tmp) / "out" / "lsoa").glob("*/latest/charts/*.png")))
    runs = len(summary)
    where = f"a local Dask cluster of {workers} workers" if workers else "the local process pool"
    print(result.line(f"forecast run --crime all {' '.join(members)}".rstrip() + f", {n} synthetic LSOA series "
                      f"({runs} with the totals run adds), on {where}"))
    print(f"  CPU a series {result.cpu / runs * 1000:.1f} ms ({in_reference(result.cpu / runs)}), wall a series "
          f"{result.wall / runs * 1000:.1f} ms")
    print(f"  forecast with: {summary['model'].value_counts().to_dict()}")
    calls = calls_for_attention(summary).sum()
    types = summary["crime_type"].nunique()
    print(f"  charts: {charted:,} ({types} pages of small multiples, the rest series charts); {calls:,} series call "
          f"for attention ({calls / runs:.1%}), at most {MAX_CHARTS} a crime type charted besides its force total")
    print(f"  peak memory of the largest process (the run's own, or a worker): {peak:,} MB")


if __name__ == "__main__":
    main()
