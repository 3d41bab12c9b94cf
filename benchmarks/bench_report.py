"""Charts and report for all areas of one crime type of the bundled data: `forecast report` on a run's outputs.

Run: python benchmarks/bench_report.py [CRIME]
The run's CSVs are made first (untimed); then `forecast report --out DIR` runs as a fresh process, once with the
default charts (the force total and the series that call for attention) and once with `--charts all`, and its
wall and CPU time (the chart worker processes included) are printed.
"""

import sys
import tempfile
from pathlib import Path

from forecast.io import datasets
from forecast.jobs.run import run_forecast
from forecast.present.outputs import write_run
from timing import conditions, run_forecast as timed


def main() -> None:
    print(conditions())
    crime = sys.argv[1] if len(sys.argv) > 1 else "Robbery"
    panel = datasets.load("met-major").with_totals()
    result = run_forecast(panel, crime, n_paths=2000)
    for charts in ("attention", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            write_run(result, tmp)
            report = timed("report", "--out", tmp, "--charts", charts)
            assert report.returncode == 0, report.stderr
            size = (Path(tmp) / "report.html").stat().st_size / 1e6
            drawn = len(list((Path(tmp) / "charts").glob("*.png"))) - 1
        print(report.line(f"{crime}, --charts {charts}: {drawn} series charts + small multiples + report.html "
                          f"({size:.1f} MB)"))


if __name__ == "__main__":
    main()
