"""A large tidy file through `forecast spc`: time, CPU and peak memory.

Run: python benchmarks/bench_large_input.py [COPIES]
Builds a tidy CSV of real series (the bundled met-minor panel, 1,179 series x 132 months, copied COPIES times
under renamed areas; 21 copies give about 3.3 million rows, 24,800 series and 190 MB), then runs
`forecast spc` over every series (table to /dev/null) as a fresh process and reports its wall time, CPU time and
peak resident memory (the goal: under 2 GB).
"""

import resource
import sys
import tempfile
from pathlib import Path

from forecast import datasets
from timing import conditions, run_forecast


def build(path: Path, copies: int) -> tuple[int, int]:
    frame = datasets.load("met-minor").frame[["month", "area", "crime_type", "count"]]
    frame = frame.astype({"month": str, "count": "int64"})
    with path.open("w", encoding="utf-8") as handle:
        handle.write("month,area,crime_type,count\n")
        for k in range(copies):
            part = frame.assign(area=frame["area"] + f" {k + 1:02d}")
            part.to_csv(handle, header=False, index=False)
    return len(frame) * copies, frame.groupby(["crime_type", "area"]).ngroups * copies


def main(copies: int = 21) -> None:
    print(conditions())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.csv"
        rows, series = build(path, copies)
        size = path.stat().st_size / 1e6
        result = run_forecast("spc", "--data", str(path), "-o", str(Path(tmp) / "spc.txt"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if result.returncode:
        print(result.stderr)
        sys.exit(result.returncode)
    print(f"{path.name}: {rows:,} rows, {series:,} series, {size:.0f} MB")
    print(result.line("forecast spc over every series") + f"; peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
