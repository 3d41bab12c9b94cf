"""Cost per series of `forecast run --crime all`, with the time MLflow recording adds.

Run: python benchmarks/bench_scale.py [DATA] [--untracked-only] [--members NAMES]
     (DATA default met-major: 10 crime types with All crime, 340 series; met-minor: 1,179 series)
Each run is a fresh process in a new folder: first untracked, then recorded in a new MLflow store. Prints wall
and CPU time (worker processes included), CPU seconds per series, and the share of the tracked run's time
that recording took. To time another version of the package, put its folder first on PYTHONPATH.
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd
from timing import conditions, in_reference, run_forecast


def series_count(folder: str, data: str) -> int:
    """Series forecast: the rows of the index's summary.csv (every series of every crime type)."""
    return len(pd.read_csv(Path(folder) / "out" / data / "all" / "latest" / "summary.csv"))


def main() -> None:
    members = sys.argv[sys.argv.index("--members"):sys.argv.index("--members") + 2] if "--members" in sys.argv else []
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a not in members]
    data = args[0] if args else "met-major"
    kinds = (("untracked", ["--no-track"]),) if "--untracked-only" in sys.argv else \
        (("untracked", ["--no-track"]), ("tracked", []))
    import forecast

    print(conditions())
    print(f"package: {Path(forecast.__file__).parent}")
    timings = {}
    for label, extra in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_forecast("run", "--crime", "all", "--data", data, *extra, *members, cwd=tmp)
            if result.returncode:
                sys.exit(result.stderr[-2000:])
            n = series_count(tmp, data)
            timings[label] = result
            print(result.line(f"forecast run --crime all --data {data} {' '.join(members)}".rstrip()
                              + f", {label}, {n} series"))
            print(f"  CPU per series {result.cpu / n:.3f} s ({in_reference(result.cpu / n)}), wall per series "
                  f"{result.wall / n:.3f} s")
    if "tracked" in timings:
        extra = timings["tracked"].wall - timings["untracked"].wall
        print(f"MLflow recording: +{extra:.1f} s wall, {extra / timings['tracked'].wall:.1%} of the tracked run")


if __name__ == "__main__":
    main()
