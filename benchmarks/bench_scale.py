"""Cost per series of `forecast run --crime all`: the baseline a cheaper pipeline is measured against.

Run: python benchmarks/bench_scale.py [DATA]   (default met-major: 10 crime types with All crime, 340 series)
Each run is a fresh process in a new folder: first untracked, then recorded in a new MLflow store. Prints wall
and CPU time (worker processes included), CPU seconds per series, and the share of the tracked run's time
that recording took.
"""

import sys
import tempfile

from timing import conditions, run_forecast


def series_count(stdout: str) -> int:
    """Series forecast: the sum of the "wrote N series charts" lines, one per crime type."""
    total = 0
    for line in stdout.splitlines():
        if line.startswith("wrote ") and " series chart" in line:
            total += int(line.split()[1])
    return total


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else "met-major"
    print(conditions())
    timings = {}
    for label, extra in (("untracked", ["--no-track"]), ("tracked", [])):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_forecast("run", "--crime", "all", "--data", data, *extra, cwd=tmp)
            if result.returncode:
                sys.exit(result.stderr[-2000:])
            n = series_count(result.stdout)
            timings[label] = result
            print(result.line(f"forecast run --crime all --data {data}, {label}, {n} series"))
            print(f"  CPU per series {result.cpu / n:.2f} s, wall per series {result.wall / n:.3f} s")
    extra = timings["tracked"].wall - timings["untracked"].wall
    print(f"MLflow recording: +{extra:.1f} s wall, {extra / timings['tracked'].wall:.1%} of the tracked run")


if __name__ == "__main__":
    main()
