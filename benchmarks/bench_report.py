"""Charts and report for all areas of one crime type of the bundled data (the issue's 10 s budget).

Run: python benchmarks/bench_report.py [CRIME]
"""

import sys
import tempfile
import time

from forecast import datasets
from forecast.report import write_report
from forecast.run import run_forecast


def main() -> None:
    crime = sys.argv[1] if len(sys.argv) > 1 else "Robbery"
    panel = datasets.load("met-major").with_totals()
    result = run_forecast(panel, crime, n_paths=2000)
    with tempfile.TemporaryDirectory() as tmp:
        result.write(tmp)
        start = time.perf_counter()
        paths = write_report(tmp, "met-major")
        elapsed = time.perf_counter() - start
        size = paths["report"].stat().st_size / 1e6
    print(f"{crime}: {len(paths) - 2} series charts + small multiples + report.html ({size:.1f} MB) "
          f"in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
