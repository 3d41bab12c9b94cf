"""A large tidy file through `forecast spc`: time, CPU and peak memory.

Run: python benchmarks/bench_large_input.py [COPIES] [spc,run]
Builds a tidy CSV of real series (the bundled met-minor panel, 1,179 series x 132 months, copied COPIES times
under renamed areas; 21 copies give about 3.3 million rows, 24,800 series and 190 MB), then runs
`forecast spc` over every series and `forecast run --crime personal-property` on it, each as a fresh process, and reports
wall time, CPU time and peak resident memory (the goal: under 2 GB).
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

from forecast.io import datasets
from timing import conditions, measured


def build(path: Path, copies: int) -> tuple[int, int]:
    frame = datasets.load("met-minor").frame[["month", "area", "crime_type", "count"]]
    frame = frame.astype({"month": str, "count": "int64"})
    with path.open("w", encoding="utf-8") as handle:
        handle.write("month,area,crime_type,count\n")
        for k in range(copies):
            part = frame.assign(area=frame["area"] + f" {k + 1:02d}")
            part.to_csv(handle, header=False, index=False)
    return len(frame) * copies, frame.groupby(["crime_type", "area"]).ngroups * copies


def main(copies: int = 21, only: str = "spc,run") -> None:
    print(conditions())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.csv"
        rows, series = build(path, copies)
        print(f"{path.name}: {rows:,} rows, {series:,} series, {path.stat().st_size / 1e6:.0f} MB")
        steps = [("forecast spc over every series", ("spc", "--data", str(path), "-o", str(Path(tmp) / "spc.txt"))),
                 ("forecast run --crime 'personal property' (Robbery of personal property; the global model learns "
                  "from every series)", ("run", "--data", str(path), "--crime", "personal-property", "--no-track",
                                         "--paths", "200", "--out", str(Path(tmp) / "out")))]
        for label, args in steps:
            if args[0] not in only.split(","):
                continue
            result, peak = measured(*args)
            if result.returncode:
                print(result.stderr)
                sys.exit(result.returncode)
            forecast = Path(tmp) / "out" / "summary.csv"
            done = f", {len(pd.read_csv(forecast)):,} series forecast" if args[0] == "run" else ""
            print(result.line(label) + f"; peak memory {peak:,} MB{done}")
            notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
            print(*(f"    {n}" for n in notes), sep="\n") if notes else None


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21, *sys.argv[2:3])
