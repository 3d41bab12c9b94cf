"""Charts and report for all areas of one crime type of the bundled data.

Run: python benchmarks/bench_report.py [CRIME]
"""

import sys
import tempfile

from forecast import datasets
from forecast.report import write_report
from forecast.run import run_forecast
from timing import Clock, conditions


def main() -> None:
    print(conditions())
    crime = sys.argv[1] if len(sys.argv) > 1 else "Robbery"
    panel = datasets.load("met-major").with_totals()
    result = run_forecast(panel, crime, n_paths=2000)
    with tempfile.TemporaryDirectory() as tmp:
        result.write(tmp)
        with Clock() as clock:
            paths = write_report(tmp, "met-major")
        size = paths["report"].stat().st_size / 1e6
    print(f"{crime}: {len(paths) - 2} series charts + small multiples + report.html ({size:.1f} MB): {clock} "
          "(charts render in worker processes, whose CPU is not counted here)")


if __name__ == "__main__":
    main()
